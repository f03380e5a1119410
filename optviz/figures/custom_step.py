"""Write your own step(): the largest difference per step between the learner's optimizer and torch's, and their state."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import plotly.graph_objects as go

from optviz.core.trace import Trace
from optviz.lessons.custom_step import TOLERANCE, Comparison

from .base import app_layout, f32
from .trajectory import state_figure

FLOOR = 1e-18       # where a step with no difference at all (bit for bit) is drawn on the log axis
CEILING = 1e6       # where a non-finite value against a finite one is drawn
PALETTE = ["#1f77b4", "#9467bd", "#2ca02c", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#d62728"]


def difference_figure(comparison: Comparison, height: int = 380) -> go.Figure:
    """Per step, the largest |yours − torch's| (relative where the value is above 1) for the point and each state entry
    both keep, on a log axis with the tolerance for "equal"."""
    fig = go.Figure()
    steps = np.arange(1, comparison.steps + 1)
    for i, (name, d) in enumerate(comparison.parts.items()):
        shown = np.clip(np.where(d == 0, FLOOR, d), FLOOR, CEILING)
        fig.add_trace(go.Scatter(x=steps, y=f32(shown), mode="lines", name="the point p" if name == "p" else name,
                                 line=dict(color=PALETTE[i % len(PALETTE)], width=2.5 if name == "p" else 2)))
    # a line trace, not add_hline: on a log axis plotly places a shape's annotation at 10^y
    fig.add_trace(go.Scatter(x=[0.5, max(comparison.steps, 1) + 0.5], y=[TOLERANCE, TOLERANCE], mode="lines",
                             name=f"equal: at most {TOLERANCE:.0e}", line=dict(color="#d62728", dash="dash", width=1.5)))
    if comparison.first is not None:
        fig.add_vline(x=comparison.first.step, line=dict(color="#616161", dash="dot", width=1.5))
        fig.add_annotation(text=f"first difference: step {comparison.first.step}", x=comparison.first.step, xref="x",
                           y=0.04, yref="paper", xanchor="left", showarrow=False, font=dict(size=13, color="#616161"))
    app_layout(fig, f"largest difference per step: yours vs {comparison.reference}", height)
    fig.update_xaxes(title="step")
    fig.update_yaxes(type="log", title="difference", range=[np.log10(FLOOR) - 0.5, np.log10(CEILING) + 0.5],
                     dtick=3, exponentformat="power")
    fig.add_annotation(text=f"bit for bit is drawn at 10<sup>{int(np.log10(FLOOR))}</sup>", showarrow=False,
                       xref="paper", yref="paper", x=1.0, y=0.04, xanchor="right", font=dict(size=13, color="#757575"))
    return fig


def state_figures(mine: Trace, theirs: Trace, height: int = 380) -> tuple[go.Figure, go.Figure]:
    """Each run's optimizer.state after every step, side by side on one y range (the step counter left out: it is the
    same in both, and where torch keeps none it would only squash the other lines)."""
    figs = []
    for trace, title in ((mine, "your optimizer.state"), (theirs, f"torch.optim.{theirs.config.optimizer.name}'s state")):
        fig = state_figure(replace(trace, state={k: v for k, v in trace.state.items() if k != "step"}), height)
        fig.update_layout(title_text=f"{title} (solid: x, dashed: y)", legend=dict(y=-0.25, yanchor="top", x=0, xanchor="left"),
                          margin=dict(b=110))
        figs.append(fig)
    values = [v for t in (mine, theirs) for k, v in t.state.items() if k != "step"]
    finite = np.concatenate([v[np.isfinite(v)] for v in values]) if values else np.zeros(0)
    if finite.size:
        lo, hi = float(finite.min()), float(finite.max())
        pad = 0.05 * (hi - lo) if hi > lo else max(abs(lo), 1.0) * 0.5
        for fig in figs:
            fig.update_yaxes(range=[lo - pad, hi + pad])
    return figs[0], figs[1]
