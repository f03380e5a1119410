"""Sweeps & Basins: the maps' runs and figures, cached by the map's canonical JSON for every session.

The cached functions live in a module, not in the page: a decorator in a page script runs again on every rerun and
reads the function's source to key its cache. Figures are held as objects, as the Explorer's are
(`explorer_view.FIGURE_CACHE`): building one on every rerun was most of a cached slider move.
"""
from __future__ import annotations

import json

import streamlit as st

from optviz.core.config import parse_config
from optviz.core.engine import surface_of
from optviz.figures import FrozenFigure, frozen
from optviz.figures.theory import basin_figure, sweep_figure
from optviz.lessons.basins import BasinResult, basin_maps
from optviz.lessons.sweeps import SweepResult, parse_sweep, run_sweep
from optviz.lessons.theory import best_momentum, local_quadratic, max_stable_lr

MAP_CACHE = dict(max_entries=24, show_spinner=False)     # a 128 × 128 sweep's result or figure is a few MB


def _progress():
    """A progress bar made inside the cached call (so a cache hit replays it safely) and its update callback."""
    bar = st.progress(0.0, text="running torch.optim over the whole grid …")
    return bar, lambda f: bar.progress(min(1.0, f), text=f"running torch.optim over the whole grid … {100 * f:.0f}%")


@st.cache_data(**MAP_CACHE)
def cached_sweep(key: str) -> SweepResult:
    """The sweep a key describes (``Sweep.to_dict()`` as sorted JSON), run once."""
    bar, update = _progress()
    result = run_sweep(parse_sweep(json.loads(key)), on_progress=update)
    bar.empty()
    return result


@st.cache_data(**MAP_CACHE)
def cached_basins(key: str) -> list[BasinResult]:
    """The basin maps a key describes (``{"configs": [...], "n": side}`` as sorted JSON), run once."""
    data = json.loads(key)
    bar, update = _progress()
    result = basin_maps([parse_config(c) for c in data["configs"]], data["n"], on_progress=update)
    bar.empty()
    return result


# The hashed arguments are a figure's whole key; the underscored result is what it is drawn from.

@st.cache_resource(**MAP_CACHE)
def sweep_chart(key: str, objective: str, _result: SweepResult) -> FrozenFigure:
    """The sweep's heatmap coloured by ``objective``; for SGD's momentum on a quadratic bowl, the Quadratic Lab's theory
    on top (α*, β* and the stability edge)."""
    sweep, marks, curves = _result.sweep, (), ()
    run_surface = surface_of(sweep.config)
    lq = local_quadratic(run_surface, run_surface.start) if sweep.config.problem.surface == "quadratic" else None
    if lq is not None and lq.is_bowl and sweep.config.optimizer.name == "SGD" and sweep.y.param == "momentum":
        lam = lq.eigenvalues    # the Hessian of the surface this sweep ran on, ascending
        hb = best_momentum(*lam)
        marks = ((hb.alpha, hb.beta, f"theory: α*, β* for λ = {lam[0]:g}, {lam[1]:g} (rate {hb.rate:.3f})"),)
        curves = ((max_stable_lr(_result.ys, lam[1]), _result.ys, f"theory: stability edge (2 + 2β)/λmax, λmax = {lam[1]:g}"),)
    return frozen(sweep_figure(_result, objective, marks=marks, curves=curves))


@st.cache_resource(**MAP_CACHE)
def basin_chart(key: str, _results: list[BasinResult]) -> FrozenFigure:
    """The basin maps side by side over the first config's surface."""
    return frozen(basin_figure(_results, surface_of(_results[0].config)))


__all__ = ["cached_sweep", "cached_basins", "sweep_chart", "basin_chart"]
