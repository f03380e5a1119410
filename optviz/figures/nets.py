"""Figures of the Small Nets lesson: NetTrace / Landscape records in, plotly `go.Figure` out (no Streamlit here)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from optviz.core.optimizers import get_optimizer
from optviz.nets.landscape import Landscape
from optviz.nets.training import NetTrace

from .base import FONT, app_layout, f32, label_log_axes

CLASS_COLOURS = ("#1f77b4", "#d62728", "#2ca02c")
GROUP_DASH = {"base": "solid", "classifier": "dash", "model": "solid"}
SECOND_COLOUR = "#6a3d9a"         # the second run, when both use the same optimizer
MAX_POINTS_PER_LINE = 1500


@dataclass(frozen=True)
class Run:
    """One training run to draw: its trace, legend label and colour (the optimizer's)."""

    trace: NetTrace
    label: str
    colour: str


def runs_of(traces: list[NetTrace], labels: list[str] | None = None) -> list[Run]:
    """One Run per trace in its optimizer's colour; a second run of the same optimizer gets another colour."""
    out: list[Run] = []
    for i, tr in enumerate(traces):
        colour = get_optimizer(tr.config.optimizer.name).colour
        if any(r.colour == colour for r in out):
            colour = SECOND_COLOUR
        out.append(Run(tr, labels[i] if labels else tr.config.optimizer.name, colour))
    return out


def _thin(n: int) -> np.ndarray:
    """Indices of at most MAX_POINTS_PER_LINE evenly spread steps (long runs stay light in the browser)."""
    return np.unique(np.linspace(0, n - 1, min(n, MAX_POINTS_PER_LINE)).round().astype(int)) if n else np.arange(0)


def _positive(a: np.ndarray) -> np.ndarray:
    return f32(np.where(a > 0, a, np.nan))


def _finish(fig: go.Figure, title: str, height: int) -> go.Figure:
    """The app's layout, with the legend above the subplot titles."""
    label_log_axes(app_layout(fig, title, height))
    fig.update_layout(legend=dict(y=1.06), margin=dict(t=100))
    fig.update_annotations(font=FONT)
    return fig


def epoch_means(values: np.ndarray, steps_per_epoch: int) -> tuple[np.ndarray, np.ndarray]:
    """(last step of each epoch, mean over the epoch's steps) of a (S, …) per-step series."""
    starts = np.arange(0, len(values), steps_per_epoch)
    if not len(starts):
        return starts, values[:0]
    counts = np.diff(np.append(starts, len(values)))
    sums = np.add.reduceat(values, starts, axis=0)
    return starts + counts, sums / counts.reshape(-1, *([1] * (values.ndim - 1)))


# -- per epoch ----------------------------------------------------------------------------------------

def metrics_figure(runs: list[Run], height: int = 420) -> go.Figure:
    """Loss (log scale) and accuracy / R² per epoch; solid = training set, dotted = test set."""
    score = runs[0].trace.score_name
    fig = make_subplots(rows=1, cols=2, subplot_titles=("loss", score), horizontal_spacing=0.08)
    for r in runs:
        tr = r.trace
        epochs = np.arange(tr.epochs + 1)
        for col, (train, test) in enumerate(((tr.train_loss, tr.test_loss), (tr.train_score, tr.test_score)), start=1):
            for values, part, dash in ((train, "train", "solid"), (test, "test", "dot")):
                fig.add_trace(go.Scatter(x=epochs, y=_positive(values) if col == 1 else f32(values), mode="lines",
                                         name=f"{r.label} · {part}", legendgroup=f"{r.label}{part}", showlegend=col == 1,
                                         line=dict(color=r.colour, dash=dash, width=3)), row=1, col=col)
    loss = "MSE" if runs[0].trace.config.dataset.regression else "cross-entropy"
    fig.update_yaxes(type="log", title=f"{loss} loss", row=1, col=1)
    fig.update_yaxes(title=score, row=1, col=2)
    if score == "accuracy":
        fig.update_yaxes(range=[0, 1.02], row=1, col=2)
    fig.update_xaxes(title="epoch")
    return _finish(fig, "per epoch: training set (solid) and test set (dotted)", height)


# -- per step ------------------------------------------------------------------------------------------

def _step_axis(fig: go.Figure, runs: list[Run], row: int) -> None:
    """Title the bottom row's axis: epochs, with a point per optimizer step."""
    per = sorted({r.trace.config.steps_per_epoch for r in runs})
    fig.update_xaxes(title=f"epoch (a point per optimizer step: {' or '.join(map(str, per))} per epoch)", row=row)


def lr_figure(runs: list[Run], height_per_row: int = 240) -> go.Figure:
    """The lr and momentum/β₁ of each parameter group while each step ran (solid: base, dashed: classifier), and the
    closure calls per step where an optimizer (LBFGS) makes several."""
    panels = ["lr"]
    if any(np.isfinite(r.trace.momentums).any() for r in runs):
        panels.append("momentum")
    if any(r.trace.evaluations.max(initial=1) > 1 for r in runs):
        panels.append("evaluations")
    titles = {"lr": "lr of each group", "momentum": "momentum / β₁ of each group",
              "evaluations": "closure calls inside each step(closure)"}
    fig = make_subplots(rows=len(panels), cols=1, shared_xaxes=True, vertical_spacing=0.22 / len(panels),
                        subplot_titles=[titles[p] for p in panels])
    row = {p: i + 1 for i, p in enumerate(panels)}
    for i, r in enumerate(runs):
        tr = r.trace
        idx = _thin(tr.steps)
        steps = (idx + 1) / tr.config.steps_per_epoch     # in epochs, so runs with other batch counts line up
        for g, name in enumerate(tr.groups):
            wide = i == 0 and len(runs) > 1      # the first run drawn wider, so equal values stay visible
            style = dict(color=r.colour, dash=GROUP_DASH[name], width=5 if wide else 3)
            fig.add_trace(go.Scatter(x=steps, y=f32(tr.lrs[idx, g]), mode="lines", line_shape="hv", line=style,
                                     name=f"{r.label} · {name}", legendgroup=f"{r.label}{name}"), row=1, col=1)
            if "momentum" in row and np.isfinite(tr.momentums[:, g]).any():
                fig.add_trace(go.Scatter(x=steps, y=f32(tr.momentums[idx, g]), mode="lines", line_shape="hv", line=style,
                                         name=f"{r.label} · {name}", legendgroup=f"{r.label}{name}", showlegend=False),
                              row=row["momentum"], col=1)
        if "evaluations" in row:
            fig.add_trace(go.Bar(x=steps, y=tr.evaluations[idx], marker_color=r.colour, name=f"{r.label} · closure calls",
                                 showlegend=False), row=row["evaluations"], col=1)
    fig.update_yaxes(title="lr", row=1, col=1, rangemode="tozero")
    axis_titles = {"momentum": "momentum / β₁", "evaluations": "closure calls"}
    for p in panels[1:]:
        fig.update_yaxes(title=axis_titles[p], row=row[p], col=1)
    _step_axis(fig, runs, len(panels))
    grouped = any(len(r.trace.groups) > 1 for r in runs)
    title = ("what each parameter group ran with (solid: model.base, dashed: model.classifier)" if grouped
             else "what the optimizer's one group, model.parameters(), ran with")
    return _finish(fig, title, height_per_row * len(panels) + 140)


def norms_figure(runs: list[Run], height_per_row: int = 300) -> go.Figure:
    """Per group and step: ‖gradient‖, ‖update‖ = ‖θ_t − θ_{t−1}‖ and the norm of each optimizer-state tensor (log scale)."""
    names = ["gradient", "update", *dict.fromkeys(k for r in runs for k in r.trace.state_norms)]
    titles = {"gradient": "‖gradient‖ before step()", "update": "‖update‖ made by step()"}
    cols = 2
    rows = -(-len(names) // cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[titles.get(n, f"‖{n}‖ (optimizer.state)") for n in names],
                        vertical_spacing=0.3 / rows, horizontal_spacing=0.12)     # room for the right column's y title
    for r in runs:
        tr = r.trace
        idx = _thin(tr.steps)
        spe = tr.config.steps_per_epoch
        series = {"gradient": tr.grad_norms, "update": tr.update_norms, **tr.state_norms}
        for k, name in enumerate(names):
            if name not in series:
                continue
            at = dict(row=k // cols + 1, col=k % cols + 1)
            ends, means = epoch_means(series[name], spe)
            for g, part in enumerate(("base", "classifier")):
                group = f"{r.label}{part}"
                if spe > 1:     # every step, faint; the epoch's mean on top
                    fig.add_trace(go.Scatter(x=(idx + 1) / spe, y=_positive(series[name][idx, g]), mode="lines", hoverinfo="skip",
                                             line=dict(color=r.colour, dash=GROUP_DASH[part], width=1), opacity=0.3,
                                             legendgroup=group, showlegend=False), **at)
                fig.add_trace(go.Scatter(x=ends / spe, y=_positive(means[:, g]), mode="lines",
                                         line=dict(color=r.colour, dash=GROUP_DASH[part], width=3),
                                         name=f"{r.label} · {part}", legendgroup=group, showlegend=k == 0), **at)
    fig.update_yaxes(type="log", exponentformat="power")
    for k, name in enumerate(names):
        fig.update_yaxes(title=f"‖{name}‖", row=k // cols + 1, col=k % cols + 1)
        fig.update_xaxes(title="epoch", row=k // cols + 1, col=k % cols + 1)
    _step_axis(fig, runs, rows)
    return _finish(fig, "each group, step by step (thick: the epoch's mean)", height_per_row * rows + 100)


# -- decision boundary over epochs ----------------------------------------------------------------------

def _light(hex_colour: str, share: float) -> str:
    """The colour mixed with white (share 0: white, 1: the colour)."""
    rgb = [int(hex_colour[i: i + 2], 16) for i in (1, 3, 5)]
    return "rgb({},{},{})".format(*(round(255 + (c - 255) * share) for c in rgb))


def _class_scale(n: int) -> list:
    """Colour bands [c, c+1) per class c (z from 0 to n), from white (an unsure prediction) to a light tint of the class
    colour (a confident one), light enough for the data points on top to stay visible."""
    stops = []
    for c in range(n):
        top = (c + 1) / n - (1e-6 if c < n - 1 else 0)
        stops += [[c / n, _light(CLASS_COLOURS[c], 0.0)], [top, _light(CLASS_COLOURS[c], 0.42)]]
    return stops


def _class_field(probs: np.ndarray) -> np.ndarray:
    """(C, ny, nx) probabilities → predicted class + confidence ∈ [0, 1) rescaled from [1/C, 1]."""
    n = probs.shape[0]
    winner = probs.argmax(axis=0)
    confidence = (probs.max(axis=0) - 1 / n) / (1 - 1 / n)
    return winner + 0.998 * np.clip(confidence, 0, 1)


def _frame_title(tr: NetTrace, epoch: int) -> str:
    return (f"epoch {epoch}: train loss {tr.train_loss[epoch]:.3g}, test {tr.score_name} {tr.test_score[epoch]:.3f}")


def boundary_figure(trace: NetTrace, height: int = 600) -> go.Figure:
    """The net's prediction over the plane (or its fit of the sine) with the data, animated over the epochs."""
    if trace.grid_y is None:
        return _fit_figure(trace, height)
    n = trace.frames.shape[1]
    fig = go.Figure(go.Heatmap(x=f32(trace.grid_x), y=f32(trace.grid_y), z=f32(_class_field(trace.frames[-1])),
                               zmin=0, zmax=n, colorscale=_class_scale(n), showscale=False, hoverinfo="skip",
                               zsmooth="best"))
    for c in range(n):
        for X, y, part, symbol in ((trace.X_train, trace.y_train, "train", "circle"), (trace.X_test, trace.y_test, "test", "x")):
            pts = X[y == c]
            fig.add_trace(go.Scatter(x=pts[:, 0], y=pts[:, 1], mode="markers", name=f"class {c} · {part}",
                                     marker=dict(color=CLASS_COLOURS[c], symbol=symbol, size=8 if part == "train" else 9,
                                                 line=dict(color="white", width=1))))
    frames = [go.Frame(data=[go.Heatmap(z=f32(_class_field(p)))], traces=[0], name=str(e),
                       layout=dict(title=dict(text=_frame_title(trace, e))))
              for e, p in zip(trace.frame_epochs.tolist(), trace.frames, strict=True)]
    fig.update_xaxes(title="x₁", range=[trace.grid_x[0], trace.grid_x[-1]], constrain="domain")
    fig.update_yaxes(title="x₂", range=[trace.grid_y[0], trace.grid_y[-1]], scaleanchor="x")
    app_layout(fig, _frame_title(trace, int(trace.frame_epochs[-1])), height)
    fig.update_layout(legend=dict(x=0.0, xanchor="left", y=1.0, yanchor="bottom"), margin=dict(t=120))
    _animate(fig, frames, redraw=True)
    return fig


def _fit_figure(trace: NetTrace, height: int) -> go.Figure:
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=f32(trace.grid_x), y=f32(trace.frames[-1]), mode="lines", name="the net's fit",
                             line=dict(color="#d62728", width=4)))
    fig.add_trace(go.Scatter(x=trace.X_train[:, 0], y=trace.y_train, mode="markers", name="train",
                             marker=dict(color="#1f77b4", size=7, opacity=0.7)))
    fig.add_trace(go.Scatter(x=trace.X_test[:, 0], y=trace.y_test, mode="markers", name="test",
                             marker=dict(color="#1f77b4", size=9, symbol="x")))
    frames = [go.Frame(data=[go.Scatter(y=f32(f))], traces=[0], name=str(e),
                       layout=dict(title=dict(text=_frame_title(trace, e))))
              for e, f in zip(trace.frame_epochs.tolist(), trace.frames, strict=True)]
    fig.update_xaxes(title="x")
    fig.update_yaxes(title="y")
    app_layout(fig, _frame_title(trace, int(trace.frame_epochs[-1])), height)
    _animate(fig, frames, redraw=False)
    return fig


def _animate(fig: go.Figure, frames: list[go.Frame], redraw: bool) -> None:
    """Play/Pause buttons and an epoch slider; the figure opens on the last frame."""
    fig.frames = frames
    names = [f.name for f in frames]
    fig.update_layout(
        updatemenus=[dict(type="buttons", direction="left", x=0.0, y=-0.1, xanchor="left", yanchor="top", pad=dict(t=10),
                          buttons=[dict(label="▶ Play", method="animate",
                                        args=[None, dict(frame=dict(duration=250, redraw=redraw), fromcurrent=False,
                                                         transition=dict(duration=0))]),
                                   dict(label="❚❚ Pause", method="animate",
                                        args=[[None], dict(frame=dict(duration=0, redraw=redraw), mode="immediate")])])],
        sliders=[dict(active=len(names) - 1, x=0.2, len=0.8, y=-0.06, yanchor="top", currentvalue=dict(prefix="epoch "),
                      steps=[dict(label=n, method="animate",
                                  args=[[n], dict(mode="immediate", frame=dict(duration=0, redraw=redraw))]) for n in names])],
        margin=dict(b=130),
    )


# -- loss landscape ------------------------------------------------------------------------------------

def landscape_figure(land: Landscape, runs: list[Run], height: int = 620) -> go.Figure:
    """log₁₀ of the training loss over the plane, with each run's weights (one point per snapshot) projected on it."""
    z = np.log10(np.maximum(land.losses, 1e-12))
    fig = go.Figure(go.Contour(x=f32(land.alphas), y=f32(land.betas), z=f32(z), colorscale="Viridis", ncontours=30,
                               colorbar=dict(title=dict(text="log₁₀ train loss", side="right")), line=dict(width=0.5),
                               hovertemplate="α %{x:.3g}, β %{y:.3g}<br>log₁₀ loss %{z:.3f}<extra></extra>"))
    for r, path, epochs in zip(runs, land.paths, land.epochs, strict=True):
        fig.add_trace(go.Scatter(x=f32(path[:, 0]), y=f32(path[:, 1]), mode="lines+markers", name=r.label,
                                 line=dict(color=r.colour, width=3), marker=dict(size=5, color=r.colour),
                                 customdata=epochs, hovertemplate="epoch %{customdata}<br>(%{x:.3g}, %{y:.3g})<extra></extra>"))
        fig.add_trace(go.Scatter(x=[path[0, 0]], y=[path[0, 1]], mode="markers", showlegend=False, hoverinfo="skip",
                                 marker=dict(symbol="circle-open", size=16, color=r.colour, line=dict(width=3))))
        fig.add_trace(go.Scatter(x=[path[-1, 0]], y=[path[-1, 1]], mode="markers", showlegend=False, hoverinfo="skip",
                                 marker=dict(symbol="star", size=18, color=r.colour, line=dict(color="white", width=1.5))))
    what = "principal direction" if land.method == "pca" else "random direction"
    for axis, k, update in (("α", 0, fig.update_xaxes), ("β", 1, fig.update_yaxes)):
        update(title=f"{axis}: {what} {k + 1} ({100 * land.explained[k]:.1f} % of the path's variance)")
    title = ("PCA plane of the weight trajectory (Li et al. 2018)" if land.method == "pca"
             else "random filter-normalised plane around the final weights (Li et al. 2018)")
    app_layout(fig, f"loss landscape: {title}", height)
    return fig


__all__ = ["Run", "runs_of", "metrics_figure", "lr_figure", "norms_figure", "boundary_figure", "landscape_figure"]
