"""Every Scheduler Lab curve equals the lrs of a torch scheduler built independently here, in the seed's loop."""
import ast
import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler as L

from optviz.core.schedulers import SCHEDULERS
from optviz.core.specs import ConfigError
from optviz.lessons.schedlab import LossSource, overlay_setup, parse_setup, run_pair, run_schedule, setup_from_query, setup_to_query

BASE = (0.1, 0.03)
EPOCHS, SPE = 12, 3

# name → (the lab's options, the same scheduler built directly with torch; n = number of scheduler.step() calls)
CASES = {
    "StepLR": ({"step_size": 4, "gamma": 0.5}, lambda o, n: L.StepLR(o, step_size=4, gamma=0.5)),
    "MultiStepLR": ({"milestones": [3, 7], "gamma": 0.3}, lambda o, n: L.MultiStepLR(o, milestones=[3, 7], gamma=0.3)),
    "ConstantLR": ({"factor": 0.25, "total_iters": 5}, lambda o, n: L.ConstantLR(o, factor=0.25, total_iters=5)),
    "LinearLR": ({"start_factor": 0.1, "end_factor": 0.9, "total_iters": 6},
                 lambda o, n: L.LinearLR(o, start_factor=0.1, end_factor=0.9, total_iters=6)),
    "ExponentialLR": ({"gamma": 0.8}, lambda o, n: L.ExponentialLR(o, gamma=0.8)),
    "PolynomialLR": ({"total_iters": 8, "power": 2.0}, lambda o, n: L.PolynomialLR(o, total_iters=8, power=2.0)),
    "CosineAnnealingLR": ({"T_max": 5, "eta_min": 0.001}, lambda o, n: L.CosineAnnealingLR(o, T_max=5, eta_min=0.001)),
    "CosineAnnealingWarmRestarts": ({"T_0": 3, "T_mult": 2, "eta_min": 0.0},
                                    lambda o, n: L.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2)),
    "CyclicLR": ({"base_lr": 0.001, "max_lr": 0.05, "step_size_up": 4, "mode": "triangular2"},
                 lambda o, n: L.CyclicLR(o, base_lr=0.001, max_lr=0.05, step_size_up=4, mode="triangular2")),
    "OneCycleLR": ({"max_lr": 0.2, "pct_start": 0.25}, lambda o, n: L.OneCycleLR(o, max_lr=0.2, total_steps=n, pct_start=0.25)),
    "ReduceLROnPlateau": ({"patience": 1, "factor": 0.5, "threshold": 0.01},
                          lambda o, n: L.ReduceLROnPlateau(o, patience=1, factor=0.5, threshold=0.01)),
    "LambdaLR": ({"lr_lambda": ["0.9**epoch", "1/(epoch + 1)"]},
                 lambda o, n: L.LambdaLR(o, lr_lambda=[lambda e: 0.9**e, lambda e: 1 / (e + 1)])),
    "MultiplicativeLR": ({"lr_lambda": "0.95"}, lambda o, n: L.MultiplicativeLR(o, lr_lambda=lambda e: 0.95)),
    "SequentialLR": ({"schedulers": [{"name": "LinearLR", "options": {"start_factor": 0.2, "total_iters": 3}},
                                     {"name": "ExponentialLR", "options": {"gamma": 0.7}}], "milestones": [3]},
                     lambda o, n: L.SequentialLR(o, [L.LinearLR(o, start_factor=0.2, total_iters=3),
                                                     L.ExponentialLR(o, gamma=0.7)], milestones=[3])),
    "ChainedScheduler": ({"schedulers": [{"name": "ConstantLR", "options": {"factor": 0.5, "total_iters": 4}},
                                         {"name": "ExponentialLR", "options": {"gamma": 0.9}}]},
                         lambda o, n: L.ChainedScheduler([L.ConstantLR(o, factor=0.5, total_iters=4),
                                                          L.ExponentialLR(o, gamma=0.9)], optimizer=o)),
}


def test_every_scheduler_has_a_case():
    assert set(CASES) == set(SCHEDULERS)


def torch_curve(name: str, interval: str, loss: LossSource, optimizer: str = "SGD"):
    """The seed's loop written out here: lr (and momentum) of each group during every optimizer step."""
    params = [torch.zeros(1, dtype=torch.float64, requires_grad=True) for _ in BASE]
    extra = {"momentum": 0.0} if optimizer == "SGD" else {}
    opt = getattr(torch.optim, optimizer)([{"params": [p], "lr": lr} for p, lr in zip(params, BASE, strict=True)], **extra)
    n_sched = EPOCHS if interval == "epoch" else EPOCHS * SPE
    sch = CASES[name][1](opt, n_sched)
    g = torch.Generator().manual_seed(loss.seed)
    draws = torch.randn(EPOCHS * SPE, generator=g, dtype=torch.float64)
    lrs, moms = [], []
    for epoch in range(EPOCHS):
        seen = []
        for batch in range(SPE):
            t = epoch * SPE + batch
            value = loss.floor + (loss.start - loss.floor) * math.exp(-t / loss.tau) + loss.noise * draws[t].item()
            seen.append(value)
            lrs.append([grp["lr"] for grp in opt.param_groups])
            moms.append([grp["momentum"] if "momentum" in grp else grp["betas"][0] for grp in opt.param_groups])
            for p in params:
                p.grad = torch.zeros_like(p)
            opt.step()
            if interval == "step":
                sch.step(value) if name == "ReduceLROnPlateau" else sch.step()
        if interval == "epoch":
            sch.step(sum(seen) / len(seen)) if name == "ReduceLROnPlateau" else sch.step()
    return np.array(lrs), np.array(moms)


@pytest.mark.parametrize("name", list(CASES))
def test_curve_equals_torch(name):
    setup = parse_setup({"scheduler": name, "options": CASES[name][0], "base_lrs": list(BASE), "epochs": EPOCHS,
                         "steps_per_epoch": SPE, "loss": {"tau": 6.0, "noise": 0.05}})
    per_epoch, per_batch = run_pair(setup)
    for sched, interval in ((per_epoch, "epoch"), (per_batch, "step")):
        lrs, moms = torch_curve(name, interval, setup.loss)
        assert not sched.error, sched.error
        assert sched.lrs.shape == (EPOCHS * SPE, 2)
        np.testing.assert_allclose(sched.lrs, lrs, rtol=1e-13, atol=0)
        np.testing.assert_allclose(sched.momentums, moms, rtol=1e-13, atol=0)
        # get_last_lr() after each scheduler.step() is the lr of the steps that follow it
        first_of_each = sched.lrs[:: SPE] if interval == "epoch" else sched.lrs
        np.testing.assert_allclose(sched.last_lrs[: len(first_of_each)], first_of_each, rtol=1e-13)
    if name in ("StepLR", "ExponentialLR", "MultiStepLR"):
        assert not np.allclose(per_epoch.lrs, per_batch.lrs)


def test_per_batch_stepping_is_steps_per_epoch_times_faster():
    setup = parse_setup({"scheduler": "StepLR", "options": {"step_size": 2, "gamma": 0.5}, "base_lrs": [0.1],
                         "epochs": 8, "steps_per_epoch": 5})
    per_epoch, per_batch = run_pair(setup)
    for k in range(4):
        assert per_epoch.lrs[k * 5, 0] == pytest.approx(0.1 * 0.5 ** (k // 2))
        assert per_batch.lrs[k * 5, 0] == pytest.approx(0.1 * 0.5 ** (k * 5 // 2))


def test_cyclic_switches_momentum_zero_on_and_says_so():
    setup = parse_setup({"scheduler": "CyclicLR", "options": {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 5},
                         "optimizer": "SGD", "momentum": 0.0, "epochs": 4, "steps_per_epoch": 5, "interval": "step"})
    s = run_schedule(setup)
    assert s.momentums[0, 0] == pytest.approx(0.9)
    assert np.nanmin(s.momentums) == pytest.approx(0.8)
    assert any("from 0 to 0.9" in n and "silently" in n for n in s.notes)
    assert any("momentum_buffer" in n for n in s.notes)
    adam = run_schedule(parse_setup({**setup.to_dict(), "scheduler": "OneCycleLR", "options": {"max_lr": 0.1},
                                     "optimizer": "Adam"}))
    assert adam.momentums[0, 0] == pytest.approx(0.95)
    assert any("β₁ from 0.9 to 0.95" in n for n in adam.notes)


def test_scheduler_first_warns_and_skips_the_first_value():
    opts = {"scheduler": "LinearLR", "options": {"start_factor": 0.25, "total_iters": 4}, "base_lrs": [0.1],
            "epochs": 6, "steps_per_epoch": 2}
    right = run_schedule(parse_setup(opts))
    wrong = run_schedule(parse_setup({**opts, "order": "scheduler_first"}))
    assert any("Detected call of `lr_scheduler.step()` before `optimizer.step()`" in n for n in wrong.notes)
    assert not any("Detected call" in n for n in right.notes)
    np.testing.assert_allclose(wrong.lrs[:-2:2, 0], right.lrs[2::2, 0])
    assert "WRONG ORDER" in wrong.code


def test_one_cycle_overstepped_ends_with_torchs_message():
    setup = parse_setup({"scheduler": "OneCycleLR", "options": {"max_lr": 0.1, "total_steps": 10}, "epochs": 5,
                         "steps_per_epoch": 4, "interval": "step"})
    s = run_schedule(setup)
    # construction plus 10 scheduler steps give 11 lrs; the 11th optimizer step runs on the "bounced" one, then torch stops
    assert s.steps == 11 and "Tried to step 11 times" in s.error
    assert s.lrs[-1, 0] == pytest.approx(s.lrs[-3, 0]) and s.losses.shape == (11,)


def test_plateau_on_a_surface_run():
    setup = parse_setup({"scheduler": "ReduceLROnPlateau", "options": {"patience": 2}, "base_lrs": [0.05, 0.01],
                         "epochs": 10, "steps_per_epoch": 5, "loss": {"source": "surface", "surface_noise": 2.0}})
    s = run_schedule(setup)
    assert s.lrs.shape == (50, 2) and s.losses.shape == (50,)
    assert s.lrs[-1, 0] < 0.05 and s.lrs[0].tolist() == [0.05, 0.01]
    assert "torch.optim" in s.code
    with pytest.raises(ConfigError, match="at most 2"):
        parse_setup({**setup.to_dict(), "base_lrs": [0.1, 0.1, 0.1]})


@pytest.mark.parametrize("data,field,text", [
    ({"scheduler": "LambdaLR", "options": {"lr_lambda": "epoch +* 2"}}, "options.lr_lambda", ""),
    ({"scheduler": "LambdaLR", "options": {"lr_lambda": "__import__('os')"}}, "options.lr_lambda", ""),
    ({"scheduler": "LambdaLR", "options": {"lr_lambda": ["0.9**epoch"]}, "base_lrs": [0.1, 0.2]}, "options.lr_lambda",
     "one lambda per parameter group"),
    ({"scheduler": "LinearLR", "options": {"start_factor": 0.0}}, "options", "Starting multiplicative factor"),
    ({"scheduler": "SequentialLR", "options": {"milestones": [1, 2]}}, "options", "one more than the number of milestone"),
    ({"scheduler": "SequentialLR", "options": {"schedulers": [{"name": "ReduceLROnPlateau"}], "milestones": []}},
     "options.schedulers[0].name", "cannot be inside"),
    ({"scheduler": "StepLR", "options": {"gamma": "fast"}}, "options.gamma", "expected a number"),
    ({"scheduler": "CyclicLR", "optimizer": "Adagrad"}, "options", "optimizer must support momentum"),
    ({"scheduler": "ReduceLROnPlateau", "order": "scheduler_first"}, "order", ""),
    ({"base_lrs": [0.1, 0.1, 0.1, 0.1]}, "base_lrs", ""),
    ({"epochs": 1000, "steps_per_epoch": 1000}, "steps_per_epoch", "cap"),
])
def test_bad_setups_name_their_field(data, field, text):
    with pytest.raises(ConfigError) as e:
        parse_setup(data)
    assert e.value.field == field and text in e.value.message


def test_csv_and_overlay_and_query():
    setup = parse_setup({"scheduler": "StepLR", "options": {"step_size": 2}, "epochs": 3, "steps_per_epoch": 2})
    s = run_schedule(setup)
    rows = s.to_csv().strip().splitlines()
    assert rows[0].startswith("step,epoch,batch,lr_group0,lr_group1") and len(rows) == 7
    other = run_schedule(overlay_setup(setup, "CosineAnnealingLR"))
    assert other.setup.options["T_max"] == SCHEDULERS["CosineAnnealingLR"].param("T_max").initial
    default = parse_setup({})
    back, warning = setup_from_query(setup_to_query(setup, default), default)
    assert warning is None and back == setup
    assert setup_to_query(default, default) == ""
    _, warning = setup_from_query('{"epochs": -3}', default)
    assert "not valid" in warning


def test_code_view_reproduces_the_curve():
    """The code shown is the loop that ran: executing it prints the same lrs (both scripts in one interpreter)."""
    setups = [
        {"scheduler": "LambdaLR", "options": {"lr_lambda": ["0.9**epoch", "exp(-epoch/4)"]}, "interval": "step"},
        {"scheduler": "ReduceLROnPlateau", "options": {"patience": 1}, "loss": {"tau": 5.0}},
        {"scheduler": "StepLR", "options": {"step_size": 2}, "order": "scheduler_first", "optimizer": "Adam"},
    ]
    runs = [run_schedule(parse_setup({**d, "epochs": 6, "steps_per_epoch": 3})) for d in setups]
    script = "\n".join(s.code for s in runs)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    printed = out.stdout.strip().splitlines()[-len(runs):]
    for s, line in zip(runs, printed, strict=True):
        np.testing.assert_allclose(np.array(ast.literal_eval(line), dtype=np.float64), s.lrs, rtol=1e-12)
