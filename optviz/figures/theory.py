"""Figures for the theory pages: the (α, β) rate plane, eigenbasis paths, phase diagrams, rates, sweeps and basins."""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from optviz.core.engine import surface_of
from optviz.core.optimizers import OPTIMIZERS
from optviz.lessons.basins import DIVERGED, NOT_CONVERGED, BasinResult, category
from optviz.lessons.sweeps import SweepResult
from optviz.lessons.theory import QuadraticRun, RatePlane

from .base import app_layout, contour_levels, f32, log_ticks

SGD_COLOUR = OPTIMIZERS["SGD"].colour
PREDICTED = "#222222"
UNSTABLE = "#b0b0b0"
RATE_TICKS = (0.5, 0.9, 0.99, 0.999, 0.9999)
CRITICAL_COLOURS = ("#ff7f0e", "#e377c2")


def _legend_below(fig: go.Figure, y: float = -0.16, bottom: int = 120) -> None:
    fig.update_layout(legend=dict(orientation="h", yanchor="top", y=y, x=0, xanchor="left"), margin=dict(b=bottom))


def _rate_colour(rates: np.ndarray) -> np.ndarray:
    """Colour value log₁₀(1 − rate): spreads rates near 1 apart; NaN where unstable (drawn grey underneath)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(rates < 1, np.log10(np.maximum(1 - rates, 1e-6)), np.nan)


def rate_plane_figure(plane: RatePlane, click_grid: tuple[int, int] = (48, 36), height: int = 560) -> go.Figure:
    """Heatmap of the predicted rate over (α, β) with the stability boundary, critical damping, α*/β* and the
    current setting; an invisible grid of points makes a click choose a setting."""
    a, b = plane.alphas, plane.betas
    z = _rate_colour(plane.rates)
    fig = go.Figure()
    fig.add_trace(go.Heatmap(x=f32(a), y=f32(b), z=np.where(plane.rates >= 1, 1.0, np.nan).astype(np.float32),
                             colorscale=[[0, UNSTABLE], [1, UNSTABLE]], showscale=False, hoverinfo="skip", name="unstable"))
    zmin = float(np.nanmin(z)) if np.isfinite(z).any() else -1.0
    ticks = [t for t in RATE_TICKS if math.log10(1 - t) >= zmin - 1e-9] or [RATE_TICKS[0]]
    fig.add_trace(go.Heatmap(
        x=f32(a), y=f32(b), z=f32(z), colorscale="Viridis", reversescale=True, zmin=zmin, zmax=0, hoverinfo="skip",
        colorbar=dict(title=dict(text="rate", side="right"), tickvals=[math.log10(1 - t) for t in ticks],
                      ticktext=[f"{t:g}" for t in ticks])))
    fig.add_trace(go.Scatter(x=f32(plane.boundary), y=f32(b), mode="lines", line=dict(color="#d62728", width=3),
                             name=f"stability edge α = (2+2β)/λmax, λmax = {plane.eigenvalues[1]:.4g}", hoverinfo="skip"))
    for lam, crit, colour in zip(plane.eigenvalues, plane.critical, CRITICAL_COLOURS, strict=True):
        fig.add_trace(go.Scatter(x=f32(a), y=f32(crit), mode="lines", line=dict(color=colour, width=3, dash="dash"),
                                 name=f"critical damping, λ = {lam:.4g}", hoverinfo="skip"))
    if click_grid:
        ia = np.unique(np.linspace(0, len(a) - 1, click_grid[0]).round().astype(int))
        ib = np.unique(np.linspace(0, len(b) - 1, click_grid[1]).round().astype(int))
        ga, gb = np.meshgrid(a[ia], b[ib])
        fig.add_trace(go.Scatter(x=f32(ga.ravel()), y=f32(gb.ravel()), mode="markers", marker=dict(size=14, opacity=0),
                                 showlegend=False, name="click", customdata=f32(plane.rates[np.ix_(ib, ia)].ravel()),
                                 hovertemplate="α %{x:.4g}, β %{y:.3f}<br>rate %{customdata:.5f}<br><i>click to run it</i>"
                                               "<extra></extra>"))
    ca, cb, cr = plane.current
    fig.add_trace(go.Scatter(x=[ca], y=[cb], mode="markers", name=f"your setting (rate {cr:.5f})",
                             marker=dict(symbol="circle", size=18, color=SGD_COLOUR, line=dict(color="white", width=3)),
                             hovertemplate="α %{x:.4g}, β %{y:.4f}<extra>your setting</extra>"))
    o, g = plane.optimum, plane.gd
    fig.add_trace(go.Scatter(x=[o.alpha], y=[o.beta], mode="markers", name=f"α*, β* (rate {o.rate:.5f})",
                             marker=dict(symbol="star", size=20, color="gold", line=dict(color="black", width=1.5)),
                             hovertemplate="α* %{x:.4g}, β* %{y:.5f}<extra></extra>"))
    fig.add_trace(go.Scatter(x=[g.alpha], y=[0.0], mode="markers", name=f"best GD α (rate {g.rate:.5f})",
                             marker=dict(symbol="diamond", size=15, color="white", line=dict(color="black", width=1.5)),
                             hovertemplate="GD best α %{x:.4g}<extra></extra>"))
    fig.update_xaxes(type="log", **log_ticks(a), title="learning rate α", range=[math.log10(a[0]), math.log10(a[-1])])
    fig.update_yaxes(title="momentum β", range=[-0.04, 1.0])
    app_layout(fig, f"predicted rate max|σ| over (α, β); click to choose — λ = {plane.eigenvalues[0]:.4g}, "
            f"{plane.eigenvalues[1]:.4g}", height)
    _legend_below(fig, -0.14)
    return fig


def _ellipses(l1: float, l2: float, e1: np.ndarray, e2: np.ndarray) -> np.ndarray:
    return 0.5 * (l1 * e1[None, :] ** 2 + l2 * e2[:, None] ** 2)


def _box(pts: np.ndarray) -> tuple[float, float, float, float]:
    finite = pts[np.isfinite(pts).all(axis=1)]
    lo, hi = finite.min(axis=0), finite.max(axis=0)
    pad = 0.08 * np.maximum(hi - lo, 1e-12)
    return lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1]


def paths_figure(qr: QuadraticRun, positions: np.ndarray, surface, height: int = 500) -> go.Figure:
    """The path twice: in (x, y) on the quadratic's contours, and as errors along its eigenvectors q₁, q₂."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("original coordinates (x, y)", "eigenbasis: error along q₁, q₂"),
                        horizontal_spacing=0.1)
    for col, pts, label in ((1, positions, ("x", "y")), (2, qr.errors, ("error along q₁ (λ₁)", "error along q₂ (λ₂)"))):
        x0, x1, y0, y1 = _box(np.asarray(pts))
        xs, ys = np.linspace(x0, x1, 120), np.linspace(y0, y1, 120)
        if col == 1:
            _, _, z = surface.grid(120, domain=((x0, x1), (y0, y1)))
        else:
            z = _ellipses(*qr.eigenvalues, xs, ys)
        zc, _ = contour_levels(z, True)
        fig.add_trace(go.Contour(x=f32(xs), y=f32(ys), z=f32(zc), colorscale="Viridis", showscale=False, ncontours=25,
                                 opacity=0.75, hoverinfo="skip", line=dict(width=0.5)), row=1, col=col)
        fig.add_trace(go.Scatter(x=f32(pts[:, 0]), y=f32(pts[:, 1]), mode="lines+markers", name="torch SGD path",
                                 showlegend=col == 1, line=dict(color=SGD_COLOUR, width=2.5), marker=dict(size=4),
                                 hovertemplate="step %{pointNumber}<br>(%{x:.4g}, %{y:.4g})<extra></extra>"), row=1, col=col)
        fig.add_trace(go.Scatter(x=[pts[0, 0]], y=[pts[0, 1]], mode="markers", showlegend=False, hoverinfo="skip",
                                 marker=dict(symbol="circle-open", size=14, color=SGD_COLOUR, line=dict(width=3))),
                      row=1, col=col)
        fig.update_xaxes(title=label[0], range=[x0, x1], row=1, col=col)
        fig.update_yaxes(title=label[1], range=[y0, y1], row=1, col=col)
    app_layout(fig, "one run, two coordinate systems: (x, y) and the eigenbasis", height)
    _legend_below(fig, -0.16, 110)
    return fig


def phase_figure(qr: QuadraticRun, height: int = 460) -> go.Figure:
    """Step vs error along each eigen-direction: torch's momentum_buffer (times α, the step it makes, so both axes
    are lengths) and path against the theory's (y, x) iterated with R."""
    titles = [f"q{i + 1}: λ = {qr.eigenvalues[i]:.4g}, rate {qr.direction_rates[i]:.4f} ({_roots(qr, i)})" for i in range(2)]
    fig = make_subplots(rows=1, cols=2, subplot_titles=titles, horizontal_spacing=0.1)
    a = qr.alpha
    for i in range(2):
        x = qr.errors[1:, i]
        y = a * qr.buffers[:, i] if qr.buffers is not None else np.zeros_like(x)
        fig.add_trace(go.Scatter(x=f32(qr.predicted_errors[1:, i]), y=f32(a * qr.predicted_buffers[:, i]), mode="lines",
                                 line=dict(color=PREDICTED, width=7), opacity=0.25, name="theory: R applied k times",
                                 showlegend=i == 0, hoverinfo="skip"), row=1, col=i + 1)
        fig.add_trace(go.Scatter(x=f32(x), y=f32(y), mode="markers+lines", name="torch: (error, α · momentum_buffer)",
                                 showlegend=i == 0, line=dict(color=SGD_COLOUR, width=1), marker=dict(size=5),
                                 hovertemplate="step %{pointNumber}<br>error %{x:.4g}<br>α·buffer %{y:.4g}<extra></extra>"),
                      row=1, col=i + 1)
        fig.update_xaxes(title=f"error x along q{i + 1}", row=1, col=i + 1)
        fig.update_yaxes(title=f"step α · buffer y along q{i + 1}", row=1, col=i + 1)
    app_layout(fig, "phase diagrams: the step the buffer makes vs the error, per eigen-direction", height)
    _legend_below(fig, -0.2)
    return fig


def _roots(qr: QuadraticRun, i: int) -> str:
    """Which regime the direction is in: complex roots spiral at rate √β, a double root is critical damping."""
    a = 1 - qr.alpha * qr.eigenvalues[i] + qr.beta
    disc = a * a - 4 * qr.beta
    if abs(disc) <= 1e-9 * max(a * a, 4 * qr.beta, 1e-300):
        return "double root: critically damped"
    return "complex roots: spiral" if disc < 0 else "real roots"


PRECISION = 1e-16      # float64 keeps ~16 digits: below this fraction of the start distance the curves stop


def rate_figure(qr: QuadraticRun, height: int = 420) -> go.Figure:
    """‖w_k − c‖ on a log axis: torch's run, the theory's prediction, and the lines of the predicted and observed rates.
    Every curve stops at PRECISION × the start distance, and the x axis where torch's run stays below it: there a
    minimum away from the origin is only reached to rounding, and the decay towards one at the origin goes on for
    decades that show nothing new."""
    k = np.arange(len(qr.distances))
    d0 = qr.distances[0]
    floor = d0 * PRECISION if np.isfinite(d0) and d0 > 0 else 0.0
    reached = np.nonzero(np.isfinite(qr.distances) & (qr.distances < floor))[0]

    def above(y: np.ndarray) -> np.ndarray:
        """The curve where it is above the floor; NaN (not drawn) below it."""
        y = f32(y)
        return np.where(y >= floor, y, np.nan)

    fig = go.Figure()
    for i, dash in enumerate(("dot", "dashdot")):
        fig.add_trace(go.Scatter(x=k, y=above(np.abs(qr.errors[:, i])), mode="lines", opacity=0.7,
                                 line=dict(width=1, dash=dash, color="#9467bd"), name=f"|error along q{i + 1}|"))
    pred = np.hypot(qr.predicted_errors[:, 0], qr.predicted_errors[:, 1])
    fig.add_trace(go.Scatter(x=k, y=above(pred), mode="lines", line=dict(color=PREDICTED, width=5), opacity=0.3,
                             name="theory: ‖R^k e₀‖"))
    fig.add_trace(go.Scatter(x=k, y=above(qr.distances), mode="lines", line=dict(color=SGD_COLOUR, width=2.5),
                             name="torch: ‖w_k − c‖"))
    # the rate lines pass through the run halfway along its fitted part, so their slopes can be compared with it
    fitted = np.nonzero(np.isfinite(qr.distances) & (qr.distances > d0 * 1e-11))[0]
    m = int(fitted[-1]) // 2 if fitted.size else 0
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        fig.add_trace(go.Scatter(x=k, y=above(qr.distances[m] * qr.predicted_rate ** (k - m)), mode="lines",
                                 line=dict(color="#d62728", dash="dash", width=2),
                                 name=f"predicted rate {qr.predicted_rate:.5f}^k"))
        if np.isfinite(qr.observed):
            fig.add_trace(go.Scatter(x=k, y=above(qr.distances[m] * qr.observed ** (k - m)), mode="lines",
                                     line=dict(color="#2ca02c", dash="dot", width=2), name=f"observed rate {qr.observed:.5f}^k"))
    shown = np.nonzero(np.isfinite(qr.distances) & (qr.distances >= max(floor, 1e-300)))[0]
    end = int(shown[-1]) if shown.size else len(k) - 1
    # the y axis spans the run and its two directions (up to the x axis' end), from the floor at the lowest
    data = np.concatenate([qr.distances[:end + 1], np.abs(qr.errors[:end + 1]).ravel()])
    finite = data[np.isfinite(data) & (data > 0)]
    lo = max(float(finite.min()) if finite.size else 1e-16, floor, 1e-300)
    hi = float(finite.max()) if finite.size else 1.0
    fig.update_yaxes(type="log", **log_ticks([lo / 10 ** 0.5, hi * 10 ** 0.5]), title="distance to the minimum",
                     range=[math.log10(lo) - 0.5, math.log10(hi) + 0.5])
    fig.update_xaxes(title="step k", range=[0, max(1, min(len(k) - 1, math.ceil(1.1 * end)))])
    if lo == floor:
        fig.add_annotation(x=0, xref="x", y=math.log10(floor), yref="y", xanchor="left", yanchor="bottom", showarrow=False,
                           text="10⁻¹⁶ × the start distance (float64's precision): the curves stop here"
                                + (f"; torch's run first gets there at step {int(reached[0])}" if reached.size else ""),
                           font=dict(size=12, color="#666"))
    app_layout(fig, f"predicted rate {qr.predicted_rate:.5f} vs observed {qr.observed:.5f}", height)
    _legend_below(fig, -0.22, 140)
    return fig


# -- sweeps and basins -----------------------------------------------------------------------------

OBJECTIVES = {
    "final_loss": "final loss f − f*",
    "steps_to_tol": "steps to reach the tolerance",
    "diverged": "step at which the run diverged",
}
NEVER, DIVERGED_COLOUR = "#e3e3e3", "#4a4a4a"


def percent(f: float) -> str:
    """A share for a legend or title: one decimal below 1 % so a few cells never read as 0 %."""
    return f"{100 * f:.1f}%" if 0 < f < 0.01 else f"{100 * f:.0f}%"


def _setting(config) -> str:
    """'SGD (lr 0.01, momentum 0.9)': the optimizer and the hyperparameters that shape a path most."""
    o = config.optimizer.options
    parts = [f"lr {o['lr']:g}"]
    if o.get("momentum"):
        parts.append(f"momentum {o['momentum']:g}")
    elif "betas" in o:
        parts.append(f"β₁ {o['betas'][0]:g}")
    return f"{config.optimizer.name} ({', '.join(parts)})"


def _axis_title(param: str) -> str:
    return {"betas[0]": "β₁ (betas[0])", "betas[1]": "β₂ (betas[1])", "lr": "learning rate lr"}.get(param, param)


def sweep_figure(res: SweepResult, objective: str = "final_loss", height: int = 600,
                 marks: tuple = (), curves: tuple = ()) -> go.Figure:
    """Heatmap of one objective over the two swept hyperparameters; hover shows every number of the cell,
    grey cells never reached the tolerance or diverged; an invisible grid of points makes cells clickable.
    ``marks`` (x, y, label) and ``curves`` (xs, ys, label) overlay the theory, e.g. α*, β* and the stability edge."""
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}")
    sw = res.sweep
    ny, nx = res.final_loss.shape
    if objective == "final_loss":
        with np.errstate(divide="ignore"):
            z = np.log10(np.maximum(res.final_loss, 1e-300)) if res.f_star is not None else res.final_loss
        ztitle = "log₁₀(f − f*)" if res.f_star is not None else "f"
    elif objective == "steps_to_tol":
        z, ztitle = res.steps_to_tol, "steps"
    else:
        z, ztitle = np.where(res.diverged_at >= 0, res.diverged_at, np.nan).astype(float), "diverged at step"
    fig = go.Figure()
    # underneath: light grey where the tolerance was never reached, dark where the run diverged
    fig.add_trace(go.Heatmap(x=f32(res.xs), y=f32(res.ys), z=(res.diverged_at >= 0).astype(np.float32), zmin=0, zmax=1,
                             colorscale=[[0, NEVER], [0.5, NEVER], [0.5, DIVERGED_COLOUR], [1, DIVERGED_COLOUR]],
                             showscale=False, hoverinfo="skip"))
    fig.add_trace(go.Heatmap(x=f32(res.xs), y=f32(res.ys), z=f32(z), colorscale="Viridis", hoverinfo="skip",
                             colorbar=dict(title=dict(text=ztitle, side="right"))))
    gx, gy = np.meshgrid(res.xs, res.ys)
    scatter = go.Scattergl if nx * ny > 4096 else go.Scatter
    fig.add_trace(scatter(x=f32(gx.ravel()), y=f32(gy.ravel()), mode="markers", customdata=_cell_data(res),
                          marker=dict(size=max(4, min(16, 640 // max(nx, ny))), opacity=0), showlegend=False, name="cells",
                          hovertemplate=(f"{sw.x.param} %{{x:.4g}}<br>{sw.y.param} %{{y:.4g}}<br>final f − f*: "
                                         f"%{{customdata[2]}}<br>steps to {sw.tol:g}: %{{customdata[3]}}<br>diverged: "
                                         "%{customdata[4]}<br><i>click to open this run</i><extra></extra>")))
    for xs, ys, label in curves:
        fig.add_trace(go.Scatter(x=f32(xs), y=f32(ys), mode="lines", name=label, hoverinfo="skip",
                                 line=dict(color="#d62728", width=3, dash="dash")))
    for x, y, label in marks:
        fig.add_trace(go.Scatter(x=[x], y=[y], mode="markers", name=label, hoverinfo="skip",
                                 marker=dict(symbol="x", size=20, color="white", line=dict(color="black", width=1.5))))
    best = res.best()
    if best is not None:
        i, j = best
        fig.add_trace(go.Scatter(x=[res.xs[j]], y=[res.ys[i]], mode="markers", name="best cell", hoverinfo="skip",
                                 marker=dict(symbol="star", size=20, color="gold", line=dict(color="black", width=1.5))))
    fig.update_xaxes(**(dict(type="log", **log_ticks(res.xs)) if sw.x.log else {}), title=_axis_title(sw.x.param),
                     range=_range(res.xs, sw.x.log))
    fig.update_yaxes(**(dict(type="log", **log_ticks(res.ys)) if sw.y.log else {}), title=_axis_title(sw.y.param),
                     range=_range(res.ys, sw.y.log))
    title = {"final_loss": f"final loss f − f* after {sw.config.steps} steps",
             "steps_to_tol": f"steps until f − f* ≤ {sw.tol:g} (light grey: not within {sw.config.steps})",
             "diverged": f"step at which the run diverged (light grey: never, in {sw.config.steps})"}[objective]
    # two title lines and the legend under the map: on one line, title and legend ran over each other
    app_layout(fig, f"{sw.config.optimizer.name} on {surface_of(sw.config).label}:<br>{title}; dark grey: diverged", height)
    fig.update_layout(margin=dict(t=90))
    _legend_below(fig, -0.16, 120)
    return fig


def _cell_data(res: SweepResult) -> np.ndarray:
    """[i, j, final loss, steps to tolerance, diverged] per cell, an object array: sent as plain JSON values (not a
    typed array), which the selection event returns as they are, and validated by plotly in one go."""
    out = []
    for (i, j), loss in np.ndenumerate(res.final_loss):
        steps, div = res.steps_to_tol[i, j], int(res.diverged_at[i, j])
        out.append([i, j, "—" if np.isnan(loss) else f"{loss:.3g}", "never" if np.isnan(steps) else int(steps),
                    f"at step {div}" if div >= 0 else "no"])
    return np.array(out, dtype=object)


def _range(v: np.ndarray, log: bool) -> list[float]:
    """Axis range covering the cells' edges (half a cell beyond the first and last centres)."""
    u = np.log10(v) if log else v
    h = (u[-1] - u[0]) / (2 * (len(u) - 1))
    return [float(u[0] - h), float(u[-1] + h)]


def _basin_colours(n: int) -> list[str]:
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#e377c2", "#17becf", "#bcbd22", "#8c564b",
               "#aec7e8", "#ffbb78", "#98df8a", "#c5b0d5", "#f7b6d2", "#9edae5", "#dbdb8d", "#c49c94"]
    return [palette[i % len(palette)] for i in range(n)]


def basin_figure(results: list[BasinResult], surface, height: int = 620) -> go.Figure:
    """Each start coloured by the minimum its run reaches (black: diverged, light grey: not converged), for one or
    two optimizers side by side, over the surface's contour lines and its minima."""
    minima = results[0].minima
    colours = _basin_colours(len(minima))
    cats = [("#0 diverged", "#111111"), ("#1 not converged", "#e6e6e6")] + [
        (f"#{k + 2} {mm.label}", c) for k, (mm, c) in enumerate(zip(minima, colours, strict=True))]
    m = len(cats)
    scale = []
    for i, (_, c) in enumerate(cats):
        scale += [[i / m, c], [(i + 1) / m, c]]
    titles = []
    for r in results:
        fr = r.fractions()
        titles.append(f"{_setting(r.config)}: {percent(fr.get(DIVERGED, 0))} diverged, "
                      f"{percent(fr.get(NOT_CONVERGED, 0))} not converged")
    fig = make_subplots(rows=1, cols=len(results), subplot_titles=titles, horizontal_spacing=0.06)
    (x0, x1), (y0, y1) = (results[0].xs[0], results[0].xs[-1]), (results[0].ys[0], results[0].ys[-1])
    xs, ys, zs = surface.grid(120, domain=((x0, x1), (y0, y1)))
    zc, _ = contour_levels(zs, surface.log_contours)
    for col, r in enumerate(results, start=1):
        code = np.vectorize(category)(r.labels).astype(np.float32)
        custom = np.dstack([r.finals[..., 0], r.finals[..., 1], code]).astype(np.float32)
        fig.add_trace(go.Heatmap(x=f32(r.xs), y=f32(r.ys), z=code + 0.5, zmin=0, zmax=m, colorscale=scale, showscale=False,
                                 customdata=custom,
                                 hovertemplate="start (%{x:.3g}, %{y:.3g})<br>basin #%{customdata[2]}<br>ends at "
                                               "(%{customdata[0]:.4g}, %{customdata[1]:.4g})<extra></extra>"), row=1, col=col)
        fig.add_trace(go.Contour(x=f32(xs), y=f32(ys), z=f32(zc), contours=dict(coloring="lines"), ncontours=18,
                                 line=dict(width=1), colorscale=[[0, "rgba(255,255,255,0.6)"], [1, "rgba(255,255,255,0.6)"]],
                                 showscale=False, hoverinfo="skip"), row=1, col=col)
        fig.add_trace(go.Scatter(x=[mm.point[0] for mm in minima], y=[mm.point[1] for mm in minima], mode="markers",
                                 showlegend=False, hoverinfo="skip",
                                 marker=dict(symbol="star", size=16, color="white", line=dict(color="black", width=1.5))),
                      row=1, col=col)
        fig.update_xaxes(title="start x", range=[x0, x1], row=1, col=col)
        fig.update_yaxes(title="start y" if col == 1 else None, range=[y0, y1], row=1, col=col)
    for name, c in cats:
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=name,
                                 marker=dict(size=14, symbol="square", color=c, line=dict(color="#666", width=1))))
    app_layout(fig, f"basins of attraction on {surface.label}: where does a run from each start end?", height)
    _legend_below(fig, -0.12, 130)
    return fig
