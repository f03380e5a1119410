"""What every figure shares: the app's layout (large fonts, so a projector can read them), log-axis ticks, contour
levels, float32 arrays, and FrozenFigure, a finished figure held as plain data."""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

FONT = dict(size=16)


def app_layout(fig: go.Figure, title: str, height: int = 520, **kw) -> go.Figure:
    fig.update_layout(title=dict(text=title, x=0.01), font=FONT, height=height, margin=dict(l=60, r=20, t=60, b=50),
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0), template="plotly_white", **kw)
    # tick labels set on every axis, not only through layout.font: Streamlit's chart theme resets them to 12 px
    fig.update_xaxes(tickfont=FONT)
    fig.update_yaxes(tickfont=FONT)
    return fig


def log_ticks(values) -> dict:
    """Tick settings for a log axis over ``values`` that never label 0.2 or 0.5 as a bare "2" or "5" (plotly's
    minor labels): only decades (10⁻³, 10⁻²) over two decades or more, full values (0.2, 0.5, 1) over less.
    ``values``: an array, or a list of arrays (e.g. one per trace)."""
    parts = values if isinstance(values, (list, tuple)) else [values]
    v = np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in parts]) if len(parts) else np.empty(0)
    v = v[np.isfinite(v) & (v > 0)]
    span = math.log10(v.max()) - math.log10(v.min()) if v.size else 0.0
    if span >= 2:
        return dict(dtick=max(1, math.ceil(span / 8)), exponentformat="power")
    if not v.size:
        return dict(tickformat="~g")
    # under two decades: a few round values (1-2-5, finer when the span is short), each labelled in full
    lo, hi = v.min(), v.max()
    decades = range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1)
    for mantissas in ((1, 2, 5), (1, 1.5, 2, 3, 5, 7), (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8, 9)):
        ticks = [float(f"{m * 10.0 ** e:.6g}") for e in decades for m in mantissas]
        ticks = [t for t in ticks if lo / 1.05 <= t <= hi * 1.05]
        if len(ticks) >= 3:
            break
    if len(ticks) < 2:
        return dict(tickformat="~g", nticks=4)
    return dict(tickvals=ticks, ticktext=[f"{t:g}" for t in ticks])


def label_log_axes(fig: go.Figure) -> go.Figure:
    """``log_ticks`` on every log y axis of the figure (subplots included), from the y values of the traces on it."""
    for key, axis in fig.layout.to_plotly_json().items():
        if key.startswith("yaxis") and axis.get("type") == "log":
            ref = "y" + key[5:]
            values = [t.y for t in fig.data if (t.yaxis or "y") == ref and t.y is not None]
            fig.layout[key].update(log_ticks(values))
    return fig


def f32(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float32)


def contour_levels(z: np.ndarray, log: bool) -> tuple[np.ndarray, str]:
    """Values to colour the contour by: log10(f − min + δ) where the surface asks for log scale."""
    finite = z[np.isfinite(z)]
    if not log or finite.size == 0:
        return np.clip(z, *(np.percentile(finite, [0, 99]) if finite.size else (0, 1))), "f(x, y)"
    lo = finite.min()
    delta = max(1e-3, 1e-6 * (finite.max() - lo))
    return np.log10(z - lo + delta), "log₁₀(f − min)"


def figure_bytes(fig: go.Figure) -> int:
    return len(fig.to_json())


# Building a go.Figure validates every trace and frame (~0.3 ms each: ~200 ms for an animated contour), and
# st.plotly_chart deep-copies it again on every rerun: pages that rerun on every slider move build FrozenFigures.

class FrozenFigure(go.Figure):
    """A finished figure held as its plain dict: ``to_dict()`` (what st.plotly_chart and ``to_json`` read) returns
    it without validating or copying. Only that dict carries the picture; treat it as immutable."""

    def __init__(self, spec: dict):
        super().__init__()
        self._spec = spec

    def to_dict(self) -> dict:
        return self._spec


def frozen(fig: go.Figure) -> FrozenFigure:
    """The figure serialised once: cheap to hand to st.plotly_chart again and again (e.g. from a cache).

    An array of Python objects (hover data mixing numbers and text) becomes nested tuples here: orjson writes them as
    they are, but one such array makes plotly walk the whole figure value by value on every st.plotly_chart instead
    (~20 ms for a 64 × 64 sweep's cells). Tuples, not lists: the garbage collector stops tracking a tuple of plain
    values, so a cached figure's thousands of rows add nothing to its full passes."""
    if isinstance(fig, FrozenFigure):
        return fig
    spec = fig.to_dict()
    for trace in [*spec.get("data", ()), *(t for f in spec.get("frames", ()) for t in f.get("data", ()))]:
        for k, v in trace.items():
            if isinstance(v, np.ndarray) and v.dtype == object:
                trace[k] = _tuples(v.tolist())
    return FrozenFigure(spec)


def _tuples(value):
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value
