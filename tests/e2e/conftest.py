"""One Streamlit server and one headless Chromium for the whole browser-test session."""
from __future__ import annotations

import ast
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from .browser import new_tab

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("OPTVIZ_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1440, "height": 1000}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _unavailable(reason: str):
    """Without a browser the tests cannot run: a failure in CI (which installs chromium), a skip elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def app_pages() -> list[tuple[str, str]]:
    """(file, url path) of every lesson in app.py's PAGES whose file exists, read without running app.py."""
    tree = ast.parse((ROOT / "app.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "PAGES" for t in node.targets):
            rows = ast.literal_eval(node.value)
            break
    else:
        raise AssertionError("app.py has no PAGES table")
    # st.Page infers the url path from the file name; the default page is served at the root
    return [(f, "" if f == "home.py" else Path(f).stem) for f, *_rest in rows if (ROOT / "pages" / f).exists()]


def preset_links() -> list[tuple[str, str]]:
    """(name, url path with query) of every lesson preset, once optviz.lessons.presets exists."""
    try:
        from optviz.lessons import presets
    except ImportError:
        return []
    out = []
    for name, preset in _preset_items(presets):
        link = _link_of(preset)
        if link is not None:
            out.append((str(name), link.lstrip("/")))
    return out


def _preset_items(module):
    table = getattr(module, "PRESETS", None)
    if isinstance(table, dict):
        return list(table.items())
    if isinstance(table, (list, tuple)):
        return [(getattr(p, "key", None) or getattr(p, "name", None) or str(i), p) for i, p in enumerate(table)]
    return []


def _link_of(preset) -> str | None:
    for attr in ("url", "link", "href", "path"):
        v = getattr(preset, attr, None)
        v = v() if callable(v) else v
        if isinstance(v, str) and v:
            return v.split("://", 1)[-1].split("/", 1)[-1] if "://" in v else v
    return None


@pytest.fixture(scope="session")
def server() -> str:
    """The app on a fresh Streamlit server (or, to iterate on the tests, the one at OPTVIZ_E2E_URL)."""
    if os.environ.get("OPTVIZ_E2E_URL"):
        yield os.environ["OPTVIZ_E2E_URL"].rstrip("/")
        return
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    log = open(ROOT / ".pytest_cache" / "e2e-server.log", "w") if (ROOT / ".pytest_cache").is_dir() else subprocess.DEVNULL
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if urllib.request.urlopen(base + "/_stcore/health", timeout=2).read().strip() == b"ok":
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"streamlit did not start (exit code {proc.poll()})")
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log is not subprocess.DEVNULL:
            log.close()


@pytest.fixture(scope="session")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -r requirements-dev.txt)")
    if not Path(CHROMIUM).exists():
        _unavailable(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="session")
def page(browser, server):
    """The one tab every test reuses (a new page per test would cost a new session and a new script run)."""
    with new_tab(browser, VIEWPORT, 30_000) as pg:
        yield pg


@pytest.fixture(scope="session")
def shots(tmp_path_factory) -> Path:
    out = Path(os.environ.get("OPTVIZ_E2E_SHOTS") or tmp_path_factory.mktemp("e2e-shots"))
    out.mkdir(parents=True, exist_ok=True)
    return out
