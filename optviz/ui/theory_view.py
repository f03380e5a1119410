"""Quadratic Lab: its run seen through the theory and its figures, cached by the config's canonical JSON for every session.

The cached functions live in a module, not in the page: a decorator in a page script runs again on every rerun and
reads the function's source to key its cache. Figures are held as objects, as the Explorer's are
(`explorer_view.FIGURE_CACHE`): building all four on every rerun, plotly's template copied for each, was most of a
cached move.
"""
from __future__ import annotations

import streamlit as st

from optviz.core.config import Config
from optviz.core.engine import surface_of
from optviz.figures import FrozenFigure, frozen
from optviz.figures.theory import paths_figure, phase_figure, rate_figure, rate_plane_figure
from optviz.lessons.theory import QuadraticRun, analyse_run, rate_plane
from optviz.ui.runner import cached_run

LAB_CACHE = dict(max_entries=48, show_spinner=False)    # a run's figures are a few hundred kB; the plane's ~0.3 MB


@st.cache_resource(**LAB_CACHE)
def lab_run(key: str) -> QuadraticRun:
    """torch's run of a config (``Config.key()``: SGD on a quadratic) projected on the quadratic's eigenbasis, beside
    the theory's prediction."""
    config = Config.from_json(key)
    o = config.problem.options
    return analyse_run(cached_run(config), o["eigenvalues"], o["angle"], o["center"])


@st.cache_resource(**LAB_CACHE)
def plane_chart(eigenvalues: tuple[float, float], alpha: float, beta: float) -> FrozenFigure:
    """The predicted rate over the (α, β) plane of a bowl, the current setting marked."""
    return frozen(rate_plane_figure(rate_plane(eigenvalues, alpha, beta)))


@st.cache_resource(**LAB_CACHE)
def run_chart(kind: str, key: str) -> FrozenFigure:
    """A figure of one run by kind: "rate" (errors per eigen-direction), "paths" (over the contours) or "phase"
    (error against momentum buffer; only for a run with momentum)."""
    qr = lab_run(key)
    if kind == "rate":
        return frozen(rate_figure(qr))
    if kind == "paths":
        config = Config.from_json(key)
        return frozen(paths_figure(qr, cached_run(config).positions, surface_of(config)))
    if kind == "phase":
        return frozen(phase_figure(qr))
    raise ValueError(kind)


__all__ = ["lab_run", "plane_chart", "run_chart"]
