"""What the Explorer's small figures draw: axis titles, axis ranges that contain the data, readable labels."""
import numpy as np
import pytest

from optviz.engine import run
from optviz.figures import lr_figure

ROSEN = {"surface": "rosenbrock"}


def _contains(axis_range, values) -> bool:
    lo, hi = axis_range
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    return lo < finite.min() and finite.max() < hi


@pytest.mark.parametrize("lr", [1e-3, 0.5, 3e-6])
def test_constant_lr_is_drawn_in_a_band_around_its_value(lr):
    trace = run({"problem": ROSEN, "optimizer": {"name": "SGD", "options": {"lr": lr}}, "steps": 10})
    y = lr_figure(trace).to_dict()["layout"]["yaxis"]
    assert y["title"]["text"] == "lr"
    lo, hi = y["range"]
    assert _contains((lo, hi), trace.lrs)
    assert 0 < lo and hi - lo <= 2 * lr       # not an axis around 0 where lr looks like 0


def test_one_cycle_axes_are_titled_and_fit_both_curves():
    trace = run({"problem": ROSEN, "optimizer": {"name": "SGD", "options": {"lr": 1e-3, "momentum": 0.9}},
                 "scheduler": {"name": "OneCycleLR", "options": {"max_lr": 2e-3}, "interval": "step"}, "steps": 40})
    layout = lr_figure(trace).to_dict()["layout"]
    assert layout["yaxis"]["title"]["text"] == "lr"
    assert layout["yaxis2"]["title"]["text"] == "momentum / β₁"
    lrs, moms = trace.lrs, trace.momentums
    assert _contains(layout["yaxis"]["range"], lrs) and _contains(layout["yaxis2"]["range"], moms)
    for axis, v in ((layout["yaxis"], lrs), (layout["yaxis2"], moms)):
        lo, hi = axis["range"]
        assert hi - lo < 1.5 * (np.nanmax(v) - np.nanmin(v))      # fitted, not padded to a unit band


def test_group_lrs_share_one_fitted_axis():
    trace = run({"problem": ROSEN, "optimizer": {"name": "SGD", "options": {"lr": 1e-3},
                                                  "groups": {"x": {}, "y": {"lr": 1e-4}}}, "steps": 5})
    fig = lr_figure(trace).to_dict()
    assert len(fig["data"]) == 2 and _contains(fig["layout"]["yaxis"]["range"], trace.lrs)
