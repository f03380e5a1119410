"""Race figures: the lr-tuning curves (score vs learning rate per racer). Records in, go.Figure out."""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from optviz.lessons.race import OBJECTIVES, TuneResult

from .base import app_layout, f32, log_ticks
from .trajectory import Path


def tuning_figure(results: list[TuneResult], paths: list[Path], objective: str, f_star: float | None,
                  height: int = 420) -> go.Figure:
    """Each racer's score at every lr of the grid (log axes), its best lr starred, diverged lrs marked ✕ on top."""
    shift = f_star if f_star is not None else 0.0
    finite = [s - shift for r in results for s in r.scores if math.isfinite(s)]
    log_y = bool(finite) and min(finite) > 0
    top = (max(finite) * 3 if log_y else max(finite) + 0.1 * (abs(max(finite)) + 1)) if finite else 1.0
    fig = go.Figure()
    for r, p in zip(results, paths, strict=True):
        scores = np.array([s - shift if math.isfinite(s) else np.nan for s in r.scores])
        fig.add_trace(go.Scatter(x=f32(r.lrs), y=f32(scores), mode="lines+markers", name=p.label, legendgroup=p.label,
                                 line=dict(color=p.colour, dash=p.dash, width=2.5), marker=dict(size=8),
                                 hovertemplate="lr %{x:.3g}<br>score %{y:.4g}<extra>" + p.label + "</extra>"))
        bad = [lr for lr, s in zip(r.lrs, r.scores, strict=True) if not math.isfinite(s)]
        if bad:
            fig.add_trace(go.Scatter(x=bad, y=[top] * len(bad), mode="markers", showlegend=False, legendgroup=p.label,
                                     marker=dict(symbol="x", size=12, color=p.colour),
                                     hovertemplate="lr %{x:.3g}: diverged<extra>" + p.label + "</extra>"))
        if r.best_lr is not None:
            fig.add_trace(go.Scatter(x=[r.best_lr], y=[r.best_score - shift], mode="markers", showlegend=False,
                                     legendgroup=p.label, marker=dict(symbol="star", size=20, color=p.colour,
                                                                      line=dict(color="black", width=1)),
                                     hovertemplate="best lr %{x:.3g}<br>score %{y:.4g}<extra>" + p.label + "</extra>"))
    app_layout(fig, "tuning score at each lr (★ best, ✕ diverged)", height)
    lrs = [lr for r in results for lr in r.lrs]
    decades = [10.0 ** e for e in range(math.floor(math.log10(min(lrs))), math.ceil(math.log10(max(lrs))) + 1)] if lrs else []
    fig.update_xaxes(type="log", title="learning rate", tickvals=decades, ticktext=[f"{v:g}" for v in decades])
    fig.update_yaxes(type="log" if log_y else "linear", title=OBJECTIVES[objective].split(" over ")[0]
                     + (" − f*" if f_star is not None else ""),
                     **(log_ticks(finite + [top]) if log_y else {}))
    return fig
