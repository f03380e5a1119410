"""The Invariance Lab's figures: paths on the rotated bowl, the same paths in its eigen-coordinates, steps-to-tol vs angle."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from optviz.core.optimizers import get_optimizer
from optviz.core.trace import Trace
from optviz.lessons.invariance import LION, AngleCurve, FirstStep, coordinate_steps, rotation, to_eigen

from .base import FrozenFigure, app_layout, f32, label_log_axes
from .trajectory import Path, contour_base, contour_with_paths


def colour_of(name: str) -> str:
    """The app's colour of an optimizer (Lion runs as the Custom optimizer and wears its colour)."""
    return get_optimizer("Custom" if name == LION else name).colour


def _span(runs: dict[str, Trace]) -> float:
    """Half the side of a square about the minimum that holds every start (paths that fly off are noted at the edge)."""
    starts = np.array([t.positions[0] for t in runs.values()]) if runs else np.ones((1, 2))
    return float(1.25 * max(np.abs(starts).max(), 1e-6))


def paths_figure(surface, runs: dict[str, Trace], angle: float, height: int = 520) -> FrozenFigure:
    """Each run on the rotated surface, with the eigenvector axes q₁ (λ₁) and q₂ (λ₂) drawn through the minimum."""
    r = _span(runs)
    base = contour_base(surface, n_grid=200, height=height, domain=((-r, r), (-r, r)))
    base["layout"]["title"]["text"] = f"The bowl turned by {angle:g}°: paths in (x, y)"
    base["layout"]["yaxis"].update(scaleanchor="x", scaleratio=1)
    q = rotation(angle) * r * 1.5
    for i, dash in ((0, "dash"), (1, "dot")):
        base["data"].append(dict(type="scatter", x=[-q[0, i], q[0, i]], y=[-q[1, i], q[1, i]], mode="lines", name=f"q{'₁₂'[i]}",
                                 line=dict(color="white", width=1.5, dash=dash), hoverinfo="skip", showlegend=False))
        base["layout"].setdefault("annotations", []).append(dict(x=q[0, i] / 1.5, y=q[1, i] / 1.5, text=f"q{'₁₂'[i]}", showarrow=False,
                                                                 font=dict(color="white", size=18), xshift=12, yshift=12))
    paths = [Path(t, name, colour_of(name)) for name, t in runs.items()]
    return contour_with_paths(base, paths, animate=False)


def eigen_figure(runs: dict[str, Trace], angle: float, reference: dict[str, Trace], height: int = 520) -> go.Figure:
    """The runs in the surface's own eigen-coordinates (u along q₁, v along q₂), solid, over the same runs at 0°, dotted.

    A rotation-equivariant optimizer draws one curve for both."""
    fig = go.Figure()
    for name, t in runs.items():
        for trace, a, dash, label in ((reference.get(name), 0.0, "dot", f"{name} at 0°"), (t, angle, "solid", f"{name} at {angle:g}°")):
            if trace is None:
                continue
            u = to_eigen(trace.positions, a)
            fig.add_trace(go.Scatter(x=f32(u[:, 0]), y=f32(u[:, 1]), mode="lines", name=label,
                                     line=dict(color=colour_of(name), width=3.5 if dash == "dot" else 2, dash=dash),
                                     hovertemplate="step %{customdata}: u = %{x:.4g}, v = %{y:.4g}<extra>" + label + "</extra>",
                                     customdata=np.arange(len(u))))
    fig.add_trace(go.Scatter(x=[0], y=[0], mode="markers", name="minimum", marker=dict(symbol="star", size=16, color="black")))
    r = _span(runs)
    fig.update_xaxes(title="u (along q₁, curvature λ₁)", range=[-r, r], zeroline=True)
    fig.update_yaxes(title="v (along q₂, curvature λ₂)", range=[-r, r], scaleanchor="x", scaleratio=1, zeroline=True)
    return app_layout(fig, "The same paths in the bowl's own coordinates: turned back by −θ", height)


def angle_figure(curves: list[AngleCurve], angle: float, tol: float, steps: int, height: int = 420) -> go.Figure:
    """Steps until the loss is ≤ tol, for each optimizer at each angle; a gap where the run never gets there."""
    fig = go.Figure()
    for c in curves:
        y = [np.nan if s is None else s for s in c.steps]
        fig.add_trace(go.Scatter(x=list(c.angles), y=y, mode="lines+markers", name=c.name, line=dict(color=colour_of(c.name), width=2.5),
                                 hovertemplate="%{x:g}°: %{y} steps<extra>" + c.name + "</extra>"))
    fig.add_vline(x=angle, line=dict(color="grey", dash="dash"), annotation_text=f"{angle:g}°")
    fig.update_xaxes(title="rotation θ (degrees)", range=[-2, 92], dtick=15)
    fig.update_yaxes(title=f"steps to loss ≤ {tol:g}", rangemode="tozero")
    return app_layout(fig, f"Steps to tolerance vs rotation (each point a real run of ≤ {steps} steps)", height)


def _pair(v, fmt: str) -> str:
    return f"({v[0]:{fmt}}, {v[1]:{fmt}})"


def first_step_table(steps: list[FirstStep]) -> list[dict[str, str]]:
    """One row per gradient scale: the gradient, Adam's real first step, −lr·sign(g), and how far apart they are."""
    return [{"gradient ×": f"{s.scale:g}", "g at the start (x, y)": _pair(s.grad, ".4g"),
             "Adam's first step θ₁ − θ₀": _pair(s.step, ".7g"), "−lr·sign(g)": _pair(s.sign_step, ".7g"),
             "largest |θ₁ − θ₀ + lr·sign(g)| ÷ lr": f"{s.gap:.2e}", "ε ÷ (|g| + ε)": f"{s.eps_gap:.2e}"} for s in steps]


def step_size_figure(runs: dict[str, Trace], height: int = 420) -> go.Figure:
    """|Δx| (solid) and |Δy| (dotted) on every step of each run, on a log axis, over a dashed line at each run's lr:
    a sign step is a flat line on it."""
    fig = go.Figure()
    sizes = {name: coordinate_steps(t) for name, t in runs.items()}
    lrs = {name: t.config.optimizer.options.get("lr") for name, t in runs.items()}
    for name, d in sizes.items():
        steps = np.arange(1, len(d) + 1)
        for i, (axis, dash) in enumerate((("x", "solid"), ("y", "dot"))):
            label = f"{name} |Δ{axis}|"
            fig.add_trace(go.Scatter(x=steps, y=f32(d[:, i]), mode="lines", name=label,
                                     line=dict(color=colour_of(name), width=3 if dash == "dot" else 2, dash=dash),
                                     hovertemplate="step %{x}: %{y:.7g}<extra>" + label + "</extra>"))
    top = max((lr for lr in lrs.values() if lr), default=None)
    for name, lr in lrs.items():
        if not lr:
            continue
        fig.add_hline(y=lr, line=dict(color=colour_of(name), width=1, dash="dash"))
        # labels at the right, where every path has shrunk away from its lr: the largest lr's above its line, the
        # others under theirs (a log axis: y in log10 units)
        fig.add_annotation(x=1, xref="paper", y=float(np.log10(lr)), yref="y", text=f"lr of {name} = {lr:g}", showarrow=False,
                           xanchor="right", yanchor="bottom" if lr == top else "top", font=dict(color=colour_of(name)))
    shown = np.concatenate([f32(d).ravel().astype(np.float64) for d in sizes.values()] + [np.array([lr for lr in lrs.values() if lr])])
    shown = shown[np.isfinite(shown) & (shown > 0)]
    if shown.size:      # room above the top line for its label
        fig.update_yaxes(range=[float(np.log10(shown.min())) - 0.3, float(np.log10(shown.max())) + 0.8])
    fig.update_xaxes(title="step")
    fig.update_yaxes(title="|Δθᵢ| on that step", type="log")
    return label_log_axes(app_layout(fig, "How far each coordinate moves on each step", height))
