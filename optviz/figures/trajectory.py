"""Figures of one run or a few: the contour with paths (animated, with state arrows), 3-D surface, loss, lr, state."""
from __future__ import annotations

import base64
import functools
import math
import re
import struct
import zlib
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from optviz.core.optimizers import get_optimizer
from optviz.core.trace import Trace

from .base import FrozenFigure, app_layout, contour_levels, f32, log_ticks

MAX_FRAMES = 60
GROUP_DASH = ("solid", "dash", "dot", "dashdot")
STATE_COLOURS = {"momentum_buffer": "#9467bd", "exp_avg": "#9467bd", "grad": "#d62728"}
# state torch keeps as one number per parameter, not one per coordinate (Adam's step, LBFGS's func_evals, …)
SCALAR_STATE = frozenset({"step", "func_evals", "n_iter", "t", "H_diag", "prev_loss", "eta", "mu", "mu_product"})


@dataclass(frozen=True)
class Path:
    """One trajectory to draw: the trace, its legend label and its colour."""

    trace: Trace
    label: str
    colour: str
    dash: str = "solid"


def path_of(trace: Trace, label: str | None = None, dash: str = "solid") -> Path:
    spec = get_optimizer(trace.config.optimizer.name)
    return Path(trace, label or spec.name, spec.colour, dash)


def frame_steps(n: int, max_frames: int = MAX_FRAMES) -> np.ndarray:
    """Which steps get an animation frame (all when short, evenly spread otherwise, always the last)."""
    if n + 1 <= max_frames:
        return np.arange(n + 1)
    return np.unique(np.linspace(0, n, max_frames).round().astype(int))


def _arrow(p: np.ndarray, v: np.ndarray, scale: float) -> tuple[list, list]:
    """A segment from p along v (already scaled), with a small head, as x/y lists broken by None."""
    q = p + v * scale
    d = q - p
    length = float(np.hypot(*d))
    if not np.isfinite(length) or length == 0:
        return [None], [None]
    u = d / length
    h = 0.25 * length
    left = q - h * u + 0.5 * h * np.array([-u[1], u[0]])
    right = q - h * u - 0.5 * h * np.array([-u[1], u[0]])
    return [p[0], q[0], None, left[0], q[0], right[0], None], [p[1], q[1], None, left[1], q[1], right[1], None]


def _state_arrows(trace: Trace, t: int, span: float, final_grad=None) -> list[tuple[str, str, list, list]]:
    """Arrows at the point of step t: −gradient and the optimizer's direction state (−momentum, −exp_avg).
    At the last point (t = steps) the gradient is ``final_grad`` (the trace records gradients only where a step
    was taken); the state is the one the last step left."""
    out = []
    if t > trace.steps:
        return out
    p = trace.positions[t]
    vectors = []
    grads = trace.grads
    if final_grad is not None and t == trace.steps:
        grads = np.vstack([grads.reshape(-1, 2), np.asarray(final_grad, dtype=np.float64).reshape(1, 2)])
    if t < len(grads):
        vectors.append(("−gradient", "#d62728", -grads, t))
    for name in ("momentum_buffer", "exp_avg"):
        if name in trace.state and t >= 1:
            vectors.append((f"−{name}", "#9467bd", -trace.state[name], t - 1))
    for label, colour, series, i in vectors:
        norms = np.hypot(series[:, 0], series[:, 1])
        top = np.nanmax(norms) if np.isfinite(norms).any() else 0
        if top > 0 and np.isfinite(series[i]).all() and norms[i] > 0:
            # length ∝ √(|v| / largest |v| of the run), at least 4 % of the plot: a gradient a thousand times smaller
            # than the first one still shows its direction (the hover gives the numbers)
            length = span * max(0.04, 0.18 * np.sqrt(norms[i] / top))
            xs, ys = _arrow(p, series[i], length / norms[i])
            out.append((label, colour, xs, ys))
    return out


def final_gradient(surface, trace: Trace):
    """The exact gradient at the run's last point, for the arrows of the last frame (None if not finite)."""
    x, y = (float(v) for v in trace.positions[-1])
    try:
        _, gx, gy = surface.value_and_grad(x, y)
    except (ArithmeticError, ValueError):
        return None
    return (gx, gy) if np.isfinite([gx, gy]).all() else None


VIRIDIS = ("#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58", "#b5de2b", "#fde725")
N_BANDS = 30


def _png(rgb: np.ndarray) -> bytes:
    """An (h, w, 3) uint8 array as PNG bytes (zlib only: no imaging library needed)."""
    h, w, _ = rgb.shape
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rgb.reshape(h, w * 3)], axis=1).tobytes()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def surface_bands(zc: np.ndarray, n_bands: int = N_BANDS) -> tuple[np.ndarray, float, float]:
    """Each grid value's contour band (0 … n_bands−1; −1 where not finite) and the coloured range [lo, hi]."""
    finite = np.isfinite(zc)
    lo, hi = (float(zc[finite].min()), float(zc[finite].max())) if finite.any() else (0.0, 1.0)
    hi = hi if hi > lo else lo + 1.0
    band = np.floor((np.where(finite, zc, lo) - lo) / (hi - lo) * n_bands).clip(0, n_bands - 1).astype(np.int64)
    return np.where(finite, band, -1), lo, hi


def surface_image(xs: np.ndarray, ys: np.ndarray, zc: np.ndarray) -> tuple[dict, float, float]:
    """The filled contour as a layout image under the data (``layer="below"``), with a thin darker line where the
    band changes. Plotly animations with ``redraw: false`` erase contour and heatmap traces (plotly.js #4491) but
    leave layout images alone, so the surface stays under a moving path. Returns (image, lo, hi)."""
    band, lo, hi = surface_bands(zc)
    stops = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in VIRIDIS], dtype=np.float64)
    at = (np.arange(N_BANDS) + 0.5) / N_BANDS * (len(VIRIDIS) - 1)
    palette = np.stack([np.interp(at, np.arange(len(VIRIDIS)), stops[:, k]) for k in range(3)], axis=1)
    palette = 0.85 * palette + 0.15 * 255.0                      # the contour's opacity 0.85 over white
    rgb = np.where((band >= 0)[..., None], palette[band.clip(0)], 255.0)
    edge = np.zeros(band.shape, dtype=bool)
    edge[:, 1:] |= band[:, 1:] != band[:, :-1]
    edge[1:, :] |= band[1:, :] != band[:-1, :]
    rgb[edge] *= 0.8
    png = _png(rgb[::-1].round().astype(np.uint8))              # image rows run top (largest y) to bottom
    dx = (xs[-1] - xs[0]) / max(len(xs) - 1, 1)
    dy = (ys[-1] - ys[0]) / max(len(ys) - 1, 1)
    image = dict(source="data:image/png;base64," + base64.b64encode(png).decode("ascii"), xref="x", yref="y",
                 x=float(xs[0] - dx / 2), y=float(ys[-1] + dy / 2), sizex=float(xs[-1] - xs[0] + dx),
                 sizey=float(ys[-1] - ys[0] + dy), xanchor="left", yanchor="top", sizing="stretch", layer="below",
                 name="surface")
    return image, lo, hi


def contour_base(surface, n_grid: int = 400, click_grid: int = 0, height: int = 560, domain=None) -> dict:
    """The surface without any path, as plain data to cache per surface: a filled-contour image under the data
    (its colour bar on a marker trace), the click grid and the minima."""
    (x0, x1), (y0, y1) = domain or surface.domain
    xs, ys, z = surface.grid(n_grid, domain=((x0, x1), (y0, y1)))
    zc, zlabel = contour_levels(z, surface.log_contours)
    image, lo, hi = surface_image(xs, ys, zc)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[x0], y=[y0], mode="markers", name="surface", showlegend=False, hoverinfo="skip",
                             marker=dict(size=1, opacity=0, color=[lo], cmin=lo, cmax=hi, colorscale="Viridis",
                                         showscale=True, colorbar=dict(title=dict(text=zlabel, side="right")))))
    fig.add_layout_image(image)
    if click_grid:
        gx, gy = np.meshgrid(np.linspace(x0, x1, click_grid), np.linspace(y0, y1, click_grid))
        fig.add_trace(go.Scatter(x=f32(gx.ravel()), y=f32(gy.ravel()), mode="markers", marker=dict(size=12, opacity=0),
                                 name="click to start here", showlegend=False, hovertemplate="start here: (%{x:.2f}, %{y:.2f})<extra></extra>"))
    mins = [m for m in surface.minima if x0 <= m.point[0] <= x1 and y0 <= m.point[1] <= y1]
    if mins:
        fig.add_trace(go.Scatter(x=[m.point[0] for m in mins], y=[m.point[1] for m in mins], mode="markers",
                                 marker=dict(symbol="star", size=18, color="white", line=dict(color="black", width=1.5)),
                                 name="minimum", text=[f"{m.kind} minimum, f = {m.value:.6g}" for m in mins],
                                 hovertemplate="%{text}<br>(%{x:.4f}, %{y:.4f})<extra></extra>"))
    # the surface image lies under the grid lines: without them it reads like the contour it replaces
    fig.update_xaxes(range=[x0, x1], title="x", constrain="domain", showgrid=False, zeroline=False)
    fig.update_yaxes(range=[y0, y1], title="y", showgrid=False, zeroline=False)
    app_layout(fig, f"{surface.label}: paths on the contour", height)
    return fig.to_dict()


def contour_figure(surface, paths: list[Path], n_grid: int = 400, animate: bool = True, arrows: bool = True,
                   click_grid: int = 0, height: int = 560, domain=None) -> go.Figure:
    """The surface with each path, the minima and the start; Plotly frames animate the paths, and a single path
    carries its gradient and state arrows at every frame."""
    base = contour_base(surface, n_grid=n_grid, click_grid=click_grid, height=height, domain=domain)
    return go.Figure(contour_with_paths(base, paths, animate=animate, arrows=arrows, surface=surface).to_dict())


def scalar_state(trace: Trace) -> set[str]:
    """The state entries to show as one number: torch's per-parameter scalars, where x and y hold the same value."""
    return {k for k, v in trace.state.items()
            if k in SCALAR_STATE and np.array_equal(v[..., 0], v[..., 1], equal_nan=True)}


def _hover(tr: Trace) -> np.ndarray:
    rows = []
    n = tr.steps
    scalars = scalar_state(tr)
    for t in range(n + 1):
        s = f"step {t}<br>(x, y) = ({tr.positions[t, 0]:.4g}, {tr.positions[t, 1]:.4g})<br>loss {tr.losses[t]:.4g}"
        if t < n:
            s += f"<br>gradient ({tr.grads[t, 0]:.3g}, {tr.grads[t, 1]:.3g})"
            if t >= 1:
                for name, v in tr.state.items():
                    if name in scalars:
                        s += f"<br>{name} {v[t - 1, 0]:.4g}" if name != "step" else ""
                    else:
                        s += f"<br>{name} ({v[t - 1, 0]:.3g}, {v[t - 1, 1]:.3g})"
        rows.append(s)
    return np.array(rows, dtype=object)


def surface3d_figure(surface, paths: list[Path], n_grid: int = 80, height: int = 560) -> go.Figure:
    xs, ys, z = surface.grid(n_grid)
    zc = np.clip(z, None, np.nanpercentile(z[np.isfinite(z)], 98)) if np.isfinite(z).any() else z
    fig = go.Figure(go.Surface(x=f32(xs), y=f32(ys), z=f32(zc), colorscale="Viridis", opacity=0.85, showscale=False))
    top = float(np.nanmax(zc)) if np.isfinite(zc).any() else 1.0
    for p in paths:
        pos, loss = p.trace.positions, np.minimum(p.trace.losses, top)
        fig.add_trace(go.Scatter3d(x=f32(pos[:, 0]), y=f32(pos[:, 1]), z=f32(loss), mode="lines+markers", name=p.label,
                                   line=dict(color=p.colour, width=6), marker=dict(size=2.5, color=p.colour)))
    app_layout(fig, f"{surface.label} in 3-D", height)
    fig.update_layout(scene=dict(xaxis_title="x", yaxis_title="y", zaxis_title="f"))
    return fig


def loss_figure(paths: list[Path], f_star: float | None = None, height: int = 380, log: bool = True) -> go.Figure:
    """Loss vs step on a log axis (f − f* when the minimum value is known, so the log scale is meaningful);
    ``log=False`` for a linear axis, e.g. on a surface unbounded below where f goes negative."""
    fig = go.Figure()
    for p in paths:
        fig.add_trace(go.Scatter(x=np.arange(len(p.trace.losses)), y=_loss_values(p, f_star, log), mode="lines",
                                 name=p.label, line=dict(color=p.colour, dash=p.dash, width=2.5)))
    app_layout(fig, "loss − f* vs step" if f_star is not None else "loss vs step", height)
    fig.update_yaxes(type="log" if log else "linear", title="f − f*" if f_star is not None else "f")
    fig.update_xaxes(title="step")
    if log and paths:
        fig.update_yaxes(**log_ticks([t.y for t in fig.data]))
    return fig


def _loss_values(p: Path, f_star: float | None, log: bool) -> np.ndarray:
    y = p.trace.losses - (f_star or 0.0)
    return f32(np.where(y > 0, y, np.nan) if log else y)


def _epoch_lines(fig: go.Figure, trace: Trace) -> None:
    sch = trace.config.scheduler
    if sch is None or sch.interval != "epoch" or trace.steps // sch.steps_per_epoch > 60:
        return
    for e in range(sch.steps_per_epoch, trace.steps, sch.steps_per_epoch):
        fig.add_vline(x=e + 0.5, line=dict(color="#bbbbbb", width=1, dash="dot"))


def lr_figure(trace: Trace, height: int = 380, schedule: tuple[np.ndarray, np.ndarray] | None = None) -> go.Figure:
    """lr of every group while each step ran (and momentum/β₁ when a scheduler changes it). ``schedule``: the
    scheduler's (lrs, momentums) over all the config's steps (schedlab.config_schedule); where the path stopped early,
    the rest of the schedule is drawn grey and dotted after a line marking the stop."""
    fig = go.Figure()
    steps = np.arange(1, trace.steps + 1)
    for g, name in enumerate(trace.groups):
        fig.add_trace(go.Scatter(x=steps, y=f32(trace.lrs[:, g]), mode="lines", name=f"lr ({name})", line_shape="hv",
                                 line=dict(width=3, dash=GROUP_DASH[g % 4], color="#1f77b4")))
    rest = schedule is not None and len(schedule[0]) > trace.steps
    if rest:
        after = np.arange(max(trace.steps, 1), len(schedule[0]) + 1)    # from the last step run, so the curves join
        for g, name in enumerate(trace.groups):
            fig.add_trace(go.Scatter(x=after, y=f32(schedule[0][after - 1, g]), mode="lines", line_shape="hv",
                                     name=f"lr ({name}) the scheduler would set after the path stopped",
                                     line=dict(width=2, dash="dot", color="#9e9e9e")))
        fig.add_vline(x=trace.steps + 0.5, line=dict(color="#616161", width=2, dash="dash"),
                      annotation_text=f"path stopped at step {trace.steps}", annotation_position="top right")
    moms = trace.momentums if not rest else schedule[1]
    if trace.has_momentum and np.nanmax(moms) - np.nanmin(moms) > 0:
        for g, name in enumerate(trace.groups):
            fig.add_trace(go.Scatter(x=steps, y=f32(trace.momentums[:, g]), mode="lines", name=f"momentum/β₁ ({name})",
                                     yaxis="y2", line_shape="hv", line=dict(width=2, dash=GROUP_DASH[g % 4], color="#ff7f0e")))
            if rest:
                fig.add_trace(go.Scatter(x=after, y=f32(moms[after - 1, g]), mode="lines", yaxis="y2", line_shape="hv",
                                         name=f"momentum/β₁ ({name}) after the path stopped",
                                         line=dict(width=1.5, dash="dot", color="#c8a27a")))
        fig.update_layout(yaxis2=dict(title="momentum / β₁", overlaying="y", side="right", showgrid=False,
                                      range=fitted_range(moms)))
    _epoch_lines(fig, trace)
    app_layout(fig, "learning rate used during each step" + (" (dotted: epoch boundaries)" if trace.config.scheduler and
                                                           trace.config.scheduler.interval == "epoch" else ""), height)
    fig.update_xaxes(title="step")
    # yaxis only: update_yaxes would retitle the momentum axis too
    fig.update_layout(yaxis=dict(title="lr", range=fitted_range(schedule[0] if rest else trace.lrs), exponentformat="e"))    # 1e−6, not 1μ
    return fig


def fitted_range(values, pad: float = 0.05) -> list[float] | None:
    """A linear axis range around the finite values: 5% beyond a spread, ±50% around a constant (plotly's own
    autorange puts a constant c on [c − 1, c + 1], where lr 0.001 reads as 0); None when nothing is finite."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return None
    lo, hi = float(v.min()), float(v.max())
    if hi > lo:
        return [lo - pad * (hi - lo), hi + pad * (hi - lo)]
    half = 0.5 * abs(lo) if lo != 0 else 1.0
    return [lo - half, lo + half]


def state_figure(trace: Trace, height: int = 380) -> go.Figure:
    """Each tensor of torch's optimizer state after every step, per coordinate (a per-parameter scalar once)."""
    fig = go.Figure()
    steps = np.arange(1, trace.steps + 1)
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]
    scalars = scalar_state(trace)
    for i, (name, v) in enumerate(sorted(trace.state.items())):
        for c, coord in enumerate("x" if name in scalars else "xy"):
            lacks = len(trace.groups) == 2 and bool(np.isnan(v[:, c]).all())  # that parameter group keeps no such entry
            label = f"{name}[{coord}]" + (f": NaN, group {coord} keeps no {name}" if lacks else "")
            fig.add_trace(go.Scatter(x=steps, y=f32(v[:, c]), mode="lines", name=name if name in scalars else label,
                                     legendgroup=name,
                                     line=dict(color=palette[i % len(palette)], dash="solid" if c == 0 else "dash", width=2)))
    app_layout(fig, "optimizer.state after each step (solid: x, dashed: y)", height)
    fig.update_xaxes(title="step")
    fig.update_yaxes(title="state value")
    if not trace.state:
        fig.add_annotation(text="this optimizer keeps no state with these settings", showarrow=False, font=dict(size=18),
                           xref="paper", yref="paper", x=0.5, y=0.5)
    return fig


def evaluations_figure(trace: Trace, height: int = 320) -> go.Figure:
    fig = go.Figure(go.Bar(x=np.arange(1, trace.steps + 1), y=trace.evaluations, marker_color="#444"))
    app_layout(fig, f"closure calls per step() — {int(trace.evaluations.sum())} in all", height)
    fig.update_xaxes(title="step")
    fig.update_yaxes(title="evaluations")
    return fig


# -- fast assembly for pages that rerun on every slider move ------------------------------------------------
# Building a go.Figure validates every trace and frame (~0.3 ms each: ~200 ms for an animated contour), and
# st.plotly_chart deep-copies it again on every rerun. The functions below build the same picture as plain data.

def contour_with_paths(base: dict, paths: list[Path], animate: bool = True, arrows: bool = True,
                       surface=None) -> FrozenFigure:
    """The paths drawn on a (cached) ``contour_base``. With ``surface``, a single path's last frame also gets its
    gradient arrow (the trace records gradients only where a step was taken)."""
    (x0, x1), (y0, y1) = base["layout"]["xaxis"]["range"], base["layout"]["yaxis"]["range"]
    data = list(base["data"])
    first_path = len(data)
    for p in paths:
        pos = p.trace.positions
        data.append(dict(type="scatter", x=f32(pos[:, 0]), y=f32(pos[:, 1]), mode="lines+markers", name=p.label,
                         line=dict(color=p.colour, width=2.5, dash=p.dash), marker=dict(size=4),
                         customdata=_hover(p.trace).tolist(), hovertemplate="%{customdata}<extra>" + p.label + "</extra>"))
        data.append(dict(type="scatter", x=[float(pos[0, 0])], y=[float(pos[0, 1])], mode="markers", showlegend=False,
                         hoverinfo="skip", marker=dict(symbol="circle-open", size=14, color=p.colour, line=dict(width=3))))
    spec = {"data": data, "layout": dict(base["layout"])}
    exits = merged_notes([(p.label if len(paths) > 1 else "", note) for p in paths
                          if (note := exit_note(p, (x0, x1), (y0, y1))) is not None], (x1 - x0, y1 - y0))
    if exits:
        spec["layout"]["annotations"] = [*spec["layout"].get("annotations", ()), *exits]
    if animate and paths:
        final_grad = final_gradient(surface, paths[0].trace) if surface is not None and len(paths) == 1 else None
        _animate_data(spec, paths, first_path, max(x1 - x0, y1 - y0), arrows, final_grad)
    return FrozenFigure(spec)


def merged_notes(notes: list[tuple[str, dict]], span: tuple[float, float], near: float = 0.04) -> list[dict]:
    """Exit notes of several paths, each named by its path's label; notes within ``near`` of the plot's size of one
    another (optimizers that leave together, e.g. Adam and AdamW at step 1) become one note naming them all."""
    groups: list[list[tuple[str, dict]]] = []
    for label, note in notes:
        group = next((g for g in groups if abs(g[0][1]["x"] - note["x"]) <= near * span[0]
                      and abs(g[0][1]["y"] - note["y"]) <= near * span[1]), None)
        if group is None:
            groups.append([(label, note)])
        else:
            group.append((label, note))
    out = []
    for group in groups:
        first = group[0][1]
        if not any(label for label, _ in group):
            out.append(first)
        elif len(group) == 1:
            out.append({**first, "text": f"{group[0][0]}: {first['text']}"})
        else:       # the points differ a little: the note names who left and when; hovering a path gives its points
            steps = [re.search(r"step (\d+)", n["text"]).group(1) for _, n in group]
            names = [label for label, _ in group] if len(set(steps)) == 1 else [f"{label} (step {k})" for (label, _), k in zip(group, steps, strict=True)]
            rows = [", ".join(names[i:i + 4]) for i in range(0, len(names), 4)]     # four names a line: the note stays narrow
            who = ",<br>".join(rows) + (f"<br>left the plot at step {steps[0]}" if len(set(steps)) == 1 else "<br>left the plot")
            out.append({**first, "text": who})
    return out


def exit_note(p: Path, xr: tuple[float, float], yr: tuple[float, float]) -> dict | None:
    """Where a path leaves the plot: an annotation on the plot's edge at the crossing, pointing out, naming the step and
    the point it went to (and where the run ended, if later); None while the path stays inside."""
    pos = p.trace.positions
    inside = np.isfinite(pos).all(axis=1) & (pos[:, 0] >= xr[0]) & (pos[:, 0] <= xr[1]) & (pos[:, 1] >= yr[0]) & (pos[:, 1] <= yr[1])
    if inside.all() or not inside[0]:
        return None          # a start outside the plot is the start controls' business, not a departure
    k = int(np.argmin(inside))
    a, b = pos[k - 1], pos[k]
    if np.isfinite(b).all():
        # from a (inside) towards b, the first edge reached in the direction of travel (Liang–Barsky clipping)
        d = b - a
        t = min(((hi if di > 0 else lo) - ai) / di for ai, di, (lo, hi) in zip(a, d, (xr, yr), strict=True) if di != 0)
        at = np.clip(a + t * d, (xr[0], yr[0]), (xr[1], yr[1]))
        text = f"left the plot at step {k} → ({b[0]:.4g}, {b[1]:.4g})"
        last = pos[-1]
        if len(pos) - 1 > k and np.isfinite(last).all():
            text += f"<br>at step {len(pos) - 1}: ({last[0]:.4g}, {last[1]:.4g})"
    else:
        at, text = a, f"step {k} went to a non-finite point"
    # the text sits inside the plot, pushed away from the edge the path crossed
    w, h = xr[1] - xr[0], yr[1] - yr[0]
    side_x = -1 if at[0] <= xr[0] + 1e-9 * w else 1 if at[0] >= xr[1] - 1e-9 * w else 0
    side_y = 1 if at[1] >= yr[1] - 1e-9 * h else -1 if at[1] <= yr[0] + 1e-9 * h else 0
    return dict(x=float(at[0]), y=float(at[1]), xref="x", yref="y", text=text, showarrow=True, arrowhead=2, arrowsize=1.2,
                arrowwidth=2, arrowcolor=p.colour, ax=-40 * side_x, ay=40 * side_y,
                xanchor={-1: "left", 1: "right"}.get(side_x, "center"), yanchor={1: "top", -1: "bottom"}.get(side_y, "middle"),
                font=dict(size=13, color="#222"), bgcolor="rgba(255,255,255,0.85)", bordercolor=p.colour, borderwidth=1)


def _animate_data(spec: dict, paths: list[Path], first_path: int, span: float, arrows: bool, final_grad=None) -> None:
    """Head markers, arrow slots, frames, Play/Pause and the step slider, as plain data. Each path grows to step t
    with a marker at its head; a single path carries its arrows at every frame, and the figure opens on the last
    frame (arrows included)."""
    data = spec["data"]
    steps = frame_steps(max(p.trace.steps for p in paths))
    single = len(paths) == 1 and arrows
    n_arrow = 3 if single else 0
    head_start = len(data)
    for p in paths:
        data.append(dict(type="scatter", x=[float(p.trace.positions[-1, 0])], y=[float(p.trace.positions[-1, 1])],
                         mode="markers", showlegend=False, hoverinfo="skip",
                         marker=dict(size=14, color=p.colour, line=dict(color="white", width=2))))
    for i in range(n_arrow):
        data.append(dict(type="scatter", x=[None], y=[None], mode="lines", line=dict(width=3), name=f"arrow {i}",
                         showlegend=False, hoverinfo="skip"))
    frames = []
    # several paths' frames only draw: each point rounded to ~1e-4 of the plot's span (a tenth of a pixel) sends a
    # quarter fewer bytes on every rerun than float32's nine digits; the paths' own traces (and their hover text) keep
    # the run's numbers, and a single path keeps them in its frames too (its arrows start at its exact head)
    shown = [p.trace.positions if single else np.round(p.trace.positions, max(0, 4 - math.ceil(math.log10(span)))) for p in paths]
    for t in steps:
        fdata, idx = [], []
        for j, p in enumerate(paths):
            m = int(min(t, p.trace.steps))
            pos = shown[j]
            fdata += [dict(type="scatter", x=f32(pos[: m + 1, 0]), y=f32(pos[: m + 1, 1])),
                      dict(type="scatter", x=[float(pos[m, 0])], y=[float(pos[m, 1])])]
            idx += [first_path + 2 * j, head_start + j]
        if single:
            arrows_t = _state_arrows(paths[0].trace, int(min(t, paths[0].trace.steps)), span, final_grad)
            for i in range(n_arrow):
                if i < len(arrows_t):
                    label, colour, xs, ys = arrows_t[i]
                    fdata.append(dict(type="scatter", x=[_plain_float(v) for v in xs], y=[_plain_float(v) for v in ys],
                                      line=dict(color=colour), name=label, showlegend=True))
                else:
                    fdata.append(dict(type="scatter", x=[None], y=[None], showlegend=False))
                idx.append(head_start + len(paths) + i)
        frames.append(dict(data=fdata, traces=idx, name=str(t)))
    spec["frames"] = frames
    if single:  # what shows on load and after Play: the last frame, arrows included
        for d, i in zip(frames[-1]["data"][-n_arrow:], frames[-1]["traces"][-n_arrow:]):
            data[i] = {**data[i], **d}
    spec["layout"].update(_animation_layout(steps, spec["layout"].get("margin", {})))


def _plain_float(v) -> float | None:
    return None if v is None else float(v)


def _animation_layout(steps: np.ndarray, margin: dict) -> dict:
    return dict(
        updatemenus=[dict(type="buttons", direction="left", x=0.0, y=-0.08, xanchor="left", yanchor="top", pad=dict(t=10),
                          buttons=[dict(label="▶ Play", method="animate",
                                        args=[None, dict(frame=dict(duration=80, redraw=False), fromcurrent=True,
                                                         transition=dict(duration=0))]),
                                   dict(label="❚❚ Pause", method="animate",
                                        args=[[None], dict(frame=dict(duration=0, redraw=False), mode="immediate")])])],
        sliders=[dict(active=len(steps) - 1, x=0.18, len=0.82, y=-0.05, yanchor="top",
                      currentvalue=dict(prefix="step ", xanchor="right"),
                      steps=[dict(label=str(t), method="animate",
                                  args=[[str(t)], dict(mode="immediate", frame=dict(duration=0, redraw=False))])
                             for t in steps])],
        margin={**margin, "b": 110},
    )


@functools.lru_cache(maxsize=16)
def _loss_layout(known_f_star: bool, height: int, log: bool) -> dict:
    return loss_figure([], 0.0 if known_f_star else None, height, log).to_dict()["layout"]


def loss_figure_fast(paths: list[Path], f_star: float | None = None, height: int = 380, log: bool = True) -> FrozenFigure:
    """The picture of ``loss_figure(paths, f_star, height, log)`` as plain data on a cached layout."""
    data = [dict(type="scatter", x=np.arange(len(p.trace.losses)), y=_loss_values(p, f_star, log), mode="lines",
                 name=p.label, line=dict(color=p.colour, dash=p.dash, width=2.5)) for p in paths]
    layout = _loss_layout(f_star is not None, height, log)
    if log and paths:
        layout = {**layout, "yaxis": {**layout["yaxis"], **log_ticks([d["y"] for d in data])}}
    return FrozenFigure({"data": data, "layout": layout})
