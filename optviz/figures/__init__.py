"""Figures: records in, plotly `go.Figure` out; no Streamlit here.

What lives here: one module per part of the app (`trajectory`: the contour with paths, 3-D surface, loss, lr and state
of a run; `lessons`, `race`, `theory`, `nets`: the lessons' figures) over `base`, what they share (layout, fonts, log
ticks, FrozenFigure). It may import `optviz.core`, `optviz.lessons` and `optviz.nets` (their records: Trace, sweeps,
NetTrace, …) and plotly, never `optviz.ui` or streamlit. This package is the only one below the UI that imports plotly.
The run figures are re-exported here, so `from optviz.figures import contour_figure, path_of` reads as before.
"""
from .base import FONT, FrozenFigure, contour_levels, figure_bytes, frozen, label_log_axes, log_ticks
from .trajectory import (
    GROUP_DASH,
    MAX_FRAMES,
    N_BANDS,
    SCALAR_STATE,
    STATE_COLOURS,
    VIRIDIS,
    Path,
    contour_base,
    contour_figure,
    contour_with_paths,
    evaluations_figure,
    final_gradient,
    fitted_range,
    frame_steps,
    loss_figure,
    loss_figure_fast,
    lr_figure,
    path_of,
    scalar_state,
    state_figure,
    surface3d_figure,
    surface_bands,
    surface_image,
)

__all__ = [
    "FONT", "FrozenFigure", "GROUP_DASH", "MAX_FRAMES", "N_BANDS", "Path", "SCALAR_STATE", "STATE_COLOURS",
    "VIRIDIS", "contour_base", "contour_figure", "contour_levels", "contour_with_paths", "evaluations_figure",
    "figure_bytes", "final_gradient", "fitted_range", "frame_steps", "frozen", "label_log_axes", "log_ticks",
    "loss_figure", "loss_figure_fast", "lr_figure", "path_of", "scalar_state", "state_figure", "surface3d_figure",
    "surface_bands", "surface_image",
]
