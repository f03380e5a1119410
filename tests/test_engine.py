"""The engine against torch itself: every optimizer on every surface, batched == separate, schedulers, divergence."""
import inspect
import math
import warnings

import numpy as np
import pytest
import torch

from optviz import parse_config, run
from optviz.core.engine import surface_of
from optviz.core.optimizers import ELEMENTWISE, OPTIMIZERS
from optviz.core.schedulers import SCHEDULERS, build_scheduler
from optviz.core.surfaces import SURFACES


def cfg(name="SGD", options=None, surface="rosenbrock", steps=30, **extra):
    d = {"problem": {"surface": surface}, "optimizer": {"name": name, "options": options or {}}, "steps": steps}
    d.update(extra)
    return parse_config(d)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_hyperparameter_names_are_torch_keywords(name):
    spec = OPTIMIZERS[name]
    sig = inspect.signature(spec.cls.__init__).parameters
    for p in spec.params:
        assert p.name in sig, f"{name} has no keyword {p.name}"
        default = sig[p.name].default
        if p.name == "eps" and name == "Adafactor":
            assert tuple(default) == tuple(p.default)
        elif isinstance(default, tuple):
            assert tuple(p.default) == default
        else:
            assert p.default == default, f"{name}.{p.name}: spec default {p.default} != torch {default}"


@pytest.mark.parametrize("surface", SURFACES)
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optimizer_runs_from_defaults_on_every_surface(name, surface):
    trace = run(cfg(name, surface=surface, steps=12))
    assert trace.message
    assert np.isfinite(trace.positions).all()
    assert trace.positions.shape == (trace.steps + 1, 2)
    assert trace.grads.shape == (trace.steps, 2) and trace.lrs.shape == (trace.steps, 1)
    if trace.diverged_at is None:
        assert trace.steps == 12
    else:
        assert trace.steps == trace.diverged_at - 1 and "step" in trace.message


def naive_positions(config, steps):
    """The notebook loop, with autograd: the reference the engine must equal."""
    surf = surface_of(config)
    spec = config.optimizer_spec
    start = config.problem.start or surf.start
    shape = (1, 2) if spec.point_shape == "matrix" else (2,)
    p = torch.tensor(start, dtype=torch.float64).reshape(shape).requires_grad_(True)
    opt = spec.cls([p], **config.optimizer.options)
    out = [p.detach().reshape(-1).clone()]

    def closure():
        opt.zero_grad()
        q = p.reshape(-1)
        loss = surf.value(q[0], q[1])
        loss.backward()
        if spec.sparse_grad:
            p.grad = p.grad.to_sparse()
        return loss

    for _ in range(steps):
        opt.step(closure)
        out.append(p.detach().reshape(-1).clone())
    return torch.stack(out).numpy()


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_trajectory_equals_a_plain_torch_loop(name):
    options = {"lr": 1e-4} if name in ("SGD", "ASGD") else {}
    config = cfg(name, options, steps=25)
    trace = run(config)
    ref = naive_positions(config, 25)
    if name == "LBFGS":
        # LBFGS's line search amplifies a last-bit difference of the gradient (2e-5 by step 4 with forward-mode
        # duals), so optviz gives it autograd's gradient: the same numbers as the plain loop, bit for bit
        np.testing.assert_array_equal(trace.positions, ref)
        return
    tol = 1e-6 if name == "Muon" else 1e-10  # Muon orthogonalises in bfloat16
    np.testing.assert_allclose(trace.positions, ref, rtol=tol, atol=tol)


def test_state_and_lrs_are_torchs():
    trace = run(cfg("Adam", {"lr": 0.01, "amsgrad": True}, steps=20))
    assert set(trace.state) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    np.testing.assert_array_equal(trace.state["step"][:, 0], np.arange(1, 21))
    # exp_avg after step 1 is (1 - β₁)·g₁
    np.testing.assert_allclose(trace.state["exp_avg"][0], 0.1 * trace.grads[0], rtol=1e-12)
    assert (trace.lrs == 0.01).all()
    assert (trace.momentums == 0.9).all()


def test_sgd_without_momentum_has_no_state_and_no_momentum_curve():
    trace = run(cfg("SGD", {"lr": 1e-4}, steps=5))
    assert trace.state == {}
    assert (trace.momentums == 0).all()
    trace = run(cfg("Adagrad", steps=5))
    assert np.isnan(trace.momentums).all() and not trace.has_momentum


def test_per_group_options_reach_torch():
    config = parse_config({"optimizer": {"name": "SGD", "options": {"lr": 1e-3, "momentum": 0.9},
                                         "groups": {"x": {"lr": 1e-4}, "y": {"momentum": 0.5}}}, "steps": 10})
    trace = run(config)
    assert trace.groups == ("x", "y")
    np.testing.assert_array_equal(trace.lrs, [[1e-4, 1e-3]] * 10)
    np.testing.assert_array_equal(trace.momentums, [[0.9, 0.5]] * 10)
    # the x coordinate moves with lr 1e-4 on its first step: Δx = -lr·g_x
    assert trace.positions[1, 0] - trace.positions[0, 0] == pytest.approx(-1e-4 * trace.grads[0, 0], rel=1e-12)
    assert trace.positions[1, 1] - trace.positions[0, 1] == pytest.approx(-1e-3 * trace.grads[0, 1], rel=1e-12)


def test_lbfgs_counts_every_closure_call():
    trace = run(cfg("LBFGS", steps=8))
    # float64 on Rosenbrock from (-1.5, 2): 20, 20, 20, 20, 9, then 1 per step (torch catalog)
    assert trace.evaluations.tolist() == [20, 20, 20, 20, 9, 1, 1, 1]
    assert [len(p) for p in trace.probes] == trace.evaluations.tolist()
    np.testing.assert_allclose(trace.probes[0][0], trace.positions[0])
    assert trace.losses[-1] < 1e-9


def test_divergence_stops_with_the_step_and_a_finite_prefix():
    trace = run(cfg("SGD", {"lr": 0.01}, steps=100))
    assert trace.diverged_at is not None and trace.diverged_at <= 10
    assert "diverged at step" in trace.message
    assert np.isfinite(trace.positions).all()
    assert len(trace.positions) == trace.diverged_at


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_huge_lr_ends_cleanly(name):
    trace = run(cfg(name, {"lr": 1e6}, steps=40))
    assert np.isfinite(trace.positions).all() and np.isfinite(trace.losses[:-1]).all()
    if name in ("Rprop", "Adadelta", "Adafactor"):
        # these cap their own step size, so even lr = 1e6 stays bounded
        assert trace.diverged_at is None and trace.steps == 40
        assert np.abs(trace.positions).max() < 1e5
    else:
        assert trace.diverged_at == 1 and trace.message.startswith("diverged at step 1")


def test_noise_is_seeded_and_zero_noise_is_deterministic():
    a = run(cfg("SGD", {"lr": 1e-4}, steps=20, seed=1))
    b = run(cfg("SGD", {"lr": 1e-4}, steps=20, seed=2))
    np.testing.assert_array_equal(a.positions, b.positions)
    noisy = {"surface": "rosenbrock", "noise": 1.0}
    c = run(parse_config({"problem": noisy, "optimizer": {"name": "SGD", "options": {"lr": 1e-4}}, "steps": 20, "seed": 1}))
    d = run(parse_config({"problem": noisy, "optimizer": {"name": "SGD", "options": {"lr": 1e-4}}, "steps": 20, "seed": 1}))
    e = run(parse_config({"problem": noisy, "optimizer": {"name": "SGD", "options": {"lr": 1e-4}}, "steps": 20, "seed": 2}))
    np.testing.assert_array_equal(c.positions, d.positions)
    assert not np.allclose(c.positions, e.positions)
    # the gradient used is the surface's plus ξ: the difference from the clean gradient is the noise
    clean = np.array([surface_of(c.config).value_and_grad(*p)[1:] for p in c.positions[:-1]])
    assert np.std(c.grads - clean) == pytest.approx(1.0, rel=0.5)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_batched_equals_separate_runs(name):
    rng = np.random.default_rng(0)
    starts = np.column_stack([rng.uniform(-2, 2, 6), rng.uniform(-1, 3, 6)]).tolist()
    options = {"lr": 2e-4} if name in ("SGD", "ASGD") else {}
    batched = run(parse_config({"problem": {"starts": starts}, "optimizer": {"name": name, "options": options}, "steps": 30}))
    assert batched.positions.shape == (31, 6, 2)
    for k, s in enumerate(starts):
        single = run(parse_config({"problem": {"start": s}, "optimizer": {"name": name, "options": options}, "steps": 30}))
        m = single.steps
        np.testing.assert_allclose(batched.positions[: m + 1, k], single.positions, rtol=1e-12, atol=1e-12)
        assert (batched.diverged_at[k] == -1) == (single.diverged_at is None)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_batched_noise_is_the_single_runs_noise(name):
    """Start i of a noisy batch sees the same ξ₁ … ξₙ as the single run of start i with the same seed (they were
    drawn per step for the whole batch, 0.014 apart). On Rosenbrock the surface's float and tensor arithmetic agree
    to the bit, so the runs are identical."""
    starts = [[-1.5, 2.0], [0.5, -0.5], [1.2, 1.9]]
    options = {"lr": 2e-4} if name in ("SGD", "ASGD") else {}
    problem = {"surface": "rosenbrock", "noise": 2.0}
    batched = run(parse_config({"problem": {**problem, "starts": starts}, "optimizer": {"name": name, "options": options},
                                "steps": 30, "seed": 7}), record={"positions", "losses", "grads"})
    for k, s in enumerate(starts):
        single = run(parse_config({"problem": {**problem, "start": s}, "optimizer": {"name": name, "options": options},
                                   "steps": 30, "seed": 7}))
        assert single.steps == 30, single.message
        np.testing.assert_array_equal(batched.grads[:, k], single.grads)
        np.testing.assert_array_equal(batched.positions[:, k], single.positions)


def test_noisy_basin_chunks_see_the_same_noise():
    """Splitting a batch (as basin maps do) no longer changes what any start sees."""
    starts = [[-1.0, 1.0], [0.5, 0.5], [1.5, 2.0], [-0.5, 2.5]]
    base = {"problem": {"noise": 1.0}, "optimizer": {"name": "Adam", "options": {"lr": 0.05}}, "steps": 20, "seed": 3}
    whole = run(parse_config({**base, "problem": {"noise": 1.0, "starts": starts}}))
    halves = [run(parse_config({**base, "problem": {"noise": 1.0, "starts": part}})) for part in (starts[:2], starts[2:])]
    np.testing.assert_array_equal(whole.positions, np.concatenate([h.positions for h in halves], axis=1))


def test_batched_with_groups_and_final_only():
    starts = [[-1.0, 1.0], [0.5, 0.5], [1.5, 2.0]]
    base = {"problem": {"starts": starts}, "optimizer": {"name": "Adam", "options": {"lr": 0.01},
                                                          "groups": {"x": {"lr": 0.02}, "y": {}}}, "steps": 40}
    full = run(parse_config(base))
    final = run(parse_config(base), record={"final"})
    assert final.positions.shape == (2, 3, 2)
    np.testing.assert_array_equal(final.positions[-1], full.positions[-1])
    np.testing.assert_array_equal(final.positions[0], full.positions[0])


def test_non_elementwise_batches_run_one_by_one_or_are_refused():
    t = run(parse_config({"problem": {"starts": [[0, 0], [1, 2]]}, "optimizer": {"name": "LBFGS"}, "steps": 5}))
    assert t.positions.shape == (6, 2, 2)
    with pytest.raises(ValueError, match="couples the points"):
        run(parse_config({"problem": {"starts": [[0, 0]] * 100}, "optimizer": {"name": "Adafactor"}, "steps": 5}))


def torch_lrs(config, n_steps):
    """lrs per step from a hand-written torch loop: optimizer.step() then scheduler.step() per epoch/step."""
    p = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    opt = config.optimizer_spec.cls([p], **config.optimizer.options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sch = build_scheduler(config.scheduler_spec, config.scheduler.options, opt)
    surf = surface_of(config)
    q = torch.tensor(config.problem.start or surf.start, dtype=torch.float64)
    with torch.no_grad():
        p.copy_(q)
    out, losses = [], []
    spe = config.scheduler.steps_per_epoch
    for t in range(1, n_steps + 1):
        out.append(opt.param_groups[0]["lr"])
        opt.zero_grad()
        loss = surf.value(p[0], p[1])
        loss.backward()
        opt.step()
        losses.append(loss.item())
        metric = config.scheduler_spec.needs_metric
        if config.scheduler.interval == "step":
            sch.step(losses[-1]) if metric else sch.step()
        elif t % spe == 0 or t == n_steps:
            chunk = losses[-(spe if t % spe == 0 else t % spe):]
            sch.step(sum(chunk) / len(chunk)) if metric else sch.step()
    return out


@pytest.mark.parametrize("interval", ["epoch", "step"])
@pytest.mark.parametrize("name", SCHEDULERS)
def test_scheduler_lrs_equal_torchs(name, interval):
    config = parse_config({"problem": {"surface": "quadratic"}, "optimizer": {"name": "SGD", "options": {"lr": 1e-3, "momentum": 0.5}},
                           "scheduler": {"name": name, "interval": interval, "steps_per_epoch": 3}, "steps": 45})
    trace = run(config)
    assert trace.diverged_at is None, trace.message
    np.testing.assert_allclose(trace.lrs[:, 0], torch_lrs(config, 45), rtol=1e-12)


def test_cyclic_schedulers_cycle_momentum_and_the_trace_shows_it():
    config = parse_config({"optimizer": {"name": "SGD", "options": {"lr": 1e-4, "momentum": 0.0}},
                           "scheduler": {"name": "OneCycleLR", "options": {"max_lr": 1e-4}, "interval": "step"}, "steps": 40})
    trace = run(config)
    # OneCycleLR silently switches momentum 0 to 0.95 at construction
    assert trace.momentums[0, 0] == pytest.approx(0.95)
    assert trace.momentums[:, 0].min() == pytest.approx(0.85, abs=1e-3)
    assert "momentum_buffer" in trace.state


def test_scheduler_warnings_are_caught():
    config = parse_config({"optimizer": {"name": "Adagrad"}, "scheduler": {"name": "StepLR", "interval": "step"}, "steps": 5})
    assert run(config).warnings == ()


def test_trace_serialises_without_nan():
    trace = run(cfg("SGD", {"lr": 0.01}, steps=50))
    text = trace.to_json()
    assert "NaN" not in text and "Infinity" not in text
    csv = trace.to_csv().splitlines()
    assert csv[0].startswith("step,x,y,loss,grad_x,grad_y")
    assert len(csv) == trace.steps + 2


def test_quadratic_and_expression_problems_run():
    q = run(parse_config({"problem": {"surface": "quadratic", "options": {"eigenvalues": [1, 4], "angle": 30}},
                          "optimizer": {"name": "SGD", "options": {"lr": 0.1}}, "steps": 200}))
    assert q.losses[-1] < 1e-12
    e = run(parse_config({"problem": {"expression": "x**2 + 10*y**2", "start": [2, 1]},
                          "optimizer": {"name": "SGD", "options": {"lr": 0.05}}, "steps": 100}))
    assert e.losses[-1] < 1e-8 and math.isclose(e.losses[0], 14.0)
