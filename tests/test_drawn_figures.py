"""What the lessons' figures draw, read from their figure dicts: every axis with tick labels has a title, the
Scheduler Lab's text names the epoch lines its figure draws."""
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

PAGES = Path(__file__).resolve().parents[1] / "pages"


def titled_axes(layout: dict) -> dict[str, str]:
    """Each cartesian axis of a figure dict and its title ('' when untitled)."""
    return {k: ((layout[k].get("title") or {}).get("text") or "") for k in layout if k.startswith(("xaxis", "yaxis"))}


def shown(layout: dict, axis: str) -> bool:
    return layout[axis].get("showticklabels", True) is not False and layout[axis].get("visible", True) is not False


# -- Scheduler Lab --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("epochs, said", [(30, "Dotted lines mark the epochs."), (200, "Dotted lines mark every 10th epoch."),
                                          (1, None)])
def test_scheduler_lab_says_which_epoch_lines_it_draws(epochs, said):
    at = AppTest.from_file(str(PAGES / "scheduler_lab.py"), default_timeout=30)
    at.query_params["lab"] = json.dumps({"epochs": epochs, "steps_per_epoch": 4})
    at.run()
    assert not at.exception, at.exception
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    dotted = [t for t in fig["data"] if (t.get("line") or {}).get("dash") == "dot"]
    lines = [sum(x is None for x in t["x"]) for t in dotted]       # one None after each line's two points
    text = " ".join(m.value for m in at.markdown)
    if said is None:
        assert "Dotted lines" not in text and not lines
    else:
        assert said in text
        stride = 1 if "the epochs" in said else int(said.split("every ")[1].split("th")[0])
        assert lines == [len(range(stride, epochs, stride))] * 2 and lines[0] > 0      # both columns
        xs = [x for t in dotted for x in t["x"] if x is not None]
        assert min(xs) == stride * 4 + 0.5          # the first line sits between epoch `stride` and the next
    untitled = [k for k, t in titled_axes(fig["layout"]).items() if not t and k.startswith("yaxis") and shown(fig["layout"], k)]
    assert not untitled, f"untitled y axes: {untitled}"


# -- Quadratic Lab ---------------------------------------------------------------------------------------------------

def quadratic_run(steps: int, center=(0.0, 0.0)):
    from optviz.core.config import parse_config
    from optviz.core.engine import run
    from optviz.lessons.theory import analyse_run
    config = parse_config({"problem": {"surface": "quadratic", "start": [-2.5, 2.0],
                                       "options": {"eigenvalues": [1.0, 10.0], "angle": 30.0, "center": list(center)}},
                           "optimizer": {"name": "SGD", "options": {"lr": 0.1, "momentum": 0.5}}, "steps": steps})
    return analyse_run(run(config), (1.0, 10.0), 30.0, center)


def drawn(fig, name: str) -> tuple[np.ndarray, np.ndarray]:
    """A trace's points that a log y axis draws."""
    t = next(t for t in fig.data if t.name == name)
    x, y = np.asarray(t.x, dtype=float), np.asarray(t.y, dtype=float)
    ok = np.isfinite(y) & (y > 0)
    return x[ok], y[ok]


@pytest.mark.parametrize("steps, center", [(200, (0.0, 0.0)), (200, (1.0, -0.5)), (30, (0.0, 0.0))])
def test_quadratic_rate_figure_shows_every_point_it_draws(steps, center):
    from optviz.figures.theory import PRECISION, rate_figure
    qr = quadratic_run(steps, center)
    fig = rate_figure(qr)
    (y0, y1), (x0, x1) = fig.layout.yaxis.range, fig.layout.xaxis.range
    x, y = drawn(fig, "torch: ‖w_k − c‖")
    assert y0 <= np.log10(y).min() and np.log10(y).max() <= y1, "torch's run leaves the y range"
    assert x0 <= x.min() and x.max() <= x1, "torch's run leaves the x range"
    assert x.max() >= 0.85 * x1, f"the run ends at step {x.max():g} of an axis to {x1}: the right of the plot is empty"
    floor = qr.distances[0] * PRECISION
    for t in fig.data:
        ys = np.asarray(t.y, dtype=float)
        assert not (ys[np.isfinite(ys)] < floor * (1 - 1e-6)).any(), f"{t.name} is drawn below the floor"
    said = " ".join(a.text for a in fig.layout.annotations)
    lowest = min(np.nanmin(qr.distances), np.nanmin(np.abs(qr.errors[:int(x.max()) + 1])))
    if lowest < floor:
        assert "curves stop" in said and y0 <= np.log10(floor) <= y1
    else:
        assert "curves stop" not in said and y0 <= np.log10(lowest)


def test_quadratic_phase_figure_titles_both_y_axes():
    from optviz.figures.theory import phase_figure
    layout = phase_figure(quadratic_run(20)).to_plotly_json()["layout"]
    assert {k for k, t in titled_axes(layout).items() if not t} == set()


# -- Small Nets --------------------------------------------------------------------------------------------------------

def untitled_used_axes(fig) -> list[str]:
    """The axes a trace is drawn on (and so show tick labels) that have no title."""
    layout = fig.to_plotly_json()["layout"]
    used = {f"{a}axis{t[a + 'axis'][1:]}" for t in fig.to_plotly_json()["data"] for a in "xy"
            if t.get(a + "axis", a)} | {f"{a}axis" for t in fig.data for a in "xy" if not getattr(t, a + "axis", None)}
    titles = titled_axes(layout)
    return sorted(k for k in used if not titles.get(k) and shown(layout, k))


@pytest.mark.parametrize("optimizer", [{"name": "SGD", "options": {"momentum": 0.9}}, {"name": "Adam"},
                                       {"name": "LBFGS"}])
def test_small_nets_figures_title_every_axis(optimizer):
    from optviz.figures.nets import lr_figure, metrics_figure, norms_figure, runs_of
    from optviz.nets.training import train
    runs = runs_of([train({"data": {"n_points": 60}, "epochs": 2, "optimizer": optimizer})])
    for figure in (metrics_figure, lr_figure, norms_figure):
        assert not untitled_used_axes(figure(runs)), (figure.__name__, untitled_used_axes(figure(runs)))


# -- a path that leaves the contour ------------------------------------------------------------------------------------

def contour_of(config: dict):
    from optviz.core.config import parse_config
    from optviz.core.engine import run, surface_of
    from optviz.figures import contour_base, contour_with_paths, path_of
    trace = run(parse_config(config) if isinstance(config, dict) else config)
    base = contour_base(surface_of(trace.config), n_grid=40)
    return trace, base["layout"], contour_with_paths(base, [path_of(trace)], surface=surface_of(trace.config)).to_dict()


def test_a_path_that_leaves_the_plot_is_marked_where_it_crosses_the_edge():
    from optviz.lessons.presets import PRESETS
    trace, base, fig = contour_of(PRESETS["lr_too_large"].load())
    (x0, x1), (y0, y1) = base["xaxis"]["range"], base["yaxis"]["range"]
    pos = trace.positions
    outside = [k for k, (x, y) in enumerate(pos) if not (x0 <= x <= x1 and y0 <= y <= y1)]
    assert outside, "the preset no longer leaves the plot"
    k = outside[0]
    notes = [a for a in fig["layout"].get("annotations", []) if "left the plot" in a["text"]]
    assert len(notes) == 1, fig["layout"].get("annotations")
    a = notes[0]
    assert f"step {k} " in a["text"] and f"{pos[k, 0]:.4g}" in a["text"] and f"{pos[-1, 0]:.4g}" in a["text"]
    on_edge = np.isclose(a["x"], [x0, x1]).any() or np.isclose(a["y"], [y0, y1]).any()
    assert on_edge and x0 <= a["x"] <= x1 and y0 <= a["y"] <= y1, (a["x"], a["y"])
    (ax_, ay_), (bx, by) = pos[k - 1], pos[k]             # the mark lies on the step that crossed the edge
    assert np.isclose((bx - ax_) * (a["y"] - ay_), (by - ay_) * (a["x"] - ax_), atol=1e-9 * max(abs(bx), abs(by), 1))
    assert min(ax_, bx) <= a["x"] <= max(ax_, bx)


def test_a_path_inside_the_plot_has_no_exit_mark():
    _, _, fig = contour_of({"problem": {"surface": "rosenbrock"}, "optimizer": {"name": "SGD", "options": {"lr": 1e-3}},
                            "steps": 30})
    assert not [a for a in fig["layout"].get("annotations", []) if "left the plot" in a["text"]]


def test_paths_leaving_together_share_one_note_that_names_them():
    """Adam, AdamW and NAdam at lr 2 all leave Rosenbrock's plot at step 1 near the same point: one note naming the three,
    not three notes drawn over one another; a path leaving elsewhere keeps its own named note."""
    from optviz.core.engine import run, surface_of
    from optviz.figures import Path, contour_base, contour_with_paths

    cfg = {"problem": {"surface": "rosenbrock"}, "steps": 20}
    traces = [run({**cfg, "optimizer": {"name": n, "options": {"lr": 2.0}}}) for n in ("Adam", "AdamW", "NAdam")]
    traces.append(run({**cfg, "optimizer": {"name": "SGD", "options": {"lr": 0.01}}}))
    base = contour_base(surface_of(traces[0].config), n_grid=40)
    (x0, x1), (y0, y1) = base["layout"]["xaxis"]["range"], base["layout"]["yaxis"]["range"]
    first_out = [next(k for k, (x, y) in enumerate(t.positions) if not (x0 <= x <= x1 and y0 <= y <= y1)) for t in traces]
    assert first_out[:3] == [1, 1, 1] and first_out[3] != 1, first_out
    fig = contour_with_paths(base, [Path(t, t.config.optimizer.name, c) for t, c in zip(traces, "rgbk", strict=True)]).to_dict()
    notes = [a["text"] for a in fig["layout"]["annotations"] if "left the plot" in a["text"]]
    together = [n for n in notes if n == "Adam, AdamW, NAdam<br>left the plot at step 1"]
    assert len(together) == 1 and len(notes) == 2, notes
    assert any(n.startswith("SGD: left the plot at step ") for n in notes), notes
