"""Home: one real torch.optim trajectory on Rosenbrock, with an optimizer picker, and a map of the lessons."""
import streamlit as st

from optviz.config import ConfigError, parse_config
from optviz.optimizers import OPTIMIZERS
from optviz.ui import explorer_view as view
from optviz.ui.routing import inside_navigation
from optviz.ui.runner import cached_run, surface
from optviz.ui.widgets import optimizer_select, param_widget

inside_navigation()

st.title("optviz — see torch.optim work")
st.markdown(
    "Every path below is computed by **real `torch.optim`** — the same optimizers and lr schedulers you train with — "
    "stepping a point `(x, y)` downhill on a 2-D loss surface. Pick an optimizer and watch where it goes."
)

left, right = st.columns([1, 3])
with left:
    name = optimizer_select("Adam", key="home.optimizer")
    spec = OPTIMIZERS[name]
    adam_like = name in ("Adam", "AdamW", "Adamax", "NAdam", "RAdam")
    lr = param_widget(spec.param("lr"), 0.05 if adam_like else spec.param("lr").initial, key=f"home.{name}.lr")
    steps = st.slider("steps", 10, 2000, 1000, step=10, key="home.steps")
    st.caption(spec.summary)
    if spec.note:
        st.caption(spec.note)

try:
    options = {"lr": lr}
    if name == "SGD":
        options["momentum"] = 0.9
    config = parse_config({"problem": {"surface": "rosenbrock", "start": [-1.5, 2.0]},
                           "optimizer": {"name": name, "options": options}, "steps": steps})
except ConfigError as e:
    st.error(f"These settings can't run: {e}")
    st.stop()

trace = cached_run(config)
surf = surface(config)
with right:
    if trace.diverged_at is not None:
        st.warning(f"⚠️ {trace.message}. The plot shows the path up to there.")
    st.plotly_chart(view.contour_figure(config.key(), 0), width="stretch", key="home.contour", theme=None)
    st.caption(f"{trace.message}. Start ○ at (−1.5, 2); the minimum ★ is at (1, 1). {surf.watch}")

st.plotly_chart(view.single_figure("loss", config.key()), width="stretch", key="home.loss", theme=None)

st.subheader("Lessons")
st.markdown(
    "- **Trajectory Explorer** — one optimizer from the inside: its momentum buffer, Adam's moments, "
    "the lr of each parameter group, a scheduler.\n"
    "- **Optimizer Race** — several optimizers on one surface, with a stated tuning protocol.\n"
    "- **Inside `optimizer.step()`** — SGD's and Adam's step line by line, checked against torch; "
    "LBFGS's `step(closure)`.\n"
    "- **Scheduler Lab** and **Pitfalls Lab** — every lr scheduler, per-batch vs per-epoch stepping, the classic mistakes.\n"
    "- **Small Nets**, **Quadratic Lab**, **Sweeps & Basins** — a tiny MLP with per-group optimizers; "
    "momentum theory over real runs; maps over hyperparameters and start points.\n\n"
    "Every page keeps its settings in the URL: copy the address bar to share exactly what you see."
)
