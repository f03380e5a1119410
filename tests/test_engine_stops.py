"""Every way a single run ends early leaves a consistent Trace: the steps made so far, nothing of the step that failed,
``diverged_at`` and one sentence saying why."""
import math

import numpy as np
import pytest
import torch

from optviz import parse_config, run
from optviz.core import engine


def assert_consistent(trace):
    m = trace.steps
    assert trace.positions.shape == (m + 1, 2) and trace.losses.shape == (m + 1,)
    assert trace.grads.shape == (m, 2) and trace.evaluations.shape == (m,)
    assert trace.lrs.shape == (m, len(trace.groups)) and trace.momentums.shape == (m, len(trace.groups))
    assert all(v.shape == (m, 2) for v in trace.state.values())
    assert np.isfinite(trace.positions).all()


class FailingSurface:
    """The config's surface, except that evaluation number `fail_at` (1-based) raises, as a torch error would."""

    def __init__(self, surface, fail_at: int):
        self.surface, self.fail_at, self.calls = surface, fail_at, 0

    def __getattr__(self, name):
        return getattr(self.surface, name)

    def value_and_grad(self, x, y):
        self.calls += 1
        if self.calls == self.fail_at:
            raise RuntimeError("refused\nsecond line")
        return self.surface.value_and_grad(x, y)


@pytest.mark.parametrize("groups", [None, {"x": {"lr": 0.002}, "y": {}}])
def test_an_error_inside_step_ends_the_run_with_torchs_words(monkeypatch, groups):
    config = parse_config({"optimizer": {"name": "Adam", "options": {"lr": 0.01}, "groups": groups}, "steps": 20})
    failing = FailingSurface(engine.surface_of(config), fail_at=6)
    monkeypatch.setattr(engine, "surface_of", lambda c: failing)
    trace = run(config)
    assert trace.diverged_at == 6 and trace.steps == 5
    assert trace.message == "torch stopped at step 6: RuntimeError: refused"
    assert_consistent(trace)
    # the loss at the last point is evaluated afresh (the failing step recorded none)
    assert trace.losses[-1] == failing.surface.value_and_grad(*trace.positions[-1])[0]


def test_a_scheduler_that_refuses_keeps_the_step_it_follows():
    trace = run({"optimizer": {"name": "SGD", "options": {"lr": 1e-4}}, "steps": 30,
                 "scheduler": {"name": "StepLR", "options": {"step_size": 0}}})
    # epoch-wise (10 steps per epoch): step 10 is made and recorded, then StepLR divides by its step_size
    assert trace.steps == 10 and trace.diverged_at == 11
    assert trace.message == "torch's lr scheduler stopped after step 10: ZeroDivisionError: integer modulo by zero"
    assert_consistent(trace)


def test_a_loss_that_is_not_finite_ends_the_run_before_the_step_counts():
    trace = run({"optimizer": {"name": "SGD", "options": {"lr": 0.1}}, "steps": 10,
                 "problem": {"expression": "exp(x**3)", "start": [10, 0]}})
    assert trace.steps == 0 and trace.diverged_at == 1
    assert trace.message.startswith("diverged at step 1: the loss or gradient at the current point is not finite (loss inf")
    assert_consistent(trace)
    assert math.isinf(trace.losses[0])


def test_a_point_far_outside_the_domain_ends_the_run_and_is_not_kept():
    trace = run({"optimizer": {"name": "SGD", "options": {"lr": 0.01}}, "steps": 50})
    assert trace.diverged_at is not None and trace.steps == trace.diverged_at - 1
    assert "left the plotted domain by more than 10000× its width" in trace.message
    assert_consistent(trace)


def test_lbfgs_records_its_probes_per_step_and_stops_at_the_work_cap(monkeypatch):
    monkeypatch.setattr(engine, "MAX_CLOSURE_WORK", 300)
    trace = run({"optimizer": {"name": "LBFGS"}, "steps": 200})
    assert trace.diverged_at is not None and "cap on closure evaluations" in trace.message
    assert_consistent(trace)
    assert len(trace.probes) == trace.steps
    assert [len(p) for p in trace.probes] == trace.evaluations.tolist()


def test_pytorch_optimizers_copy_of_lbfgs_counts_its_history_like_torchs(monkeypatch):
    """pytorch-optimizer re-exports torch.optim.LBFGS: the closure-work cap weighs its stored history the same way, so a
    huge history_size cannot stall a server under the other name."""
    from optviz.core import engine

    monkeypatch.setattr(engine, "MAX_CLOSURE_WORK", 400)
    cfg = {"problem": {"surface": "rosenbrock"}, "steps": 200}
    opts = {"lr": 1.0, "max_iter": 20, "history_size": 1000}
    ours = engine.run({**cfg, "optimizer": {"name": "LBFGS", "options": opts}})
    theirs = engine.run({**cfg, "optimizer": {"name": "pytorch_optimizer.LBFGS", "options": opts}})
    assert ours.diverged_at is not None and "cap on closure evaluations" in ours.message
    assert theirs.diverged_at == ours.diverged_at and theirs.message == ours.message
    np.testing.assert_array_equal(theirs.positions, ours.positions)


def test_a_pytorch_optimizer_run_leaves_the_global_generators_as_it_found_them():
    """AdaHessian draws its Hessian probes from torch's global generator: the engine seeds it from the config for the run
    and restores it after, so a run neither depends on nor changes what other code draws."""
    from optviz.core.engine import run

    cfg = {"problem": {"surface": "rosenbrock"}, "steps": 5, "optimizer": {"name": "pytorch_optimizer.AdaHessian", "options": {"lr": 0.01}}}
    torch.manual_seed(123)
    np.random.seed(123)
    want_t, want_n = torch.rand(3), np.random.rand(3)
    torch.manual_seed(123)
    np.random.seed(123)
    first = run(cfg)
    assert torch.equal(torch.rand(3), want_t) and np.array_equal(np.random.rand(3), want_n)
    torch.manual_seed(7)
    np.testing.assert_array_equal(run(cfg).positions, first.positions)      # the config's seed, not the process's
