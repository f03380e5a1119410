"""What the Explorer's small figures draw: axis titles, axis ranges that contain the data, readable labels."""
import numpy as np
import pytest

from optviz.core.engine import run
from optviz.figures import log_ticks, loss_figure, loss_figure_fast, lr_figure, path_of, scalar_state, state_figure
from optviz.figures.nets import metrics_figure, norms_figure, runs_of
from optviz.figures.race import tuning_figure
from optviz.figures.trajectory import _hover
from optviz.lessons.race import TuneResult
from optviz.nets.training import train
from optviz.ui.explorer_view import last_step_table

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


# -- optimizer state: per-parameter scalars once, vectors per coordinate, the axis titled ---------------------------

LBFGS = {"problem": ROSEN, "optimizer": {"name": "LBFGS"}, "steps": 4}


def test_scalar_state_is_one_number_and_vectors_stay_pairs():
    trace = run(LBFGS)
    assert {"func_evals", "n_iter", "d"} <= set(trace.state)
    scalars = scalar_state(trace)
    assert {"func_evals", "n_iter"} <= scalars and "d" not in scalars and "prev_flat_grad" not in scalars
    hover = _hover(trace)[2]
    evals = trace.state["func_evals"][1, 0]
    assert f"func_evals {evals:.4g}<br>" in hover + "<br>" and f"func_evals ({evals:.3g}" not in hover
    d = trace.state["d"][1]
    assert f"d ({d[0]:.3g}, {d[1]:.3g})" in hover
    table = last_step_table(trace)
    assert f"| state `func_evals` | {trace.state['func_evals'][-1, 0]:.4g} |" in table
    assert "| state `d` (x, y) | (" in table


def test_a_vector_that_happens_to_be_equal_is_still_a_pair():
    # Rprop's step_size starts equal in x and y; it is a per-coordinate tensor, not a scalar
    trace = run({"problem": ROSEN, "optimizer": {"name": "Rprop"}, "steps": 3})
    assert np.array_equal(trace.state["step_size"][:, 0], trace.state["step_size"][:, 1])
    assert "step_size" not in scalar_state(trace) and "step" in scalar_state(trace)
    names = [t["name"] for t in state_figure(trace).to_dict()["data"]]
    assert {"step_size[x]", "step_size[y]", "step"} <= set(names) and "step[y]" not in names


def test_state_figure_draws_a_scalar_once_and_titles_its_axis():
    trace = run(LBFGS)
    fig = state_figure(trace).to_dict()
    names = [t["name"] for t in fig["data"]]
    assert names.count("func_evals") == 1 and "func_evals[y]" not in names and {"d[x]", "d[y]"} <= set(names)
    assert fig["layout"]["yaxis"]["title"]["text"] == "state value"
    assert fig["layout"]["xaxis"]["title"]["text"] == "step"


# -- log axes: decades, or full values; never plotly's bare "2" and "5" for 0.2 and 0.5 ---------------------------

def labelled(axis: dict) -> bool:
    return isinstance(axis.get("dtick"), int) or bool(axis.get("tickformat")) or bool(axis.get("tickvals"))


def test_log_ticks_are_decades_over_a_wide_range_and_full_values_over_a_short_one():
    short = log_ticks([0.2, 9])
    assert short["tickvals"] == [0.2, 0.5, 1, 2, 5] and short["ticktext"] == ["0.2", "0.5", "1", "2", "5"]
    assert log_ticks([0.08, 40])["dtick"] == 1
    assert log_ticks([np.array([1e-7, 1.0]), np.array([10.0, np.nan, -1.0])]) == {"dtick": 1, "exponentformat": "power"}
    assert log_ticks([1e-300, 1e300])["dtick"] == 75                   # at most ~8 labels, no overflow
    assert log_ticks([]) == {"tickformat": "~g"}


@pytest.mark.parametrize("lo, hi", [(0.14, 10), (0.005, 0.009), (2, 90), (0.3, 0.5), (1.5, 95), (7e-4, 0.05)])
def test_short_log_axes_get_a_few_round_values_each_in_full(lo, hi):
    """Under two decades: 3–8 labels, all inside the data's range (5 % slack), each the full number (no bare
    minor digits, no crowded 2 3 4 … 9 run)."""
    ticks = log_ticks(np.geomspace(lo, hi, 50))
    vals, text = ticks["tickvals"], ticks["ticktext"]
    assert 3 <= len(vals) <= 8 and all(lo / 1.05 <= v <= hi * 1.05 for v in vals)
    assert [float(t) for t in text] == vals


@pytest.mark.parametrize("steps, surface", [(3, "rosenbrock"), (300, "quadratic")])
def test_loss_axis_is_labelled_with_decades_or_values(steps, surface):
    trace = run({"problem": {"surface": surface}, "optimizer": {"name": "Adam", "options": {"lr": 0.05}}, "steps": steps})
    path = path_of(trace)
    for fig in (loss_figure([path], 0.0), loss_figure_fast([path], 0.0)):
        y = fig.to_dict()["layout"]["yaxis"]
        assert y["type"] == "log" and labelled(y)
    span = np.log10(np.nanmax(trace.losses) / np.nanmin(trace.losses[trace.losses > 0]))
    assert ("dtick" in y) == (span >= 2)


def test_race_tuning_axis_has_no_bare_digit_labels():
    trace = run({"steps": 3})
    result = TuneResult("SGD", (1e-3, 1e-2, 1e-1), (2.0, 0.5, 0.7), 1e-2, 0.5, 0.1)
    y = tuning_figure([result], [path_of(trace)], "tail", 0.0).to_dict()["layout"]["yaxis"]
    assert y["type"] == "log" and y.get("dtick") != "D2" and labelled(y)


def test_small_net_log_axes_are_labelled():
    traces = [train({"data": {"n_points": 160}, "epochs": 3}), train({"data": {"n_points": 160}, "epochs": 3,
                                                                     "optimizer": {"name": "Adam"}})]
    runs = runs_of(traces, ["SGD", "Adam"])
    for fig in (metrics_figure(runs), norms_figure(runs)):
        axes = {k: v for k, v in fig.to_dict()["layout"].items() if k.startswith("yaxis") and v.get("type") == "log"}
        assert axes and all(labelled(a) for a in axes.values())
