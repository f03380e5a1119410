"""Write your own step(): the comparison of a program with torch's optimizer and its figures, cached for every session.

The cached functions live in a module, not in the page: a decorator in a page script runs again on every rerun and
reads the function's source to key its cache. Figures are held as objects, as the Explorer's are
(`explorer_view.FIGURE_CACHE`): building the animated paths, the difference and both state figures on every rerun,
plotly's template copied for each, was most of a cached move.
"""
from __future__ import annotations

import json

import streamlit as st

from optviz import figures
from optviz.core.config import Config
from optviz.core.optimizers import CUSTOM_SPEC, OPTIMIZERS
from optviz.figures import FrozenFigure, frozen
from optviz.figures.custom_step import difference_figure, state_figures
from optviz.lessons.custom_step import comparison
from optviz.ui.explorer_view import contour_base
from optviz.ui.runner import surface

FIGURE_CACHE = dict(max_entries=32, show_spinner=False)   # the animated paths of two runs are the largest, < 1 MB


@st.cache_data(max_entries=64, show_spinner=False)
def cached_comparison(key: str, compare: str, fixed: str, label: str):
    """(mine, theirs, comparison) of a Custom config (``Config.key()``) against ``torch.optim.<compare>`` with the
    ``fixed`` options (sorted JSON), run once per distinct set of arguments."""
    return comparison(Config.from_json(key), compare, json.loads(fixed), label)


@st.cache_resource(**FIGURE_CACHE)
def comparison_charts(key: str, compare: str, fixed: str, label: str) -> tuple[FrozenFigure, ...]:
    """The page's figures of one comparison (the arguments of ``cached_comparison``): the two paths over the surface
    (animated), the difference per step, and the state of mine and of torch's."""
    mine, theirs, result = cached_comparison(key, compare, fixed, label)
    config = Config.from_json(key)
    paths = [figures.Path(theirs, f"torch.optim.{compare}", OPTIMIZERS[compare].colour),
             figures.Path(mine, "your step()", CUSTOM_SPEC.colour, dash="dash")]
    contour = figures.contour_with_paths(contour_base(config, 0), paths, animate=True, arrows=False, surface=surface(config))
    return frozen(contour), frozen(difference_figure(result)), *(frozen(f) for f in state_figures(mine, theirs))


__all__ = ["cached_comparison", "comparison_charts"]
