"""Quadratic Lab: heavy-ball momentum theory drawn over real torch.optim.SGD runs on a quadratic."""
import streamlit as st

from optviz.core.config import ConfigError, parse_config
from optviz.core.surfaces import SURFACES
from optviz.lessons.theory import best_gd, best_momentum, local_quadratic
from optviz.ui import present, theory_view
from optviz.ui.routing import inside_navigation
from optviz.ui.runner import cached_run
from optviz.ui.urlstate import read_config, write_config

inside_navigation()
present.start()

K = "ql"
DEFAULT = parse_config({"problem": {"surface": "quadratic", "options": {"eigenvalues": [1.0, 10.0], "angle": 30.0,
                                                                        "center": [0.0, 0.0]}, "start": [-2.5, 2.0]},
                        "optimizer": {"name": "SGD", "options": {"lr": 0.1, "momentum": 0.5}}, "steps": 200})
FIELDS = ("l1", "l2", "angle", "cx", "cy", "sx", "sy", "alpha", "beta", "steps")

st.title("Quadratic Lab")
present.intro(
    "On a quadratic ½(w − c)ᵀA(w − c), `torch.optim.SGD(lr=α, momentum=β)` acts on each eigen-direction of A separately, "
    "as a 2 × 2 linear map whose largest eigenvalue |σ| is the convergence rate. Pick α and β, and compare what the "
    "theory predicts with what **torch's own run** does.")


def _state_from(config) -> dict:
    o = {"eigenvalues": (1.0, 10.0), "angle": 30.0, "center": (0.0, 0.0), **config.problem.options}
    (l1, l2), (cx, cy), (sx, sy) = o["eigenvalues"], o["center"], config.problem.start
    return {"l1": l1, "l2": l2, "angle": o["angle"], "cx": cx, "cy": cy, "sx": sx, "sy": sy,
            "alpha": config.optimizer.options["lr"], "beta": config.optimizer.options["momentum"], "steps": config.steps}


def _set(**values) -> None:
    for k, v in values.items():
        st.session_state[f"{K}.{k}"] = float(v) if k != "steps" else int(v)


def _fits(config) -> bool:
    """The link is a bowl and an SGD setting within this lab's controls."""
    if config.problem.surface != "quadratic" or config.optimizer.name != "SGD" or config.problem.start is None:
        return False
    s = _state_from(config)
    return (all(1e-6 <= s[k] <= 1e6 for k in ("l1", "l2")) and -90 <= s["angle"] <= 90 and 1e-8 <= s["alpha"] <= 1e7
            and 0 <= s["beta"] <= 0.999999 and 10 <= s["steps"] <= 2000)


config, warning = read_config(DEFAULT)
if not _fits(config):
    config, warning = DEFAULT, "This link is not a bowl-shaped quadratic with SGD within this lab's ranges; showing the defaults."
if f"{K}.alpha" not in st.session_state:      # the first run, or back from another page (which drops widget state)
    _set(**_state_from(config))
if warning:
    st.warning(warning, icon="⚠️")


def _jump(best: bool) -> None:
    l1, l2 = sorted((st.session_state[f"{K}.l1"], st.session_state[f"{K}.l2"]))
    try:
        o = best_momentum(l1, l2) if best else best_gd(l1, l2)
        _set(alpha=o.alpha, beta=o.beta)
    except ValueError as e:
        st.session_state[f"{K}.note"] = str(e)


def _load() -> None:
    s = st.session_state
    try:
        src = s[f"{K}.src"]
        lq = local_quadratic(SURFACES[src], (s[f"{K}.px.{src}"], s[f"{K}.py.{src}"]))
        if not lq.is_bowl:
            raise ValueError(f"its Hessian has a negative eigenvalue ({lq.eigenvalues[0]:.3g}): a saddle, not a bowl")
        if not 1e-6 <= lq.eigenvalues[0] <= lq.eigenvalues[1] <= 1e6:
            raise ValueError(f"its eigenvalues ({lq.eigenvalues[0]:.3g}, {lq.eigenvalues[1]:.3g}) are outside 1e-6 … 1e6")
    except ValueError as e:
        s[f"{K}.note"] = f"Can't load that point: {e}"
        return
    offset = (s[f"{K}.sx"] - s[f"{K}.cx"], s[f"{K}.sy"] - s[f"{K}.cy"])
    o = best_momentum(*lq.eigenvalues)
    _set(l1=lq.eigenvalues[0], l2=lq.eigenvalues[1], angle=lq.angle, cx=lq.center[0], cy=lq.center[1],
         sx=lq.center[0] + offset[0], sy=lq.center[1] + offset[1], alpha=o.alpha, beta=o.beta)
    s[f"{K}.note"] = (f"Loaded the Hessian of {SURFACES[s[f'{K}.src']].label} at ({lq.point[0]:g}, {lq.point[1]:g}): "
                      f"λ = {lq.eigenvalues[0]:.4g}, {lq.eigenvalues[1]:.4g} (κ = {lq.kappa:.4g}), α and β set to α*, β*.")


def _picked() -> None:
    points = st.session_state[f"{K}.plane"].selection.points
    if points:
        x, y = float(points[-1]["x"]), float(points[-1]["y"])
        _set(alpha=min(1e7, max(1e-8, float(f"{x:.4g}"))), beta=min(0.999999, max(0.0, round(y, 4))))


with st.sidebar:
    st.header("The quadratic")
    c1, c2 = st.columns(2)
    c1.number_input("λ₁", min_value=1e-6, max_value=1e6, format="%.6g", key=f"{K}.l1", help="Curvature along q₁.")
    c2.number_input("λ₂", min_value=1e-6, max_value=1e6, format="%.6g", key=f"{K}.l2", help="Curvature along q₂.")
    st.slider("rotation (degrees)", -90.0, 90.0, key=f"{K}.angle", help="Direction of λ₁'s eigenvector q₁.")
    c1, c2 = st.columns(2)
    c1.number_input("centre x", format="%.6g", key=f"{K}.cx")
    c2.number_input("centre y", format="%.6g", key=f"{K}.cy")
    c1.number_input("start x", format="%.6g", key=f"{K}.sx")
    c2.number_input("start y", format="%.6g", key=f"{K}.sy")
    with st.expander("Load the local quadratic of a surface"):
        names = [k for k in SURFACES if k != "quadratic"]
        st.selectbox("surface", names, key=f"{K}.src", format_func=lambda k: SURFACES[k].label)
        src = SURFACES[st.session_state[f"{K}.src"]]
        m = src.minima[0].point if src.minima else src.start
        c1, c2 = st.columns(2)
        c1.number_input("at x", value=float(m[0]), format="%.6g", key=f"{K}.px.{src.key}")
        c2.number_input("at y", value=float(m[1]), format="%.6g", key=f"{K}.py.{src.key}")
        st.button("Load its Hessian", on_click=_load, key=f"{K}.load", help="Autograd Hessian at that point.")
    st.header("torch.optim.SGD")
    st.number_input("learning rate α", min_value=1e-8, max_value=1e7, format="%.5g", step=1e-3, key=f"{K}.alpha")
    st.number_input("momentum β", min_value=0.0, max_value=0.999999, format="%.6g", step=0.01, key=f"{K}.beta")
    st.slider("steps", 10, 2000, step=10, key=f"{K}.steps")
    c1, c2 = st.columns(2)
    c1.button("Jump to α*, β*", on_click=_jump, args=(True,), key=f"{K}.jump", type="primary")
    c2.button("Best GD α", on_click=_jump, args=(False,), key=f"{K}.gd")

if note := st.session_state.pop(f"{K}.note", None):
    st.info(note)
s = {f: st.session_state[f"{K}.{f}"] for f in FIELDS}
l1, l2 = sorted((s["l1"], s["l2"]))     # the theory's λmin, λmax; the run keeps λ₁ along the rotated q₁
try:
    config = parse_config({"problem": {"surface": "quadratic", "options": {"eigenvalues": [s["l1"], s["l2"]], "angle": s["angle"],
                                                                           "center": [s["cx"], s["cy"]]},
                                       "start": [s["sx"], s["sy"]]},
                           "optimizer": {"name": "SGD", "options": {"lr": s["alpha"], "momentum": s["beta"]}},
                           "steps": s["steps"]})
except ConfigError as e:
    st.error(f"These settings can't run — **{e.field or 'settings'}**: {e.message}", icon="🚫")
    st.stop()
write_config(config, DEFAULT)
trace = cached_run(config)
ckey = config.key()
qr = theory_view.lab_run(ckey)      # the run seen through the theory, and the figures below: built once per config
opt, gd = best_momentum(l1, l2), best_gd(l1, l2)

cols = st.columns(6)
cols[0].metric("condition number κ", f"{l2 / l1:.4g}")
cols[1].metric("α*", f"{opt.alpha:.4g}", help=f"(2/(√λ₁ + √λ₂))²; with β* the rate is (√κ − 1)/(√κ + 1) = {opt.rate:.5f}")
cols[2].metric("β*", f"{opt.beta:.5f}", help="((√λ₂ − √λ₁)/(√λ₂ + √λ₁))²")
cols[3].metric("best GD α", f"{gd.alpha:.4g}", help=f"2/(λ₁ + λ₂), rate (κ − 1)/(κ + 1) = {gd.rate:.5f}")
cols[4].metric("predicted rate", f"{qr.predicted_rate:.5f}", help="max |σ| over both eigen-directions")
cols[5].metric("observed rate", f"{qr.observed:.5f}", delta=f"{qr.observed - qr.predicted_rate:+.1e} vs theory",
               delta_color="off", help="Fitted to torch's distance to the minimum over the run's tail.")
if trace.diverged_at is not None:
    st.warning(f"**{trace.message}.** α = {s['alpha']:.4g} is past the stability edge (2 + 2β)/λmax = "
               f"{(2 + 2 * s['beta']) / l2:.4g}.", icon="💥")

boxes = bool(warning) + bool(note) + (trace.diverged_at is not None)     # message boxes above the plot
st.plotly_chart(present.fit(theory_view.plane_chart((l1, l2), s["alpha"], s["beta"]), above=150, notes=boxes), key=f"{K}.plane",
                on_select=_picked, selection_mode="points", width="stretch", theme=None)
st.caption("Click anywhere on the map to run that (α, β). Right of the red line the run diverges; along a dashed line one "
           "eigen-direction is critically damped (its two roots meet); above it that direction spirals at rate √β.")
st.plotly_chart(theory_view.run_chart("rate", ckey), key=f"{K}.rate", width="stretch", theme=None)
st.plotly_chart(theory_view.run_chart("paths", ckey), key=f"{K}.paths", width="stretch", theme=None)
if qr.buffers is not None:
    st.plotly_chart(theory_view.run_chart("phase", ckey), key=f"{K}.phase", width="stretch", theme=None)
else:
    st.caption("With β = 0 torch keeps no momentum buffer, so there is no phase diagram: each direction just shrinks by "
               "|1 − αλ| per step.")
st.markdown(
    "**What to look for.** At α*, β* both eigen-directions are critically damped and shrink at the same rate — the "
    "best rate momentum can reach, (√κ − 1)/(√κ + 1). Raise β past the dashed line and the phase diagram turns into a "
    "spiral whose rate is exactly √β, whatever α is. Load Rosenbrock at (1, 1): κ ≈ 2508, gradient descent's best rate "
    "0.99920 against momentum's 0.96085 — the observed rate is a little slower at α*, β* because a double root adds a "
    "factor k to σᵏ.")
