"""Per-group options: every optimizer × mixes of per-group options, against a plain torch loop with the same two groups.

The mixes come from each optimizer's spec: for every hyperparameter, one group gets a different value (a flipped
boolean, momentum 0 vs 0.9, lr × 10, weight decay on or off, …), once turning the feature on in group y and once
turning it off. Whatever the mix, a state entry a group lacks is NaN on that group's coordinate.
"""
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from optviz import parse_config, run
from optviz.core.config import ConfigError
from optviz.core.engine import surface_of
from optviz.core.optimizers import OPTIMIZERS

ROOT = Path(__file__).resolve().parents[1]
STEPS = 20
PROBLEM = {"surface": "quadratic"}        # λ = 1, 10 at 30°: every option mix below stays finite for 20 steps
GROUPED = [name for name, spec in OPTIMIZERS.items() if spec.groups_ok]


def alternative(name: str, kind: str, value, spec):
    """A different value of one hyperparameter that torch accepts and that changes what the group does."""
    if kind == "bool":
        return not value
    if name == "lr":
        return value * 10
    if name in ("momentum", "weight_decay"):
        return 0.0 if value else (0.9 if name == "momentum" else 0.1)
    if name == "alpha":
        return 0.9 if spec.name == "RMSprop" else 0.5
    if name == "eps":
        return (1e-20, 1e-2) if kind == "pair" else 1e-3
    if name == "adjust_lr_fn":
        return "match_rms_adamw" if value is None else None
    return {"dampening": 0.5, "betas": (0.5, 0.9), "lr_decay": 0.1, "initial_accumulator_value": 0.5, "rho": 0.5,
            "momentum_decay": 0.02, "lambd": 1e-2, "t0": 5.0, "etas": (0.3, 1.5), "step_sizes": (1e-4, 0.5),
            "beta2_decay": -0.5, "d": 2.0, "ns_steps": 3}[name]


def base_options(spec) -> dict:
    """The spec's defaults with momentum switched on (so Nesterov and momentum 0 in one group are mixes too)."""
    base = {p.name: p.default for p in spec.params}
    if base.get("momentum") == 0.0:
        base["momentum"] = 0.9
    return base


def plain(v):
    return list(v) if isinstance(v, tuple) else v


def mixes(spec) -> list[tuple[str, dict, dict]]:
    """(label, options, groups) for every hyperparameter: changed in group y, and changed everywhere but y."""
    base = base_options(spec)
    out = []
    alts = {}
    for p in spec.params:
        alt = alternative(p.name, p.kind, base[p.name], spec)
        alts[p.name] = alt
        out.append((f"y:{p.name}={alt}", base, {"x": {}, "y": {p.name: plain(alt)}}))
        out.append((f"x:{p.name}={alt}", {**base, p.name: alt}, {"x": {}, "y": {p.name: plain(base[p.name])}}))
    out.append(("x:all", base, {"x": {k: plain(v) for k, v in alts.items()}, "y": {}}))
    return out


def accepted(spec):
    """The mixes optviz accepts (it refuses only what torch or a documented trap refuses), as configs."""
    out = []
    for label, options, groups in mixes(spec):
        data = {"problem": PROBLEM, "optimizer": {"name": spec.name, "options": {k: plain(v) for k, v in options.items()},
                                                  "groups": groups}, "steps": STEPS}
        try:
            out.append((label, parse_config(data)))
        except ConfigError:
            continue
    return out


CASES = [(name, label, config) for name in GROUPED for label, config in accepted(OPTIMIZERS[name])]


def test_every_hyperparameter_of_every_optimizer_is_mixed_across_groups():
    """Each optimizer's every hyperparameter differs between the groups in at least one accepted mix."""
    for name in GROUPED:
        labels = [label for n, label, _ in CASES if n == name]
        for p in OPTIMIZERS[name].params:
            assert any(label.startswith(("y:" + p.name + "=", "x:" + p.name + "=")) for label in labels), (name, p.name)


def reference(config):
    """The plain loop: two float64 leaf tensors in two parameter groups, zero_grad → backward → step(closure)."""
    spec = config.optimizer_spec
    surface = surface_of(config)
    shape = (1, 1) if spec.point_shape == "matrix" else (1,)
    start = surface.start if config.problem.start is None else config.problem.start
    x = torch.tensor(start[0], dtype=torch.float64).reshape(shape).requires_grad_(True)
    y = torch.tensor(start[1], dtype=torch.float64).reshape(shape).requires_grad_(True)
    groups = [{"params": [p], **config.optimizer.groups[g]} for g, p in (("x", x), ("y", y))]
    for g in groups:  # JSON lists back to the tuples torch documents
        g.update({k: tuple(v) for k, v in g.items() if k != "params" and isinstance(v, list)})
    options = {k: tuple(v) if isinstance(v, list) else v for k, v in config.optimizer.options.items()}
    opt = spec.cls(groups, **options)

    def closure():
        opt.zero_grad()
        loss = surface.value(x.reshape(()), y.reshape(()))
        loss.backward()
        if spec.sparse_grad:
            for p in (x, y):
                p.grad = p.grad.to_sparse()
        return loss

    positions, lrs, states = [[x.item(), y.item()]], [], []
    for _ in range(config.steps):
        lrs.append([g["lr"] for g in opt.param_groups])
        opt.step(closure)
        positions.append([x.item(), y.item()])
        row = {}
        for i, p in enumerate((x, y)):
            for key, value in opt.state[p].items():
                if torch.is_tensor(value) and value.numel() == 1:
                    row.setdefault(key, [math.nan, math.nan])[i] = value.item()
                elif isinstance(value, (int, float)) and not isinstance(value, bool):
                    row.setdefault(key, [math.nan, math.nan])[i] = float(value)
        states.append(row)
    names = sorted({k for r in states for k in r})
    state = {k: np.array([r.get(k, [math.nan, math.nan]) for r in states]) for k in names}
    return np.array(positions), np.array(lrs), state


@pytest.mark.parametrize("name, label, config", CASES, ids=[f"{n}-{label}" for n, label, _ in CASES])
def test_groups_equal_a_plain_torch_loop(name, label, config):
    trace = run(config)
    assert trace.diverged_at is None, trace.message
    positions, lrs, state = reference(config)
    tol = 1e-10
    np.testing.assert_allclose(trace.positions, positions, rtol=tol, atol=tol)
    np.testing.assert_array_equal(trace.lrs, lrs)
    assert set(trace.state) == set(state)
    for key, values in state.items():
        assert trace.state[key].shape == (STEPS, 2)
        # NaN exactly where the reference has no such entry for that group, equal values elsewhere
        np.testing.assert_array_equal(np.isnan(trace.state[key]), np.isnan(values), err_msg=key)
        np.testing.assert_allclose(trace.state[key], values, rtol=tol, atol=tol, err_msg=key)


@pytest.mark.parametrize("name, options, groups, only", [
    ("SGD", {"lr": 1e-3, "momentum": 0.9}, {"x": {}, "y": {"momentum": 0.0}}, ("momentum_buffer", 0)),
    ("Adam", {}, {"x": {"amsgrad": True}, "y": {}}, ("max_exp_avg_sq", 0)),
    ("AdamW", {}, {"x": {}, "y": {"amsgrad": True}}, ("max_exp_avg_sq", 1)),
    ("RMSprop", {}, {"x": {"centered": True}, "y": {}}, ("grad_avg", 0)),
    ("RMSprop", {"momentum": 0.5}, {"x": {"momentum": 0.0}, "y": {}}, ("momentum_buffer", 1)),
])
def test_a_state_entry_one_group_lacks_is_nan_on_its_coordinate(name, options, groups, only):
    trace = run(parse_config({"problem": {"surface": "rosenbrock"}, "optimizer": {"name": name, "options": options, "groups": groups},
                              "steps": 8}))
    assert trace.steps == 8, trace.message
    key, has = only
    assert np.isfinite(trace.state[key][:, has]).all()
    assert np.isnan(trace.state[key][:, 1 - has]).all()
    if name != "SGD":  # SGD keeps no step count
        assert np.isfinite(trace.state["step"]).all()


def test_cli_runs_the_issue_config():
    text = ('{"problem":{"surface":"rosenbrock"},"optimizer":{"name":"SGD","options":{"lr":0.001,"momentum":0.9},'
            '"groups":{"x":{},"y":{"momentum":0.0}}},"steps":8}')
    out = subprocess.run([sys.executable, "-m", "optviz", "run", "-"], input=text, capture_output=True, text=True, cwd=ROOT,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-1500:]
    state = json.loads(out.stdout)["state"]["momentum_buffer"]
    assert len(state) == 8 and all(isinstance(x, float) and y is None for x, y in state)


@pytest.mark.parametrize("name", [n for n in GROUPED if OPTIMIZERS[n].elementwise])
def test_batched_heterogeneous_groups_equal_separate_runs(name):
    spec = OPTIMIZERS[name]
    label, config = max(accepted(spec), key=lambda c: len(c[1].optimizer.groups["x"]))  # the richest valid mix
    starts = [[-2.0, 1.5], [1.0, -1.0], [0.5, 2.5]]
    data = config.to_dict()
    data["problem"]["starts"] = starts
    batched = run(parse_config(data), record={"positions", "losses", "grads"})
    for k, s in enumerate(starts):
        data1 = config.to_dict()
        data1["problem"]["start"] = s
        single = run(parse_config(data1))
        np.testing.assert_array_equal(batched.positions[: single.steps + 1, k], single.positions, err_msg=label)


def test_lbfgs_refuses_groups_with_torchs_message():
    x = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    y = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    with pytest.raises(ValueError) as torch_error:
        torch.optim.LBFGS([{"params": [x]}, {"params": [y]}])
    with pytest.raises(ConfigError) as ours:
        parse_config({"optimizer": {"name": "LBFGS", "groups": {"x": {}, "y": {}}}})
    assert ours.value.field == "optimizer.groups"
    assert str(torch_error.value) in str(ours.value)
    out = subprocess.run([sys.executable, "-m", "optviz", "run", "-"], input='{"optimizer": {"name": "LBFGS", "groups": {"x": {"lr": 0.5}}}}',
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 2 and out.stderr.strip().count("\n") == 0 and str(torch_error.value) in out.stderr


def test_state_plot_says_which_group_keeps_no_such_entry():
    from optviz.figures import state_figure

    trace = run(parse_config({"optimizer": {"name": "SGD", "options": {"lr": 1e-3, "momentum": 0.9},
                                            "groups": {"x": {}, "y": {"momentum": 0.0}}}, "steps": 8}))
    names = [t.name for t in state_figure(trace).data]
    assert names == ["momentum_buffer[x]", "momentum_buffer[y]: NaN, group y keeps no momentum_buffer"]
    both = run(parse_config({"optimizer": {"name": "SGD", "options": {"lr": 1e-3, "momentum": 0.9}, "groups": {"x": {}, "y": {}}},
                             "steps": 8}))
    assert [t.name for t in state_figure(both).data] == ["momentum_buffer[x]", "momentum_buffer[y]"]


@pytest.mark.parametrize("options, groups", [
    ({"lr": 1e-3, "momentum": 0.9, "nesterov": True}, {"x": {}, "y": {"momentum": 0.0}}),
    ({"lr": 1e-3, "momentum": 0.9}, {"x": {}, "y": {"nesterov": True, "dampening": 0.5}}),
])
def test_sgd_accepts_the_nesterov_mixes_torch_accepts(options, groups):
    """torch checks Nesterov's requirements only on the constructor's defaults; a group may then switch momentum
    off (or add dampening) and torch runs it as written. optviz runs the same mixes, equal to the plain loop."""
    config = parse_config({"problem": PROBLEM, "optimizer": {"name": "SGD", "options": options, "groups": groups}, "steps": STEPS})
    trace = run(config)
    positions, _, state = reference(config)
    np.testing.assert_allclose(trace.positions, positions, rtol=1e-12, atol=1e-12)
    for key, values in state.items():
        np.testing.assert_array_equal(np.isnan(trace.state[key]), np.isnan(values), err_msg=key)


def test_nesterov_without_momentum_in_the_defaults_is_refused_with_torchs_message():
    with pytest.raises(ValueError) as torch_error:
        torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1, nesterov=True)
    with pytest.raises(ConfigError) as ours:
        parse_config({"optimizer": {"name": "SGD", "options": {"lr": 0.1, "nesterov": True}, "groups": {"x": {"momentum": 0.9}, "y": {}}}})
    assert ours.value.field == "optimizer.options.nesterov" and str(torch_error.value) in str(ours.value)


def test_last_step_table_says_which_group_keeps_no_such_entry():
    from optviz.ui.explorer_view import last_step_table

    trace = run({"problem": PROBLEM, "optimizer": {"name": "SGD", "options": {"lr": 1e-3, "momentum": 0.9},
                                                   "groups": {"x": {}, "y": {"momentum": 0.0}}}, "steps": 4})
    table = last_step_table(trace)
    row = next(line for line in table.splitlines() if "momentum_buffer" in line)
    assert "nan" not in table and row.endswith(", —) |") and "keeps no such entry" in table
    assert f"{trace.state['momentum_buffer'][-1, 0]:.4g}"[:4] in row
