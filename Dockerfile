# optviz: one Streamlit process per container. Scale out with several containers behind a proxy
# with sticky sessions (see deploy/nginx.conf); a Streamlit session lives in exactly one process.
FROM python:3.11-slim

# One thread per process: the runs are many tiny torch ops, where extra threads only add contention,
# and a classroom of sessions shares the machine's cores.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    OMP_NUM_THREADS=1 \
    MKL_NUM_THREADS=1 \
    OPENBLAS_NUM_THREADS=1 \
    STREAMLIT_SERVER_HEADLESS=true \
    STREAMLIT_SERVER_PORT=8501 \
    STREAMLIT_SERVER_ADDRESS=0.0.0.0 \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false \
    STREAMLIT_SERVER_FILE_WATCHER_TYPE=none \
    STREAMLIT_CLIENT_SHOW_ERROR_DETAILS=none \
    STREAMLIT_CLIENT_TOOLBAR_MODE=viewer

# CPU-only torch from PyTorch's CPU wheel index: the default Linux wheel pulls in the CUDA
# libraries (several GB) that this app never uses.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

WORKDIR /app
COPY requirements.txt .
# torch is already satisfied by the CPU build above (2.13.0+cpu matches ==2.13.0).
RUN pip install -r requirements.txt

RUN useradd --create-home --shell /usr/sbin/nologin --uid 10001 optviz
COPY --chown=optviz:optviz app.py pyproject.toml ./
COPY --chown=optviz:optviz .streamlit ./.streamlit
COPY --chown=optviz:optviz optviz ./optviz
COPY --chown=optviz:optviz pages ./pages
USER optviz

EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"]

CMD ["python", "-m", "streamlit", "run", "app.py"]
