"""Figures of the seed's lessons (Inside step(), Scheduler Lab, Pitfalls Lab): records in, go.Figure (or code markup) out."""
from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .base import app_layout, contour_levels, f32, label_log_axes

GROUP_COLOURS = ("#1f77b4", "#d62728", "#2ca02c")
GROUP_DASH = ("solid", "dash", "dot")     # groups that share a curve (CyclicLR, OneCycleLR) stay visible
ROLE_COLOURS = {"right": "#2ca02c", "wrong": "#d62728", "wrong2": "#ff7f0e", "other": "#9467bd"}
ROLE_BADGES = {"right": "✓", "wrong": "✗", "other": "↔"}
MARK_BACKGROUND = {"right": "#d9f2d9", "wrong": "#fbdcdc", "other": "#eadcf5", "phase": "#fff2b3"}
OVERLAY_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf")


# -- code with highlighted lines -------------------------------------------------------------------------

def code_html(code: str | list[str], marks: set[int] | dict[int, str] = frozenset(), mark: str = "phase",
              size: str = "1.05rem") -> str:
    """A <pre> block of the code with the marked lines (0-based) on a coloured background; nothing else is styled."""
    lines = code.splitlines() if isinstance(code, str) else list(code)
    kinds = marks if isinstance(marks, dict) else {i: mark for i in marks}
    out = []
    for i, line in enumerate(lines):
        text = html.escape(line) or " "
        if i in kinds:
            colour = MARK_BACKGROUND.get(kinds[i], kinds[i])
            out.append(f'<span style="display:block;background:{colour};font-weight:600">{text}</span>')
        else:
            out.append(f'<span style="display:block">{text}</span>')
    return (f'<pre style="font-size:{size};line-height:1.45;padding:0.7em 0.9em;border-radius:6px;'
            f'background:#f6f8fa;color:#1f2328;overflow-x:auto;white-space:pre">' + "".join(out) + "</pre>")


# -- Inside step(): where the step went ----------------------------------------------------------------------

def step_figure(surface, positions: np.ndarray, t: int, colour: str, probes: np.ndarray | None = None,
                height: int = 520, n_grid: int = 120) -> go.Figure:
    """The contour with the run so far, step t's move as an arrow, and (LBFGS) every closure call inside step t."""
    xs, ys, z = surface.grid(n_grid)
    zc, zlabel = contour_levels(z, surface.log_contours)
    (x0, x1), (y0, y1) = surface.domain
    fig = go.Figure(go.Contour(x=f32(xs), y=f32(ys), z=f32(zc), colorscale="Viridis", ncontours=25, opacity=0.8,
                               showscale=False, hoverinfo="skip", line=dict(width=0.5), name=zlabel))
    mins = [m for m in surface.minima if x0 <= m.point[0] <= x1 and y0 <= m.point[1] <= y1]
    if mins:
        fig.add_trace(go.Scatter(x=[m.point[0] for m in mins], y=[m.point[1] for m in mins], mode="markers", name="minimum",
                                 marker=dict(symbol="star", size=18, color="white", line=dict(color="black", width=1.5))))
    done = positions[: t + 1]
    fig.add_trace(go.Scatter(x=f32(positions[:, 0]), y=f32(positions[:, 1]), mode="lines", name="whole run",
                             line=dict(color="rgba(255,255,255,0.55)", width=2, dash="dot"), hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=f32(done[:, 0]), y=f32(done[:, 1]), mode="lines+markers", name=f"steps 1…{t}",
                             line=dict(color=colour, width=3), marker=dict(size=5),
                             hovertemplate="after step %{customdata}: (%{x:.4g}, %{y:.4g})<extra></extra>",
                             customdata=np.arange(len(done))))
    if probes is not None and len(probes):
        fig.add_trace(go.Scatter(x=f32(probes[:, 0]), y=f32(probes[:, 1]), mode="markers+text+lines",
                                 name=f"closure calls in step {t} ({len(probes)})",
                                 text=[str(i + 1) for i in range(len(probes))], textposition="top right",
                                 textfont=dict(size=15, color="white"), line=dict(color="#ff7f0e", width=1, dash="dot"),
                                 marker=dict(size=11, color="#ff7f0e", line=dict(color="black", width=1)),
                                 hovertemplate="closure call %{text}: (%{x:.4g}, %{y:.4g})<extra></extra>"))
    if t >= 1:
        a, b = positions[t - 1], positions[t]
        if np.isfinite(a).all() and np.isfinite(b).all():
            fig.add_annotation(x=float(b[0]), y=float(b[1]), ax=float(a[0]), ay=float(a[1]), xref="x", yref="y",
                               axref="x", ayref="y", showarrow=True, arrowhead=3, arrowsize=1.6, arrowwidth=3,
                               arrowcolor="white", text="")
    cur = positions[t]
    fig.add_trace(go.Scatter(x=[cur[0]], y=[cur[1]], mode="markers", name=f"p after step {t}" if t else "start",
                             marker=dict(size=16, color=colour, line=dict(color="white", width=3))))
    fig.update_xaxes(range=[x0, x1], title="x", constrain="domain")
    fig.update_yaxes(range=[y0, y1], title="y")
    return app_layout(fig, f"{surface.label}: step {t}" if t else f"{surface.label}: the start", height)


# -- Scheduler Lab --------------------------------------------------------------------------------------

def _has_momentum(s) -> bool:
    m = s.momentums
    return bool(np.isfinite(m).any()) and (s.setup.spec.cycles_momentum or float(np.nanmax(m) - np.nanmin(m)) > 0)


MAX_EPOCH_LINES = 30


def epoch_line_stride(epochs: int, steps_per_epoch: int) -> int | None:
    """Every how many epochs schedule_figure draws a dotted line: 1, or a round 2, 5, 10, … that keeps the lines at
    MAX_EPOCH_LINES or fewer; None when there is no line to draw (one epoch) or an epoch is a single step."""
    if epochs <= 1 or steps_per_epoch <= 1:
        return None
    return next(k for m in (1, 10, 100, 1000) for k in (m, 2 * m, 5 * m) if epochs // k <= MAX_EPOCH_LINES)


def _epoch_lines(s, log_y: bool) -> go.Scatter | None:
    """Dotted lines between epochs spanning the lr data, as one trace (shapes or add_vline per line are slow)."""
    spe, n = s.setup.steps_per_epoch, s.steps
    lrs = s.lrs[np.isfinite(s.lrs) & ((s.lrs > 0) if log_y else True)]
    stride = epoch_line_stride(n // max(spe, 1), spe)
    if stride is None or lrs.size == 0:
        return None
    lo, hi = float(lrs.min()), float(lrs.max())
    xs, ys = [], []
    for e in range(stride * spe, n, stride * spe):
        xs += [e + 0.5, e + 0.5, None]
        ys += [lo, hi, None]
    return go.Scatter(x=xs, y=ys, mode="lines", line=dict(color="#c8c8c8", width=1, dash="dot"), hoverinfo="skip",
                      showlegend=False)


def schedule_figure(schedules: list, log_y: bool = False, height: int | None = None) -> go.Figure:
    """Side by side (one column per schedule): the lr of every group during each optimizer step, the momentum / β₁
    under it when it moves, and the loss a ReduceLROnPlateau watches."""
    cols = len(schedules)
    mom = any(_has_momentum(s) for s in schedules)
    loss = any(s.setup.spec.needs_metric for s in schedules)
    rows = 1 + mom + loss
    titles = []
    for r in range(rows):
        for s in schedules:
            titles.append(s.label if r == 0 else "")
    fig = make_subplots(rows=rows, cols=cols, shared_xaxes=True, subplot_titles=titles, vertical_spacing=0.08,
                        horizontal_spacing=0.07, row_heights=[0.55] + [0.45 / (rows - 1)] * (rows - 1) if rows > 1 else None)
    for c, s in enumerate(schedules, start=1):
        steps = np.arange(1, s.steps + 1)
        spe = s.setup.steps_per_epoch
        lines = _epoch_lines(s, log_y)
        if lines is not None:
            fig.add_trace(lines, row=1, col=c)
        custom = np.stack([(steps - 1) // spe, (steps - 1) % spe], axis=1)
        for g in range(s.groups):
            fig.add_trace(go.Scatter(x=steps, y=f32(s.lrs[:, g]), mode="lines", line_shape="hv", name=f"lr, group {g}",
                                     legendgroup=f"g{g}", showlegend=c == 1,
                                     line=dict(color=GROUP_COLOURS[g], width=3, dash=GROUP_DASH[g]),
                                     customdata=custom,
                                     hovertemplate=f"group {g}<br>optimizer step %{{x}} "
                                                   "(epoch %{customdata[0]}, batch %{customdata[1]})"
                                                   "<br>lr during this step: %{y:.5g}<extra></extra>"), row=1, col=c)
        r = 2
        if mom:
            for g in range(s.groups):
                fig.add_trace(go.Scatter(x=steps, y=f32(s.momentums[:, g]), mode="lines", line_shape="hv",
                                         name=f"momentum / β₁, group {g}", legendgroup=f"m{g}", showlegend=c == 1,
                                         line=dict(color=GROUP_COLOURS[g], width=2, dash=GROUP_DASH[g])),
                              row=r, col=c)
            fig.update_yaxes(title_text="momentum / β₁", row=r, col=c)
            r += 1
        if loss:
            fig.add_trace(go.Scatter(x=steps, y=f32(s.losses), mode="lines", name="loss it watches", showlegend=c == 1,
                                     line=dict(color="#555", width=1.5)), row=r, col=c)
            fig.update_yaxes(title_text="loss", row=r, col=c)
        fig.update_yaxes(title_text="lr", type="log" if log_y else "linear", row=1, col=c)
        fig.update_xaxes(title_text="optimizer step", row=rows, col=c)
    total = height or 320 + 200 * rows
    app_layout(fig, "lr during each optimizer step (a point at step t is the lr that step t used)", total)
    # the legend under the x axis' ticks and title: 75 px below the plot, whatever the figure's height
    fig.update_layout(margin=dict(b=125), legend=dict(orientation="h", x=0.0, xanchor="left", y=-75 / max(total - 60 - 125, 1),
                                                      yanchor="top"))
    fig.update_annotations(font=dict(size=17))
    return label_log_axes(fig)


def overlay_figure(schedules: list, group: int = 0, log_y: bool = False, height: int = 420) -> go.Figure:
    """Several schedulers in the same loop, group `group`'s lr during each optimizer step."""
    fig = go.Figure()
    for i, s in enumerate(schedules):
        steps = np.arange(1, s.steps + 1)
        g = min(group, s.groups - 1)
        fig.add_trace(go.Scatter(x=steps, y=f32(s.lrs[:, g]), mode="lines", line_shape="hv", name=s.label,
                                 line=dict(color=OVERLAY_COLOURS[i % len(OVERLAY_COLOURS)], width=4 if i == 0 else 2.5,
                                           dash="solid" if i == 0 else "dash")))
    fig.update_xaxes(title="optimizer step")
    fig.update_yaxes(title=f"lr (group {group})", type="log" if log_y else "linear")
    return label_log_axes(app_layout(fig, "overlay: the same loop with other schedulers (their default options)", height))


# -- Pitfalls Lab -----------------------------------------------------------------------------------------

def role_colours(snippets) -> list[str]:
    out, wrong = [], 0
    for s in snippets:
        if s.role in ("right", "other"):
            out.append(ROLE_COLOURS[s.role])
        else:
            out.append(ROLE_COLOURS["wrong" if wrong == 0 else "wrong2"])
            wrong += 1
    return out


def pitfall_figure(pitfall, outcome, height: int = 430) -> go.Figure:
    """One panel per series, one line per snippet (green: right, red/orange: wrong); an empty run says why."""
    series = outcome.series
    fig = make_subplots(rows=1, cols=len(series), subplot_titles=[s.title for s in series], horizontal_spacing=0.1)
    fig.update_annotations(font=dict(size=17))
    colours = role_colours(pitfall.snippets)
    for c, s in enumerate(series, start=1):
        for i, (snip, values) in enumerate(zip(pitfall.snippets, s.values, strict=False)):
            v = np.asarray(values, dtype=np.float64)
            x = np.arange(s.steps_from, s.steps_from + len(v))
            y = np.where(v > 0, v, np.nan) if s.log else v
            fig.add_trace(go.Scatter(x=x, y=f32(y), mode="lines+markers" if len(v) <= 60 else "lines", name=snip.label,
                                     legendgroup=snip.label, showlegend=c == 1, marker=dict(size=6),
                                     line=dict(color=colours[i], width=3 if snip.role == "right" else 2.5,
                                               dash="solid" if snip.role == "right" else "dash")), row=1, col=c)
            if len(v) == 0:
                fig.add_annotation(text=f"{snip.label}: torch raised before any step", showarrow=False,
                                   font=dict(size=16, color=colours[i]),
                                   xref=f"x{c if c > 1 else ''} domain", yref=f"y{c if c > 1 else ''} domain",
                                   x=0.5, y=0.5 - 0.1 * i)
        fig.update_xaxes(title_text=s.x_label, row=1, col=c)
        fig.update_yaxes(title_text=s.y_label, type="log" if s.log else "linear", row=1, col=c)
    label_log_axes(app_layout(fig, "", height))
    return fig.update_layout(margin=dict(t=50, b=110), legend=dict(orientation="h", x=0.0, xanchor="left", y=-0.2,
                                                                  yanchor="top"))
