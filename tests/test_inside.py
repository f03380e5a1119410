"""The step-by-step re-implementations equal torch.optim (float64, 1e-12) and the walkthrough reports what torch did."""
import math

import numpy as np
import pytest
import torch

from optviz.core.config import ConfigError
from optviz.core.engine import run
from optviz.core.surfaces import expression_surface, get_surface
from optviz.lessons import inside
from optviz.lessons.inside import STEPS, TOLERANCE, state_rows, step_listing, walkthrough

SETTINGS = [
    ("SGD", {"lr": 1e-3}),
    ("SGD", {"lr": 1e-3, "momentum": 0.9}),
    ("SGD", {"lr": 5e-4, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.05}),
    ("SGD", {"lr": 5e-4, "momentum": 0.8, "nesterov": True, "weight_decay": 0.01}),
    ("SGD", {"lr": 1e-4, "momentum": 0.5, "maximize": True}),
    ("Adam", {"lr": 1e-2}),
    ("Adam", {"lr": 1e-2, "betas": (0.8, 0.99), "weight_decay": 0.1}),
    ("Adam", {"lr": 1e-2, "weight_decay": 0.1, "decoupled_weight_decay": True, "amsgrad": True}),
    ("Adam", {"lr": 5e-3, "amsgrad": True, "maximize": True, "eps": 1e-3}),
    ("AdamW", {"lr": 1e-2}),
    ("AdamW", {"lr": 1e-2, "weight_decay": 0.3, "amsgrad": True}),
    ("RMSprop", {"lr": 1e-3}),
    ("RMSprop", {"lr": 1e-3, "centered": True}),
    ("RMSprop", {"lr": 1e-4, "momentum": 0.9, "alpha": 0.9, "weight_decay": 0.02}),
    ("RMSprop", {"lr": 1e-4, "momentum": 0.5, "centered": True, "maximize": True}),
    ("Adagrad", {"lr": 0.05}),
    ("Adagrad", {"lr": 0.05, "lr_decay": 0.01, "initial_accumulator_value": 0.5}),
    ("Adagrad", {"lr": 0.05, "weight_decay": 0.1, "eps": 1e-3, "maximize": True}),
]
STEPS_TESTED = 60
CONCAVE = "-(x**2 + 3*y**2) + 0.5*x*y"


def _close(mine: np.ndarray, theirs: torch.Tensor) -> bool:
    t = theirs.detach().numpy().reshape(-1)
    return bool(np.all(np.abs(mine.reshape(-1) - t) <= TOLERANCE * np.maximum(1.0, np.abs(t))))


@pytest.mark.parametrize("name,options", SETTINGS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(SETTINGS)])
def test_reimplementation_equals_torch_over_many_steps(name, options):
    """Torch's optimizer built here, the re-implementation carried from its own state: equal after every step."""
    # a concave bowl for maximize (climbing Rosenbrock runs off to infinity), Rosenbrock otherwise
    surface = expression_surface(CONCAVE) if options.get("maximize") else get_surface("rosenbrock")
    p = torch.tensor([-1.2, 1.4], dtype=torch.float64, requires_grad=True)
    opt = getattr(torch.optim, name)([p], **options)
    mine_p, mine_state = p.detach().numpy().copy(), {}
    for _ in range(STEPS_TESTED):
        opt.zero_grad()
        surface.value(p[0], p[1]).backward()
        grad = p.grad.detach().numpy().copy()
        opt.step()
        res = STEPS[name](mine_p, grad, mine_state, opt.param_groups[0])
        mine_p, mine_state = res.param, res.state
        assert _close(mine_p, p)
        torch_state = opt.state[p]
        assert set(mine_state) == set(torch_state)
        for k, v in torch_state.items():
            assert _close(np.asarray(mine_state[k]), torch.as_tensor(v)), k
    assert np.isfinite(mine_p).all()


@pytest.mark.parametrize("name,options", SETTINGS[1::3], ids=[n for n, _ in SETTINGS[1::3]])
def test_walkthrough_agrees_with_two_groups(name, options):
    groups = {"x": {}, "y": {"lr": options["lr"] / 4}}
    w = walkthrough({"problem": {"surface": "beale"}, "optimizer": {"name": name, "options": options, "groups": groups},
                     "steps": 50})
    assert len(w.steps) == 50 and w.agree and w.max_diff <= TOLERANCE
    first = w.steps[0]
    assert [g.group for g in first.groups] == ["x", "y"]
    assert [g.hyper["lr"] for g in first.groups] == [options["lr"], options["lr"] / 4]
    # the positions are the app's: the engine's run of the same config lands on the same points
    trace = run(w.config)
    assert np.allclose(w.positions, trace.positions, rtol=1e-10, atol=1e-12)


def test_sgd_lines_follow_the_seed():
    w = walkthrough({"problem": {"surface": "booth"}, "steps": 3,
                     "optimizer": {"name": "SGD", "options": {"lr": 1e-3, "momentum": 0.9, "dampening": 0.5}}})
    step1, step2 = (s.groups[0] for s in w.steps[:2])
    formulas1 = [line.formula for line in step1.lines if line.ran]
    assert formulas1 == ["d_p = grad", "buf = d_p.clone()", "d_p = buf", "p = p - lr * d_p"]
    # the buffer starts as a copy of d_p: dampening does not apply on the first step
    assert step1.state["momentum_buffer"] == step1.grad
    assert "buf = momentum * buf + (1 - dampening) * d_p" in [line.formula for line in step2.lines if line.ran]
    skipped = [line for line in step1.lines if not line.ran]
    assert skipped and skipped[0].note == "weight_decay = 0"
    text = step_listing(step2, "SGD")
    assert "# buf = " in text and "momentum=0.9" in text
    rows = state_rows(step2)
    assert rows[0]["entry"] == "p" and rows[1]["entry"] == "momentum_buffer"


def test_a_wrong_reimplementation_is_caught(monkeypatch):
    """A buffer that starts at zero (dampening applied on step 1) must show as disagreeing."""
    original = STEPS["SGD"]

    def wrong(p, grad, state, group):
        return original(p, grad, dict(state) or {"momentum_buffer": np.zeros_like(p)}, group)

    monkeypatch.setitem(inside.STEPS, "SGD", wrong)
    w = walkthrough({"problem": {"surface": "booth"}, "steps": 5,
                     "optimizer": {"name": "SGD", "options": {"lr": 1e-3, "momentum": 0.9, "dampening": 0.5}}})
    assert w.agree is False and w.steps[0].agree is False and w.max_diff > 1e-3


def test_lbfgs_closure_calls_are_recorded():
    w = walkthrough({"problem": {"surface": "rosenbrock"}, "optimizer": {"name": "LBFGS"}, "steps": 4})
    trace = run(w.config)
    first = w.steps[0]
    assert first.evaluations == len(first.probes) == trace.evaluations[0] > 1
    assert np.allclose(np.array(first.probes), trace.probes[0], rtol=1e-9, atol=1e-12)
    assert first.agree is None and w.agree is None
    assert {"func_evals", "n_iter"} <= set(first.groups[0].torch_state)
    assert math.isclose(first.groups[0].torch_state["func_evals"][0], first.evaluations)


def test_bad_requests_are_config_errors():
    with pytest.raises(ConfigError, match="step-by-step view covers"):
        walkthrough({"optimizer": {"name": "Rprop"}, "steps": 3})
    with pytest.raises(ConfigError, match="at most"):
        walkthrough({"optimizer": {"name": "SGD"}, "steps": inside.MAX_WALK_STEPS + 1})


def test_divergence_ends_the_walk_with_a_message():
    w = walkthrough({"problem": {"surface": "rosenbrock"}, "optimizer": {"name": "SGD", "options": {"lr": 0.05}}, "steps": 50})
    assert len(w.steps) < 50 and "diverged" in w.message


def test_equal_non_finite_values_agree_and_others_do_not():
    d = inside.difference
    assert d(-math.inf, -math.inf) == 0 and d(math.inf, math.inf) == 0 and d(math.nan, math.nan) == 0
    assert d(-math.inf, math.inf) == math.inf and d(math.nan, 1.0) == math.inf and d(1.0, -math.inf) == math.inf
    assert d(3.0, 1.0) == 2.0 and d(12.0, 10.0) == pytest.approx(0.2) and d(12.0, 10.0, relative=False) == 2.0


def test_overflow_to_the_same_inf_is_not_reported_as_a_difference():
    """SGD down x³ runs off to −inf: torch and the lines overflow at the same step, to the same −inf."""
    walk = walkthrough({"problem": {"expression": "x**3 + y**2", "start": [-1.0, 0.5]},
                        "optimizer": {"name": "SGD", "options": {"lr": 0.5}}, "steps": 30})
    last = walk.steps[-1]
    assert "diverged" in walk.message and last.groups[0].torch_param[0] == -math.inf == last.groups[0].param[0]
    assert last.agree is True and walk.agree is True and last.max_diff <= TOLERANCE
    p_row = next(r for r in state_rows(last.groups[0]) if r["entry"] == "p")
    assert p_row["|Δ|"] == "0.0e+00"
