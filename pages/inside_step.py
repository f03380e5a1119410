"""Inside optimizer.step(): the seed's loop one step at a time, every line of step() with its numbers, checked against torch."""
import numpy as np
import streamlit as st

from optviz.core.config import Config, ConfigError, parse_config
from optviz.core.optimizers import OPTIMIZERS
from optviz.core.surfaces import SURFACES, get_surface
from optviz.figures.lessons import code_html, step_figure
from optviz.lessons.inside import LESSON_OPTIMIZERS, LOOK_FOR, PHASES, TOLERANCE, fmt, loop_lines, state_rows, step_listing, walkthrough
from optviz.ui import present
from optviz.ui.routing import inside_navigation
from optviz.ui.runner import surface
from optviz.ui.urlstate import sticky
from optviz.ui.widgets import options_widgets, param_widget

inside_navigation()
present.start()

st.title("Inside `optimizer.step()`")
present.intro(
    "`optimizer.step()` reads the `.grad` that `backward()` left on each parameter and moves the parameter using its "
    "group's options, keeping what it needs in `optimizer.state`. Step through a real `torch.optim` run: each line "
    "of the algorithm is shown with **this step's numbers**, and checked against torch's own state.")

QUADRATIC = {"eigenvalues": [1, 10], "angle": 0}
# the seed's example: the default lr 1e-2 for one group, its own lr 1e-3 for the other, momentum 0.9 for both
DEFAULT = parse_config({"problem": {"surface": "quadratic", "options": QUADRATIC, "start": [-2.5, 2.0]},
                        "optimizer": {"name": "SGD", "options": {"lr": 1e-2, "momentum": 0.9},
                                      "groups": {"x": {}, "y": {"lr": 1e-3}}}, "steps": 60})
PHASE_TEXT = {"zero_grad": "1 · zero_grad()", "forward": "2 · forward", "backward": "3 · backward()", "step": "4 · step()"}


@st.cache_data(max_entries=64, show_spinner=False)
def cached_walkthrough(key: str):
    return walkthrough(Config.from_json(key))


# the URL holds the whole config (a diff against DEFAULT cannot say "no groups" or "no surface options")
config = DEFAULT
if text := st.query_params.get("cfg"):
    try:
        config = Config.from_json(text[:4000])
    except ConfigError as e:
        st.warning(f"The link's settings were not valid ({e}); showing the defaults instead.")

with st.sidebar:
    st.header("The run")
    current = config.optimizer.name if config.optimizer.name in LESSON_OPTIMIZERS else "SGD"
    name = st.selectbox("optimizer", LESSON_OPTIMIZERS, index=LESSON_OPTIMIZERS.index(current), key="inside.optimizer")
    spec = OPTIMIZERS[name]
    same = name == config.optimizer.name
    options = options_widgets(spec.params, dict(config.optimizer.options) if same else spec.defaults(), key=f"inside.{name}")
    groups = None
    if spec.groups_ok:
        two = st.checkbox("two parameter groups, x and y", value=config.optimizer.groups is not None or not same,
                          key="inside.groups", help="The seed's per-group options: y gets its own lr, x uses the default.")
        if two:
            lr_y = (config.optimizer.groups or {}).get("y", {}).get("lr", options["lr"] / 10) if same else options["lr"] / 10
            lr_y = param_widget(spec.param("lr"), lr_y, key=f"inside.{name}.lr_y", label="lr of group y")
            groups = {"x": {}, "y": {"lr": lr_y}}
    else:
        st.caption(spec.note)
    keys = list(SURFACES)
    surf = st.selectbox("surface", keys, index=keys.index(config.problem.surface) if config.problem.surface in keys else 0,
                        format_func=lambda k: get_surface(k, **QUADRATIC).label if k == "quadratic" else SURFACES[k].label,
                        key="inside.surface")
    steps = st.slider("steps", 5, 200, config.steps, key="inside.steps")

problem = {"surface": surf, "options": QUADRATIC if surf == "quadratic" else {},
           "start": list(config.problem.start) if surf == config.problem.surface and config.problem.start else None}
try:
    config = parse_config({"problem": problem, "optimizer": {"name": name, "options": options, "groups": groups}, "steps": steps})
    walk = cached_walkthrough(config.key())
except ConfigError as e:
    st.error(f"These settings can't run: {e}")
    st.stop()
n = len(walk.steps)
if n == 0:
    st.error(walk.message)
    st.stop()

# -- where we are: buttons and slider share st.session_state["inside.step"]; the URL keeps ?step= ----------------
if "inside.step" not in st.session_state:
    raw = st.query_params.get("step", "1")
    st.session_state["inside.step"] = int(raw) if raw.isdigit() else 1
elif st.session_state.get("inside.shown") not in (None, name):     # another optimizer: its walk starts at step 1
    st.session_state["inside.step"] = 1
st.session_state["inside.shown"] = name
st.session_state["inside.step"] = min(max(st.session_state["inside.step"], 1), n)


def move(to: int) -> None:
    st.session_state["inside.step"] = min(max(to, 1), n)


here = st.session_state["inside.step"]
nav = st.columns([1, 1, 1, 1, 6], vertical_alignment="center")
nav[0].button("« first", on_click=move, args=(1,), width="stretch", key="inside.first")
nav[1].button("‹ back", on_click=move, args=(here - 1,), width="stretch", key="inside.back")
nav[2].button("next ›", on_click=move, args=(here + 1,), width="stretch", key="inside.next")
nav[3].button("last »", on_click=move, args=(n,), width="stretch", key="inside.last")
t = nav[4].slider("step", 1, n, key="inside.step") if n > 1 else 1
url_phase = st.query_params.get("phase")
phase = st.segmented_control("phase of the loop", PHASES, default=url_phase if url_phase in PHASES else "step",
                             format_func=PHASE_TEXT.get, key="inside.phase") or "step"
want = sticky({"cfg": config.to_json(), "step": str(t), "phase": phase})
if {k: st.query_params.get(k) for k in want} != want:
    st.query_params.from_dict(want)
check = walk.steps[t - 1]
if "stopped" in walk.message or "diverged" in walk.message:
    st.warning(f"{walk.message}. The steps up to there are shown.")

# -- the loop, highlighted at the phase, and where this step went ---------------------------------------------------
left, right = st.columns([5, 6])
with left:
    lines = loop_lines(name)
    st.html(code_html([c for c, _ in lines], {i for i, (_, p) in enumerate(lines) if p == phase}))
    before = " and ".join(f"{g.group} = {fmt(g.before)}" for g in check.groups)
    grads = " and ".join(f"{g.group}.grad = {fmt(g.grad)}" for g in check.groups if g.grad)
    prev = walk.steps[t - 2].groups if t > 1 else ()
    old = " and ".join(f"{g.group}.grad = {fmt(g.grad)}" for g in prev if g.grad) or "None"
    st.info({
        "zero_grad": f"**Step {t} · `zero_grad()`** — before it: {old}. After it: `.grad` is `None`. Without this line the "
                     "next `backward()` would *add* to the old gradient.",
        "forward": f"**Step {t} · forward** — at {before} the loss is **{check.loss:.6g}**. Nothing has a gradient yet.",
        "backward": f"**Step {t} · `backward()`** — autograd fills the gradients: {grads or 'inside each closure call'}. "
                    "`step()` reads exactly these numbers.",
        "step": f"**Step {t} · `step()`** — " + (f"LBFGS called the closure **{check.evaluations}** time{'s' * (check.evaluations != 1)} in this one step."
                                                  if name == "LBFGS" else "each group moves with its own options (below)."),
    }[phase])
with right:
    probes = np.array(check.probes, dtype=np.float64).reshape(-1, 2) if name == "LBFGS" else None
    st.plotly_chart(present.fit(step_figure(surface(config), walk.positions, t, spec.colour, probes), above=180,
                                notes="stopped" in walk.message or "diverged" in walk.message), width="stretch",
                    key="inside.contour", theme=None)

# -- step() line by line, next to torch's optimizer.state ----------------------------------------------------------
if name == "LBFGS":
    st.subheader(f"`step(closure)`: {check.evaluations} closure call{'s' * (check.evaluations != 1)} inside step {t}")
    st.markdown(
        "LBFGS evaluates the loss and gradient **several times inside one `step()`** (its inner iterations), so it takes a "
        "closure it can call again. Each call must **zero the grads** (otherwise the new gradient is added to the last "
        "one), **recompute the loss** at the point LBFGS has moved to, **call `backward()`** so `.grad` holds that point's "
        "gradient, and **return the loss**, which LBFGS compares between calls. The orange points are those calls, numbered.")
    st.dataframe([{"call": i + 1, "x": p[0], "y": p[1]} for i, p in enumerate(check.probes)], hide_index=True, height=240)
    st.dataframe(state_rows(check.groups[0]), hide_index=True)
    st.caption(f"{int(sum(s.evaluations for s in walk.steps))} closure calls in {n} steps: many in the first steps, one per step "
               "once it has converged.")
else:
    agree = check.agree
    if agree:
        st.success(f"✓ Step {t}: the lines below give torch's numbers — largest relative difference {check.max_diff:.1e} "
                   f"(tolerance {TOLERANCE:.0e}). Over all {n} steps: {walk.max_diff:.1e}.")
    else:
        st.error(f"✗ Step {t}: the re-implementation and torch differ by {check.max_diff:.1e}.")
    for g in check.groups:
        code_col, state_col = st.columns([3, 2])
        code_col.code(step_listing(g, name), language="python")
        state_col.markdown(f"**torch's `optimizer.state` after step {t}**, group `{g.group}`")
        state_col.dataframe(state_rows(g), hide_index=True)

st.markdown(f"**What to look for.** {LOOK_FOR[name]}")
