"""Each pitfall's wrong run differs from the right one in the way the lesson states."""
import numpy as np
import pytest
import torch

from optviz.lessons import pitfalls as P
from optviz.lessons.pitfalls import PITFALLS


@pytest.mark.parametrize("key", list(PITFALLS))
def test_every_pitfall_is_complete(key):
    pit = PITFALLS[key]
    assert pit.snippets[0].role == "right" and all(s.role in ("wrong", "other") for s in pit.snippets[1:])
    assert len({s.code for s in pit.snippets}) == len(pit.snippets)
    for i in range(len(pit.snippets)):
        lines = pit.changed_lines(i)
        assert lines and max(lines) < len(pit.snippets[i].code.splitlines())
    assert pit.why.endswith(".") and pit.difference
    out = pit.run()
    assert out.finding and out.series
    for s in out.series:
        assert len(s.values) == len(pit.snippets)


def test_zero_grad_gradient_grows():
    out = P.run_zero_grad()
    right, wrong = out.series[0].values
    k = 3 * len(P._regression())
    assert np.all(np.diff(wrong[:k]) > 0)              # the accumulated .grad grows step after step
    assert wrong[k - 1] > 5 * wrong[0] and wrong[k - 1] > 5 * right[k - 1]
    assert right[0] == wrong[0]                        # the first step is the same: nothing to accumulate yet


def test_zero_grad_wrong_grad_is_the_sum_of_batch_gradients():
    batches = P._regression()
    w = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    total = torch.zeros(2, dtype=torch.float64)
    for x, y in batches[:3]:
        g, = torch.autograd.grad(((x @ w - y) ** 2).mean(), w)
        total += g
    out = P.run_zero_grad(epochs=1, lr=0.0)             # lr 0: w stays put, so .grad is exactly the running sum
    assert out.series[0].values[1][2] == pytest.approx(float(total.norm()), rel=1e-12)


def test_per_batch_decays_steps_per_epoch_times_faster():
    right, spe = P.scheduler_lrs(per_batch=False)
    wrong, _ = P.scheduler_lrs(per_batch=True)
    base, gamma, size = P.STEP_LR["lr"], P.STEP_LR["gamma"], P.STEP_LR["step_size"]
    for k in range(6):
        assert right[k * spe] == pytest.approx(base * gamma ** (k // size))
        assert wrong[k * spe] == pytest.approx(base * gamma ** (k * spe // size))


def test_scheduler_first_warns_and_skips_the_first_lr():
    right, caught_right = P.order_lrs(scheduler_first=False)
    wrong, caught_wrong = P.order_lrs(scheduler_first=True)
    assert not caught_right
    assert any("Detected call of `lr_scheduler.step()` before `optimizer.step()`" in c for c in caught_wrong)
    np.testing.assert_allclose(wrong[:-1], right[1:])
    assert right[0] == pytest.approx(P.WARMUP["lr"] * P.WARMUP["start_factor"])
    out = P.run_order()
    assert out.messages and "skipping the first value" in out.messages[0][1]


def test_no_backward_never_moves_and_twice_doubles_the_step():
    losses, paths, refused = P.backward_runs(lr=0.12, steps=30)
    assert np.all(paths[1] == paths[1][0])
    # backward() twice = the right loop at twice the lr, step for step
    f = P._bowl()
    p = P._point()
    opt = torch.optim.SGD([p], lr=0.24)
    for t in range(30):
        opt.zero_grad()
        P._f(f, p).backward()
        opt.step()
        np.testing.assert_allclose(p.detach().numpy(), paths[2][t + 1], rtol=1e-12)
    assert losses[2][-1] > losses[2][0] > losses[0][-1]
    assert "backward through the graph a second time" in refused


def test_coupled_decay_lands_on_the_l2_minimum_decoupled_does_not():
    right, wrong = P.decay_runs()
    l2 = np.array([100 / 100.5, 0.1 / 0.6])
    np.testing.assert_allclose(P.l2_minimum(), l2, rtol=1e-12)
    assert np.abs(wrong.path[-1] - l2).max() < 1e-3
    assert np.abs(right.path[-1] - l2).max() > 0.3
    assert np.abs(right.path[:, 0] - right.path[:, 1]).max() < 1e-6   # AdamW moves steep and flat coordinates alike


def test_adamw_is_still_creeping_towards_the_minimum_not_settled():
    right, _ = P.decay_runs()
    dist = 1 - right.path[:, 1]
    early, *_, last = P.DECAY_CHECKPOINTS
    assert np.all(np.diff(dist[early:]) < 0)                     # every step after the first checkpoint gets closer
    assert dist[last] < dist[early] / 4 and dist[last] > 0.01   # still well short of (1, 1) at the run's end
    # the stated reason: at step 300 Adam's normalised step only just beats the decay, because √v̂ ≫ |g|
    ratio = np.abs(right.m_hat[early - 1, 1]) / (right.sqrt_v_hat[early - 1, 1] + right.eps)
    wd_y = P.DECAY["weight_decay"] * right.path[early, 1]
    assert wd_y < ratio < 1.01 * wd_y
    assert right.sqrt_v_hat[early - 1, 1] > 2 * abs(right.grads[early - 1, 1])


def test_adamw_fixed_point_is_the_minimum_and_torch_rests_there():
    rest = P.adamw_fixed_point()
    assert np.all(rest < 1) and np.abs(1 - rest).max() < 2e-7
    c = np.array([100.0, 0.1])
    for q, at_rest in ((rest, True), (rest - 1e-4, False)):
        p = torch.tensor(q, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.AdamW([p], **P.DECAY)
        g = torch.tensor(c * (q - 1), dtype=torch.float64)
        p.grad = g.clone()
        # torch's state after a long run at a constant gradient: m = g, v = g², bias corrections 1
        opt.state[p] = {"step": torch.tensor(1e9, dtype=torch.float64), "exp_avg": g.clone(), "exp_avg_sq": g * g}
        opt.step()
        moved = p.detach().numpy() - q
        if at_rest:   # (x's rest point is 1e-10 below 1, so float64 only pins its gradient to ~1e-6 relative)
            assert np.abs(moved).max() < 1e-7 and abs(moved[1]) < 1e-2 * (1 - rest[1])
        else:
            assert np.all(moved > 1e-6)                          # short of the rest point, AdamW still moves up


def test_decay_finding_quotes_this_run():
    right, wrong = P.decay_runs()
    text = P.run_decay().finding
    for t in P.DECAY_CHECKPOINTS:
        assert f"({right.path[t, 0]:.3f}, {right.path[t, 1]:.3f}) at step {t:,}" in text
    assert "(0.912, 0.912) at step 300" in text and "(0.980, 0.980) at step 3,000" in text
    l2 = P.l2_minimum()
    settled = next(t for t in range(len(wrong.path)) if np.abs(wrong.path[t:] - l2).max() < P.DECAY_NEAR)
    assert f"from step {settled} on" in text
    early = P.DECAY_CHECKPOINTS[0]
    assert f"√v̂ = {right.sqrt_v_hat[early - 1, 1]:.3g} for y while |g| = {abs(right.grads[early - 1, 1]):.3g}" in text
    assert "1/(1 − β₂) = 1,000 steps" in text
    assert "settles" not in text


def test_lbfgs_without_closure_is_torchs_type_error():
    losses, evals, error = P.lbfgs_runs()
    assert "missing 1 required positional argument: 'closure'" in error and error.startswith("TypeError")
    assert evals[0] == 20 and evals.sum() > len(evals) * 5 and losses[-1] < 1e-8 * losses[0]


def test_too_large_lr_diverges_and_is_caught():
    losses, diverged = P.lr_runs()
    assert diverged[0] is None and diverged[1] is not None
    assert losses[0][-1] < 1e-8 * losses[0][0]
    assert losses[1][-1] > P.BLOW_UP * losses[1][0]
    # the error along λ = 10 grows by |1 − 0.25·10| = 1.5 per step, the loss by 1.5² (the λ = 1 part soon vanishes)
    ratio = losses[1][-1] / losses[1][-2]
    assert ratio == pytest.approx(2.25, rel=1e-3)


def test_lr_change_rescales_the_pytorch_buffer_only():
    (torch_path, sutskever), bufs = P.momentum_runs()
    k = P.CHANGE_AT
    np.testing.assert_allclose(torch_path[: k + 1], sutskever[: k + 1], rtol=1e-12, atol=1e-12)
    assert np.abs(torch_path[k + 2:] - sutskever[k + 2:]).max() > 1e-3
    # PyTorch's step after the change is the new lr times the whole buffer
    np.testing.assert_allclose(torch_path[k] - torch_path[k + 1], 0.005 * bufs[k], rtol=1e-12)
    steps = [P.step_lengths(p) for p in (torch_path, sutskever)]
    assert steps[0][k] < steps[1][k] / 5


def test_lr_finding_states_each_direction_and_the_overall_rate():
    losses, _ = P.lr_runs()
    text = P.run_lr().finding
    for lr, run in zip(P.LR_PAIR, losses, strict=True):
        factors, rate = P.contraction(lr)
        assert rate == max(abs(1 - lr * lam) for lam in P.BOWL)
        # the run's own error factor at its last step is the overall rate, not the steep direction's
        assert P.measured_rate(run) == pytest.approx(rate, rel=1e-3)
        for f, lam in zip(factors, P.BOWL, strict=True):
            assert f"{f:g} along λ = {lam:g}" in text
        assert f"by {rate:g} per step" in text
    assert P.contraction(0.15)[1] == pytest.approx(0.85) and "shrinks by 0.85 per step, set by λ = 1 " in text
    assert "grows by 1.5 per step, set by λ = 10 " in text
    assert "shrinks by |1 − 1.5| = 0.5" not in text
