"""Resource caps live in the engine, not only in the widgets: a config past a cap is refused (or a run is stopped)
at once, with a message that names the limit, whatever the page or the link asked for.

Caps tested elsewhere are not repeated here: steps and expression length (test_config, test_expr), the small
nets' width, depth, epochs and points (test_nets), the walkthrough's steps (test_inside).
"""
from __future__ import annotations

import ast
import time
from pathlib import Path

import numpy as np
import pytest

from optviz.core import engine
from optviz.core.config import MAX_NOISE, MAX_STARTS, MAX_STEPS_PER_EPOCH, MAX_WORK, ConfigError, parse_config
from optviz.core.engine import NON_ELEMENTWISE_MAX_STARTS, run
from optviz.core.optimizers import MAX_LBFGS_HISTORY
from optviz.core.schedulers import MAX_CHILDREN
from optviz.core.surfaces import MAX_DOMAIN_WIDTH, MAX_GRID, SURFACES
from optviz.ui.urlstate import MAX_URL_TEXT, config_from_query

ROOT = Path(__file__).resolve().parents[1]


def refused(make, field: str, *numbers: str) -> ConfigError:
    """The call raises ConfigError on `field` within a second (nothing was computed), naming the limit."""
    t0 = time.perf_counter()
    with pytest.raises(ConfigError) as info:
        make()
    assert time.perf_counter() - t0 < 1.0
    assert info.value.field == field, str(info.value)
    for n in numbers:
        assert n in str(info.value), f"{n!r} not in {info.value}"
    return info.value


def test_batched_work_and_start_count_are_capped():
    n = MAX_WORK // 10_000 + 1
    refused(lambda: parse_config({"problem": {"starts": [[0.0, 0.0]] * n}, "steps": 10_000}), "problem.starts",
            f"{MAX_WORK:,}")
    parse_config({"problem": {"starts": [[0.0, 0.0]] * (n - 1)}, "steps": 10_000})
    refused(lambda: parse_config({"problem": {"starts": [[0.0, 0.0]] * (MAX_STARTS + 1)}, "steps": 1}), "problem.starts",
            f"{MAX_STARTS:,}")


def test_coupled_optimizers_run_a_bounded_number_of_starts():
    starts = [[0.1 * i, 0.0] for i in range(NON_ELEMENTWISE_MAX_STARTS + 1)]
    for name in ("LBFGS", "Adafactor", "Muon"):
        config = parse_config({"problem": {"starts": starts}, "optimizer": {"name": name}, "steps": 5})
        refused(lambda c=config: run(c), "problem.starts", str(NON_ELEMENTWISE_MAX_STARTS))


def test_closure_work_of_one_run_is_capped(monkeypatch):
    monkeypatch.setattr(engine, "MAX_CLOSURE_WORK", 300)
    greedy = {"max_iter": 10**6, "max_eval": 10**7, "history_size": MAX_LBFGS_HISTORY, "tolerance_grad": 0.0,
              "tolerance_change": 0.0, "lr": 1e-4}
    trace = run({"problem": {"surface": "rosenbrock"}, "optimizer": {"name": "LBFGS", "options": greedy}, "steps": 50})
    assert trace.diverged_at is not None and "cap on closure evaluations" in trace.message
    assert trace.evaluations.sum() < 300 and np.isfinite(trace.positions).all()
    # batched starts of a coupled optimizer share one run's budget
    many = run({"problem": {"surface": "rosenbrock", "starts": [[-1, 1], [0, 2], [1, -1]]},
                "optimizer": {"name": "LBFGS", "options": greedy}, "steps": 50})
    assert (many.diverged_at >= 0).all()
    # an ordinary run never meets the real cap
    monkeypatch.undo()
    plain = run({"problem": {"surface": "rosenbrock"}, "optimizer": {"name": "LBFGS"}, "steps": 40})
    assert "cap" not in plain.message


def test_lbfgs_history_is_capped_before_torch_allocates_it():
    # torch's LBFGS.step() allocates [None] * history_size: a link with 1e9 would take 8 GB of a replica
    refused(lambda: parse_config({"optimizer": {"name": "LBFGS", "options": {"history_size": 10**9}}}),
            "optimizer.options.history_size", f"{MAX_LBFGS_HISTORY:,}")


def test_noise_epochs_lists_and_compositions_are_capped():
    refused(lambda: parse_config({"problem": {"noise": MAX_NOISE * 10}}), "problem.noise", f"{MAX_NOISE:g}")
    refused(lambda: parse_config({"scheduler": {"name": "StepLR", "steps_per_epoch": MAX_STEPS_PER_EPOCH + 1}}),
            "scheduler.steps_per_epoch", str(MAX_STEPS_PER_EPOCH))
    refused(lambda: parse_config({"scheduler": {"name": "MultiStepLR", "options": {"milestones": list(range(101))}}}),
            "scheduler.options.milestones", "100")
    children = [{"name": "ConstantLR"}] * (MAX_CHILDREN + 1)
    refused(lambda: parse_config({"scheduler": {"name": "ChainedScheduler", "options": {"schedulers": children}}}),
            "scheduler.options.schedulers", str(MAX_CHILDREN))


def test_points_domains_and_grids_are_capped():
    refused(lambda: parse_config({"problem": {"start": [1e13, 0]}}), "problem.start", "1e12")
    refused(lambda: parse_config({"problem": {"expression": "x**2 + y**2", "domain": [[-1e7, 1e7], [-1, 1]]}}),
            "problem.domain", f"{MAX_DOMAIN_WIDTH:g}")
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=str(MAX_GRID)):
        SURFACES["rosenbrock"].grid(MAX_GRID + 1)
    with pytest.raises(ValueError):
        SURFACES["rosenbrock"].grid(10**9)
    assert time.perf_counter() - t0 < 1.0


def test_link_text_is_capped_before_parsing():
    default = parse_config({})
    text = '{"steps": 100' + " " * MAX_URL_TEXT + "}"
    t0 = time.perf_counter()
    config, warning = config_from_query(text, default)
    assert time.perf_counter() - t0 < 0.1
    assert config.key() == default.key() and "too long" in warning


def test_sweep_and_basin_sizes_are_capped():
    from optviz.core.vectorised import RULES
    from optviz.lessons.basins import MAX_BASIN_SIDE, basin_maps
    from optviz.lessons.sweeps import MAX_GROUPS_WORK, MAX_MAP_STEPS, MAX_SWEEP_SIDE, parse_sweep, run_sweep

    base = {"problem": {"surface": "rosenbrock"}, "optimizer": {"name": "SGD", "options": {"lr": 1e-3}}, "steps": 100}
    refused(lambda: parse_sweep({"config": base, "x": {"param": "lr", "low": 1e-4, "high": 1e-2, "n": MAX_SWEEP_SIDE + 1}}),
            "x.n", str(MAX_SWEEP_SIDE))
    refused(lambda: parse_sweep({"config": {**base, "steps": MAX_MAP_STEPS + 1}}), "steps", str(MAX_MAP_STEPS))
    refused(lambda: basin_maps([base], n=MAX_BASIN_SIDE + 1), "n", str(MAX_BASIN_SIDE))
    slow = next(n for n in ("Rprop", "ASGD", "Adadelta", "RMSprop", "NAdam", "RAdam") if n not in RULES)
    side = MAX_SWEEP_SIDE
    steps = min(MAX_MAP_STEPS, MAX_GROUPS_WORK // (side * side) + 1)
    sweep = parse_sweep({"config": {**base, "optimizer": {"name": slow}, "steps": steps},
                         "x": {"param": "lr", "low": 1e-4, "high": 1e-2, "n": side},
                         "y": {"param": "weight_decay", "low": 0.0, "high": 0.1, "n": side, "log": False}})
    refused(lambda: run_sweep(sweep), "x.n", f"{MAX_GROUPS_WORK:,}")


def test_net_steps_and_landscape_grid_are_capped():
    from optviz.nets.landscape import MAX_GRID as LANDSCAPE_GRID
    from optviz.nets.landscape import landscape
    from optviz.nets.model import MAX_STEPS as NET_STEPS
    from optviz.nets.model import parse_net_config

    refused(lambda: parse_net_config({"data": {"n_points": 5000}, "batch_size": 1, "epochs": 1000}), "epochs",
            f"{NET_STEPS:,}")
    refused(lambda: landscape(None, n_grid=LANDSCAPE_GRID + 1), "landscape.n_grid", str(LANDSCAPE_GRID))


# ---------------------------------------------------------------- what sessions share
def _cache_decorators():
    """(file, function, decorator call) for every st.cache_data / st.cache_resource in the app."""
    files = [ROOT / "app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "optviz").rglob("*.py")]
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        consts = {t.id: n.value for n in tree.body if isinstance(n, ast.Assign) for t in n.targets
                  if isinstance(t, ast.Name)}
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for d in node.decorator_list:
                    target = d.func if isinstance(d, ast.Call) else d
                    if isinstance(target, ast.Attribute) and target.attr in ("cache_data", "cache_resource"):
                        yield path.relative_to(ROOT), node, d, consts


def test_every_cache_is_bounded_and_keyed_by_plain_values():
    """Caches are the only state shared between sessions: each must be bounded (max_entries) so a classroom
    cannot grow a replica's memory without limit, and none may take a session's widgets or state as its key."""
    found = 0
    for path, fn, dec, consts in _cache_decorators():
        found += 1
        where = f"{path}:{fn.lineno} {fn.name}"
        assert isinstance(dec, ast.Call), f"{where}: unbounded cache (no max_entries)"
        kwargs = {k.arg for k in dec.keywords if k.arg}
        for k in dec.keywords:
            if k.arg is None and isinstance(k.value, ast.Name) and isinstance(consts.get(k.value.id), ast.Call):
                kwargs |= {kw.arg for kw in consts[k.value.id].keywords}
        assert "max_entries" in kwargs, f"{where}: unbounded cache (no max_entries)"
        names = [a.arg for a in fn.args.args]
        assert not {"session", "session_state", "st", "widget"} & set(names), f"{where}: keyed by session objects"
    assert found >= 3, "no caches found: did the app's layout change?"
