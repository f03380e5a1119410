"""Figures of Predict, then reveal: the guess and the real point on a contour, candidate lr curves, a loop's plot."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .base import FrozenFigure, app_layout, f32, label_log_axes

GUESS = "#ff7f0e"
TRUTH = "#d62728"
CURVE = "#1f77b4"
RIGHT = "#2ca02c"
NEUTRAL = "#555555"


def titled(fig, title: str) -> FrozenFigure:
    """The same figure (data and frames shared) under another title."""
    spec = fig.to_dict()
    layout = dict(spec["layout"])
    layout["title"] = {**(layout.get("title") or {}), "text": title}
    return FrozenFigure({**spec, "layout": layout})


def click_to_guess(fig) -> FrozenFigure:
    """A contour whose click grid (``contour_base(click_grid=…)``) says it places a guess, not a start."""
    spec = fig.to_dict()
    data = [{**t, "name": "click to guess", "hovertemplate": "guess (%{x:.2f}, %{y:.2f})<extra></extra>"}
            if t.get("name") == "click to start here" else t for t in spec["data"]]
    return FrozenFigure({**spec, "data": data})


def with_guess(fig, guess: tuple[float, float] | None, truth: tuple[float, float] | None) -> FrozenFigure:
    """A contour (animated or not) with the learner's guess (an orange cross) and the real point (a red ring), joined by
    a dotted line; named on hover, not in the legend (the page says what they are). The marks are added after every
    trace, so the figure's animation frames still address the same traces."""
    spec = fig.to_dict()
    data = list(spec["data"])
    if guess is not None and truth is not None:
        data.append(dict(type="scatter", x=[guess[0], truth[0]], y=[guess[1], truth[1]], mode="lines", showlegend=False,
                         hoverinfo="skip", line=dict(color="white", width=2, dash="dot")))
    if guess is not None:
        data.append(dict(type="scatter", x=[guess[0]], y=[guess[1]], mode="markers", name="your guess", showlegend=False,
                         marker=dict(symbol="x", size=18, color=GUESS, line=dict(color="black", width=1.5)),
                         hovertemplate="your guess (%{x:.3g}, %{y:.3g})<extra></extra>"))
    if truth is not None:
        data.append(dict(type="scatter", x=[truth[0]], y=[truth[1]], mode="markers", name="where torch put it", showlegend=False,
                         marker=dict(symbol="circle-open", size=22, color=TRUTH, line=dict(width=4)),
                         hovertemplate="the real point (%{x:.4g}, %{y:.4g})<extra></extra>"))
    return FrozenFigure({**spec, "data": data})


def curves_figure(curves: list[np.ndarray], labels: list[str], series: str, highlight: int | None = None,
                  height: int = 420) -> go.Figure:
    """Candidate curves side by side, one panel each (the same y range, so shapes compare); after the reveal the
    asked setup's curve is drawn green and its panel says so."""
    cols = len(curves)
    titles = [f"{label} ✓ this setup" if i == highlight else label for i, label in enumerate(labels)]
    fig = make_subplots(rows=1, cols=cols, shared_yaxes=True, subplot_titles=titles, horizontal_spacing=0.04)
    finite = np.concatenate([c[np.isfinite(c)] for c in curves]) if curves else np.empty(0)
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    pad = 0.06 * (hi - lo or abs(hi) or 1.0)
    name = "momentum" if series == "momentum" else "lr"
    for i, c in enumerate(curves, start=1):
        colour = RIGHT if i - 1 == highlight else CURVE
        fig.add_trace(go.Scatter(x=np.arange(1, len(c) + 1), y=f32(c), mode="lines", line_shape="hv", showlegend=False,
                                 line=dict(color=colour, width=4 if i - 1 == highlight else 3), name=labels[i - 1],
                                 hovertemplate=f"optimizer step %{{x}}<br>{name}: %{{y:.4g}}<extra>{labels[i - 1]}</extra>"),
                      row=1, col=i)
        fig.update_xaxes(title_text="optimizer step", row=1, col=i)
    fig.update_yaxes(title_text=f"{name} during the step", range=[lo - pad, hi + pad], row=1, col=1)
    app_layout(fig, f"Which curve is the {name}?", height)
    fig.update_annotations(font=dict(size=18))
    return fig.update_layout(margin=dict(t=90, b=60))


def loop_figure(values: list[np.ndarray], labels: list[str], title: str, y_label: str, x_label: str, log: bool,
                steps_from: int = 1, colours: list[str] | None = None, height: int = 420) -> go.Figure:
    """A series from the loops' real runs: before the reveal the one plotted (unnamed), after it every loop's."""
    fig = go.Figure()
    for i, (v, label) in enumerate(zip(values, labels, strict=True)):
        v = np.asarray(v, dtype=np.float64)
        y = np.where(v > 0, v, np.nan) if log else v
        fig.add_trace(go.Scatter(x=np.arange(steps_from, steps_from + len(v)), y=f32(y), name=label,
                                 mode="lines+markers" if len(v) <= 60 else "lines", marker=dict(size=6),
                                 line=dict(color=(colours or [NEUTRAL] * len(values))[i], width=3)))
    fig.update_xaxes(title=x_label)
    fig.update_yaxes(title=y_label, type="log" if log else "linear")
    app_layout(fig, title, height)
    fig.update_layout(showlegend=len(values) > 1)
    return label_log_axes(fig)
