"""Sweeps and basin maps: every cell equals its own torch.optim run, caps hold, labels match single runs."""
import numpy as np
import pytest

from optviz.core.config import ConfigError, parse_config
from optviz.core.engine import run
from optviz.core.optimizers import ELEMENTWISE
from optviz.core.vectorised import RULES
from optviz.lessons.basins import DIVERGED, NOT_CONVERGED, basin_map, basin_maps, label_points
from optviz.lessons.sweeps import cell_config, default_axis, parse_sweep, run_sweep, sweep_params
from optviz.lessons.theory import rate_map

# optimizer → (fixed options, x axis, y axis); ranges reach divergence on Rosenbrock for some cells
SWEEPS = {
    "SGD": ({"momentum": 0.5}, ("lr", 1e-4, 3e-3, True), ("momentum", 0.0, 0.95, False)),
    "SGD-nesterov": ({"momentum": 0.5, "nesterov": True, "weight_decay": 0.01}, ("lr", 1e-4, 3e-3, True),
                     ("momentum", 0.1, 0.95, False)),
    "SGD-dampening": ({"momentum": 0.9}, ("lr", 1e-4, 2e-3, True), ("dampening", 0.0, 0.9, False)),
    "Adam": ({"amsgrad": True}, ("lr", 1e-3, 0.3, True), ("betas[0]", 0.0, 0.95, False)),
    "AdamW": ({}, ("lr", 1e-3, 0.3, True), ("weight_decay", 0.0, 0.5, False)),
    "Adam-decoupled": ({"decoupled_weight_decay": True, "weight_decay": 0.1}, ("lr", 1e-3, 0.3, True),
                       ("betas[1]", 0.9, 0.9999, False)),
    "Adagrad": ({"lr_decay": 0.01, "initial_accumulator_value": 0.1}, ("lr", 1e-3, 1.0, True),
                ("weight_decay", 0.0, 0.1, False)),
    "Adamax": ({}, ("lr", 1e-3, 0.3, True), ("betas[0]", 0.0, 0.95, False)),
    "NAdam": ({"weight_decay": 0.01}, ("lr", 1e-3, 0.3, True), ("momentum_decay", 1e-3, 0.05, True)),
    "RAdam": ({}, ("lr", 1e-3, 0.3, True), ("betas[1]", 0.8, 0.999, False)),
    "RMSprop": ({"centered": True}, ("lr", 1e-4, 0.03, True), ("momentum", 0.0, 0.9, False)),
    "RMSprop-plain": ({"weight_decay": 0.01}, ("lr", 1e-4, 0.03, True), ("alpha", 0.5, 0.99, False)),
    "Adadelta": ({"maximize": False}, ("lr", 0.1, 10.0, True), ("rho", 0.5, 0.99, False)),
    "Rprop": ({}, ("lr", 1e-3, 0.1, True), ("etas[1]", 1.05, 2.0, False)),
    "ASGD": ({}, ("lr", 1e-4, 3e-3, True), ("lambd", 0.0, 0.01, False)),  # no vectorised rule: torch groups
}


def make_sweep(case: str, nx=5, ny=4, steps=80, surface="rosenbrock", start=(-1.5, 2.0)):
    opts, (xp, xl, xh, xlog), (yp, yl, yh, ylog) = SWEEPS[case]
    return parse_sweep({"config": {"problem": {"surface": surface, "start": list(start)},
                                   "optimizer": {"name": case.split("-")[0], "options": opts}, "steps": steps},
                        "x": {"param": xp, "low": xl, "high": xh, "n": nx, "log": xlog},
                        "y": {"param": yp, "low": yl, "high": yh, "n": ny, "log": ylog}, "tol": 1e-3})


def test_every_vectorised_optimizer_is_covered():
    covered = {c.split("-")[0] for c in SWEEPS}
    assert set(RULES) <= covered
    assert set(RULES) | {"ASGD", "SparseAdam"} == set(ELEMENTWISE)


@pytest.mark.parametrize("case", list(SWEEPS))
def test_sweep_cells_equal_individual_torch_runs(case):
    sweep = make_sweep(case)
    res = run_sweep(sweep)
    assert ("vectorised" in res.method) == (sweep.config.optimizer.name in RULES)
    checked = 0
    for i in range(sweep.y.n):
        for j in range(sweep.x.n):
            tr = run(cell_config(sweep, i, j))    # torch.optim, one run, one (x, y) parameter
            assert (tr.diverged_at is not None) == (res.diverged_at[i, j] >= 0), (i, j)
            if tr.diverged_at is not None:
                continue
            end = tr.positions[-1]
            assert np.abs(res.finals[i, j] - end).max() <= 1e-12 * (1 + np.abs(end).max()), (i, j)
            assert res.final_loss[i, j] == pytest.approx(tr.losses[-1] - (res.f_star or 0.0), rel=1e-9, abs=1e-15)
            hit = np.nonzero(tr.losses - (res.f_star or 0.0) <= sweep.tol)[0]
            assert (res.steps_to_tol[i, j] == hit[0]) if hit.size else np.isnan(res.steps_to_tol[i, j])
            checked += 1
    assert checked >= 8


def test_sweep_on_a_quadratic_with_a_large_grid_matches_sampled_cells():
    sweep = parse_sweep({"config": {"problem": {"surface": "quadratic", "start": [-2.5, 2.0],
                                                "options": {"eigenvalues": [1.0, 30.0], "angle": 25.0}},
                                    "optimizer": {"name": "SGD", "options": {"momentum": 0.5}}, "steps": 120},
                         "x": {"param": "lr", "low": 1e-3, "high": 0.2, "n": 64},
                         "y": {"param": "momentum", "low": 0.0, "high": 0.99, "n": 64, "log": False}})
    res = run_sweep(sweep)
    rng = np.random.default_rng(0)
    for i, j in [(0, 0), (63, 63), (0, 63), (63, 0), *rng.integers(0, 64, size=(8, 2))]:
        tr = run(cell_config(sweep, int(i), int(j)))
        if tr.diverged_at is None:
            assert np.abs(res.finals[i, j] - tr.positions[-1]).max() <= 1e-12 * (1 + np.abs(tr.positions[-1]).max())
        else:
            assert res.diverged_at[i, j] >= 0
    # the theory's map shows up in torch's: predicted rate > 1.1 diverges, < 0.9 converges
    predicted = rate_map(res.xs, res.ys, (1.0, 30.0))
    assert (res.diverged_at[predicted > 1.1] >= 0).all()
    assert (res.diverged_at[predicted < 0.9] < 0).all() and (res.final_loss[predicted < 0.9] < 1e-3).all()


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_default_axes_are_accepted_for_every_sweepable_hyperparameter(name):
    config = parse_config({"problem": {"surface": "booth", "start": [-7.0, -8.0]}, "optimizer": {"name": name},
                           "steps": 5})
    for param in sweep_params(name):
        if param == "lr":
            continue
        axis = default_axis(config, param, n=3)
        sweep = parse_sweep({"config": config.to_dict(), "x": {"param": "lr", "n": 3}, "y": axis.to_dict()})
        assert sweep.y.param == param and sweep.y.low < sweep.y.high


def test_sweep_caps_and_bad_input_are_config_errors():
    good = make_sweep("SGD").to_dict()
    bad = [
        ({"x": {**good["x"], "n": 129}}, "x.n"),
        ({"config": {**good["config"], "steps": 2001}}, "steps"),
        ({"y": {**good["y"], "param": "betas[0]"}}, "y.param"),
        ({"y": {**good["y"], "param": "lr"}}, "y.param"),
        ({"x": {**good["x"], "low": -1.0}}, "x.low"),
        ({"y": {**good["y"], "low": -0.5}}, "y"),             # torch's own message: Invalid momentum value
        ({"tol": 0}, "tol"),
        ({"config": {**good["config"], "optimizer": {"name": "LBFGS"}}}, "optimizer.name"),
        ({"config": {**good["config"], "scheduler": {"name": "StepLR", "options": {"step_size": 5}}}}, "scheduler"),
        ({"config": {**good["config"], "problem": {"surface": "rosenbrock", "noise": 0.1}}}, "problem.noise"),
        ({"surprise": 1}, "surprise"),
    ]
    for change, field in bad:
        with pytest.raises(ConfigError) as e:
            parse_sweep({**good, **change})
        assert e.value.field == field, (change, e.value)
    with pytest.raises(ConfigError, match="Invalid momentum value"):
        parse_sweep({**good, "y": {**good["y"], "low": -0.5}})
    asgd = make_sweep("ASGD", nx=100, ny=100, steps=100)    # torch groups are capped
    with pytest.raises(ConfigError, match="cells × steps"):
        run_sweep(asgd)


# -- basins ----------------------------------------------------------------------------------------

def test_basin_labels_equal_individual_runs():
    configs = [parse_config({"problem": {"surface": "himmelblau"}, "optimizer": {"name": "Adam", "options": {"lr": 0.05}},
                             "steps": 200}),
               parse_config({"problem": {"surface": "himmelblau"},
                             "optimizer": {"name": "SGD", "options": {"lr": 0.01, "momentum": 0.9}}, "steps": 200})]
    maps = basin_maps(configs, n=14)
    minima = maps[0].minima
    assert len(minima) == 4 and all(m.listed and m.kind == "global" for m in minima)
    assert maps[0].minima is maps[1].minima
    rng = np.random.default_rng(3)
    for res in maps:
        assert set(np.unique(res.labels)) <= {DIVERGED, NOT_CONVERGED, 0, 1, 2, 3}
        assert len(set(np.unique(res.labels)) & {0, 1, 2, 3}) == 4
        for i, j in rng.integers(0, 14, size=(10, 2)):
            start = (res.xs[j], res.ys[i])
            cfg = parse_config({**res.config.to_dict(), "problem": {"surface": "himmelblau", "start": list(start)}})
            tr = run(cfg)
            label = label_points(minima, tr.positions[-1], tr.diverged_at is not None, res.radius)[0]
            assert label == res.labels[i, j]
            if tr.diverged_at is None:
                assert np.abs(tr.positions[-1] - res.finals[i, j]).max() <= 1e-12 * (1 + np.abs(tr.positions[-1]).max())
        assert sum(f for _, _, f in res.shares()) == pytest.approx(1.0)


def test_basins_find_unlisted_local_minima_and_mark_divergence():
    res = basin_map(parse_config({"problem": {"surface": "rastrigin"}, "optimizer": {"name": "SGD", "options": {"lr": 0.002}},
                                  "steps": 300}), n=16)
    found = [m for m in res.minima if not m.listed]
    assert len(found) >= 8                        # the grid of local minima around the global one
    assert all(m.kind == "local" and m.value > 0.5 for m in found)
    assert res.minima[0].point == (0.0, 0.0) and res.minima[0].kind == "global"
    # every run ended at one of them: lr is small enough to settle in the nearest dip
    assert (res.labels >= 0).mean() > 0.95
    wild = basin_map(parse_config({"problem": {"surface": "himmelblau"}, "optimizer": {"name": "SGD", "options": {"lr": 0.05}},
                                   "steps": 50}), n=8)
    assert (wild.labels == DIVERGED).any()


def test_basin_caps_are_config_errors():
    cfg = parse_config({"problem": {"surface": "himmelblau"}, "optimizer": {"name": "Adam"}, "steps": 100})
    with pytest.raises(ConfigError, match="200"):
        basin_map(cfg, n=201)
    with pytest.raises(ConfigError, match="2000"):
        basin_map(parse_config({**cfg.to_dict(), "steps": 2001}), n=10)
    with pytest.raises(ConfigError, match="elementwise"):
        basin_map(parse_config({**cfg.to_dict(), "optimizer": {"name": "LBFGS"}}), n=10)


def test_a_frozen_sweep_figure_holds_plain_lists_and_sends_the_same_json():
    """The cells' hover data (numbers and text) is an object array while plotly builds the figure; frozen() keeps it as
    tuples, which orjson writes as they are (an object array made plotly walk every value on every st.plotly_chart of
    a cached figure) and the garbage collector stops tracking, and the browser still gets exactly the same JSON."""
    import gc

    import plotly.io as pio

    from optviz.figures import frozen
    from optviz.figures.theory import sweep_figure

    fig = sweep_figure(run_sweep(make_sweep("SGD")), "steps_to_tol")
    spec = frozen(fig).to_dict()
    objects = [k for t in spec["data"] for k, v in t.items() if isinstance(v, np.ndarray) and v.dtype == object]
    assert objects == []
    rows = spec["data"][2]["customdata"]
    gc.collect()
    assert len(rows) == 20 and not any(gc.is_tracked(r) for r in rows)
    assert pio.to_json(spec, validate=False) == pio.to_json(fig.to_dict(), validate=False)
