"""Home: one real torch.optim trajectory on Rosenbrock, with an optimizer picker, and a map of the lessons."""
import streamlit as st

from optviz.core.config import ConfigError, parse_config
from optviz.core.optimizers import OPTIMIZERS
from optviz.ui import explorer_view as view
from optviz.ui import present
from optviz.ui.routing import inside_navigation
from optviz.ui.runner import cached_run, surface
from optviz.ui.urlstate import read_config, write_config
from optviz.ui.widgets import optimizer_select, param_widget

inside_navigation()
present.start()

KEY = "home"
DEFAULT = parse_config({"problem": {"surface": "rosenbrock", "start": [-1.5, 2.0]},
                        "optimizer": {"name": "Adam", "options": {"lr": 0.05}}, "steps": 1000})
ADAM_LIKE = ("Adam", "AdamW", "Adamax", "NAdam", "RAdam")


def home_start(name: str) -> dict:
    """Where the picker starts an optimizer: torch's defaults, except lr 0.05 for Adam's family and SGD with momentum 0.9
    (torch's lr 0.001 and momentum 0 barely leave the start in a few hundred steps on Rosenbrock)."""
    options = OPTIMIZERS[name].defaults()
    if name in ADAM_LIKE:
        options["lr"] = 0.05
    if name == "SGD":
        options["momentum"] = 0.9
    return options


st.title("optviz — see torch.optim work")
present.intro(
    "Every path below is computed by **real `torch.optim`** — the same optimizers and lr schedulers you train with — "
    "stepping a point `(x, y)` downhill on a 2-D loss surface. Pick an optimizer and watch where it goes."
)

linked, warning = read_config(DEFAULT, carry=("optimizer",))
if warning:
    st.warning(view.md(warning), icon=":material/link_off:")
elif linked.problem != DEFAULT.problem or linked.scheduler is not None:
    st.warning("Home always runs Rosenbrock from (−1.5, 2) without a scheduler; this link's other settings are not shown "
               "here. Open the Trajectory Explorer for every setting.", icon=":material/link_off:")

left, right = st.columns([1, 3])
with left:
    name = optimizer_select(linked.optimizer.name, key=f"{KEY}.optimizer")
    spec = OPTIMIZERS[name]
    same = name == linked.optimizer.name
    start = dict(linked.optimizer.options) if same else home_start(name)
    options = dict(start)
    options["lr"] = param_widget(spec.param("lr"), start["lr"], key=f"{KEY}.{name}.lr")
    if "momentum" in spec.names:
        options["momentum"] = param_widget(spec.param("momentum"), start["momentum"], key=f"{KEY}.{name}.momentum")
        if name == "SGD":
            st.caption("torch.optim.SGD's own default is momentum 0; Home starts it at 0.9 so the path reaches the valley. "
                       "Set 0 for plain gradient descent.")
    steps = st.slider("steps", min(10, linked.steps), max(2000, linked.steps), linked.steps, step=10, key=f"{KEY}.steps")
    st.caption(spec.summary)
    if spec.note:
        st.caption(spec.note)
    groups = linked.optimizer.groups if same else None
    others = [f"{k}={v}" for k, v in options.items() if k not in ("lr", "momentum") and v != spec.defaults().get(k)]
    if others or groups:
        st.caption("Also set (by a link or another page): " + ", ".join(others + (["separate x / y groups"] if groups else []))
                   + ". The Trajectory Explorer shows every option.")

try:
    config = parse_config({"problem": DEFAULT.to_dict()["problem"],
                           "optimizer": {"name": name, "options": options, "groups": groups}, "steps": steps})
except ConfigError as e:
    st.error(f"These settings can't run — **{view.md(e.field or 'settings')}**: {view.md(e.message)}", icon=":material/block:")
    st.stop()
write_config(config, DEFAULT)

trace = cached_run(config)
surf = surface(config)
with right:
    if trace.diverged_at is not None:
        st.warning(f"⚠️ {trace.message}. The plot shows the path up to there.")
    st.plotly_chart(present.fit(view.contour_figure(config.key(), 0), notes=bool(warning) + (trace.diverged_at is not None)), width="stretch",
                    key="home.contour", theme=None)
    st.caption(f"{trace.message}. Start ○ at (−1.5, 2); the minimum ★ is at (1, 1). {surf.watch}")

st.plotly_chart(view.single_figure("loss", config.key()), width="stretch", key="home.loss", theme=None)

st.subheader("Lessons")
st.markdown(
    "- **Trajectory Explorer** — one optimizer from the inside: its momentum buffer, Adam's moments, "
    "the lr of each parameter group, a scheduler.\n"
    "- **Optimizer Race** — several optimizers on one surface, with a stated tuning protocol.\n"
    "- **Optimizer Zoo** and **Gallery** — beyond torch.optim: Lion, Prodigy, Adan, MADGRAD, SOAP, … from the "
    "pytorch-optimizer package next to torch's, each at an lr tuned by a stated protocol, gradients never clipped.\n"
    "- **Inside `optimizer.step()`** — SGD's and Adam's step line by line, checked against torch; "
    "LBFGS's `step(closure)`.\n"
    "- **Scheduler Lab** and **Pitfalls Lab** — every lr scheduler, per-batch vs per-epoch stepping, the classic mistakes.\n"
    "- **Small Nets**, **Quadratic Lab**, **Sweeps & Basins** — a tiny MLP with per-group optimizers; "
    "momentum theory over real runs; maps over hyperparameters and start points.\n"
    "- **Invariance Lab** — turn a quadratic bowl: SGD's path turns with it, Adam's and Lion's change shape.\n\n"
    "Every page keeps its settings in the URL: copy the address bar to share exactly what you see."
)
