"""Small nets: configs and caps, the per-group optimizer, the canonical loop against a plain torch loop, records, scripts."""
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from optviz.core.specs import ConfigError
from optviz.nets.datasets import DATASETS, MAX_POINTS, make_split
from optviz.nets.model import MAX_DEPTH, MAX_EPOCHS, MAX_WIDTH, NET_OPTIMIZERS, NetConfig, build_model, make_optimizer, parse_net_config, tensors
from optviz.nets.netcode import generate_net_script
from optviz.nets.training import train

SMALL = {"data": {"n_points": 160}, "epochs": 6}


def small(**changes) -> dict:
    out = json.loads(json.dumps(SMALL))
    for k, v in changes.items():
        out[k] = {**out[k], **v} if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


# -- learning ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(DATASETS))
def test_default_optimizer_reduces_the_loss_on_every_dataset(name):
    tr = train({"data": {"name": name, "n_points": 200}, "epochs": 25})
    assert tr.config.optimizer.name == "SGD" and tr.diverged_at is None
    assert tr.train_loss[-1] < 0.9 * tr.train_loss[0]
    assert tr.test_loss[-1] < tr.test_loss[0]
    assert tr.train_score[-1] > tr.train_score[0]


def plain_loop(config: NetConfig) -> list[float]:
    """The seed's loop written out with torch only: the oracle for the engine's training."""
    X, y, _, _ = tensors(config)
    model = build_model(config)
    optimizer = make_optimizer(config, model)
    loss_fn = nn.MSELoss() if config.dataset.regression else nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(config.seed)
    losses = []
    with torch.no_grad():
        losses.append(loss_fn(model(X), y).item())
    for _ in range(config.epochs):
        perm = torch.randperm(len(X), generator=gen)
        for i in range(0, len(X), config.batch_size):
            idx = perm[i: i + config.batch_size]
            optimizer.zero_grad()
            loss = loss_fn(model(X[idx]), y[idx])
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            losses.append(loss_fn(model(X), y).item())
    return losses


@pytest.mark.parametrize("data,opt", [("moons", {"name": "SGD", "options": {"lr": 0.1, "momentum": 0.9}}),
                                      ("sine", {"name": "Adam", "options": {"lr": 0.01}, "groups": {"base": {"lr": 0.03}}})])
def test_training_equals_a_plain_torch_loop(data, opt):
    config = parse_net_config(small(data={"name": data}, optimizer=opt, batch_size=25))
    assert train(config).train_loss.tolist() == plain_loop(config)


# -- parameter groups ----------------------------------------------------------------------------------

def test_the_optimizer_has_the_seeds_two_groups_with_their_own_lr():
    config = parse_net_config(small(optimizer={"name": "SGD", "options": {"lr": 0.05, "momentum": 0.9},
                                               "groups": {"classifier": {"lr": 0.005}}}))
    model = build_model(config)
    opt = make_optimizer(config, model)
    base, cls = opt.param_groups
    assert [id(p) for p in base["params"]] == [id(p) for p in model.base.parameters()]
    assert [id(p) for p in cls["params"]] == [id(p) for p in model.classifier.parameters()]
    assert (base["lr"], cls["lr"]) == (0.05, 0.005)
    assert base["momentum"] == cls["momentum"] == 0.9
    tr = train(config)
    assert tr.groups == ("base", "classifier")
    assert np.all(tr.lrs == [0.05, 0.005]) and np.all(tr.momentums == 0.9)


def test_each_group_moves_by_its_own_lr():
    # plain SGD: the update of a group is exactly lr_group × its gradient
    config = small(optimizer={"name": "SGD", "options": {"lr": 0.2}, "groups": {"classifier": {"lr": 0.02}}})
    tr = train(config)
    np.testing.assert_allclose(tr.update_norms, tr.grad_norms * [0.2, 0.02], rtol=1e-9)


def test_recorded_lrs_follow_the_scheduler_per_group():
    config = parse_net_config(small(optimizer={"name": "SGD", "options": {"lr": 0.1}, "groups": {"classifier": {"lr": 0.01}}},
                                    scheduler={"name": "StepLR", "options": {"step_size": 2, "gamma": 0.5}}))
    tr = train(config)
    spe = config.steps_per_epoch
    expected = np.repeat([[0.1 * 0.5 ** (e // 2), 0.01 * 0.5 ** (e // 2)] for e in range(config.epochs)], spe, axis=0)
    np.testing.assert_allclose(tr.lrs, expected, rtol=1e-12)
    per_step = train(small(scheduler={"name": "ExponentialLR", "options": {"gamma": 0.9}, "interval": "step"}))
    np.testing.assert_allclose(per_step.lrs[:, 1], 0.01 * 0.9 ** np.arange(per_step.steps), rtol=1e-12)


@pytest.mark.parametrize("opt,names", [({"name": "Adam", "options": {"lr": 0.01}}, ("exp_avg", "exp_avg_sq")),
                                       ({"name": "SGD", "options": {"lr": 0.1, "momentum": 0.9}}, ("momentum_buffer",)),
                                       ({"name": "Adafactor"}, ("row_var", "col_var", "variance"))])
def test_state_norms_are_the_norms_of_torchs_state_per_submodule(opt, names):
    config = parse_net_config(small(optimizer=opt, epochs=2))
    model = build_model(config)
    optimizer = make_optimizer(config, model)
    X, y, _, _ = tensors(config)
    gen = torch.Generator().manual_seed(config.seed)
    for _ in range(config.epochs):
        perm = torch.randperm(len(X), generator=gen)
        for i in range(0, len(X), config.batch_size):
            idx = perm[i: i + config.batch_size]
            optimizer.zero_grad()
            nn.CrossEntropyLoss()(model(X[idx]), y[idx]).backward()
            optimizer.step()
    tr = train(config)
    assert set(tr.state_norms) == set(names)
    for name in names:
        want = [math.sqrt(sum(float(optimizer.state[p][name].norm()) ** 2 for p in part.parameters() if name in optimizer.state[p]))
                for part in (model.base, model.classifier)]
        np.testing.assert_allclose(tr.state_norms[name][-1], want, rtol=1e-10)


@pytest.mark.parametrize("name", NET_OPTIMIZERS)
def test_every_net_optimizer_trains_and_records(name):
    tr = train(small(optimizer={"name": name}, epochs=2))
    assert tr.message and tr.steps == tr.epochs * tr.config.steps_per_epoch
    assert tr.grad_norms.shape == tr.update_norms.shape == (tr.steps, 2)
    assert tr.lrs.shape == (tr.steps, len(tr.groups)) and np.isfinite(tr.grad_norms).all()
    for v in tr.state_norms.values():
        assert v.shape == (tr.steps, 2)


def test_lbfgs_takes_one_full_batch_step_per_epoch_with_many_closure_calls():
    tr = train(small(optimizer={"name": "LBFGS", "options": {"line_search_fn": "strong_wolfe"}}, epochs=4))
    assert tr.groups == ("model",) and tr.steps == 4 and tr.lrs.shape == (4, 1)
    assert tr.evaluations.min() > 1 and tr.train_loss[-1] < tr.train_loss[0]
    assert {"d", "prev_flat_grad"} <= set(tr.state_norms)
    with pytest.raises(ConfigError) as e:
        parse_net_config(small(optimizer={"name": "LBFGS", "groups": {"classifier": {"lr": 0.1}}}))
    assert e.value.field == "optimizer.groups" and "parameter groups" in e.value.message


# -- init, records, divergence --------------------------------------------------------------------------

def test_same_seed_same_initial_net_for_every_optimizer():
    a, b = build_model(parse_net_config(small())), build_model(parse_net_config(small(optimizer={"name": "Adam"})))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    c = build_model(parse_net_config(small(seed=1)))
    assert not torch.equal(next(a.parameters()), next(c.parameters()))
    ta, tb = train(small()), train(small(optimizer={"name": "Adam"}))
    assert np.array_equal(ta.snapshots[0], tb.snapshots[0]) and ta.train_loss[0] == tb.train_loss[0]


def test_frames_snapshots_and_progress():
    seen = []
    tr = train(small(epochs=50), on_epoch=lambda e, n: seen.append((e, n)))
    assert seen[-1] == (50, 50) and [e for e, _ in seen] == sorted(e for e, _ in seen)
    assert len(tr.frame_epochs) == 40 and tr.frame_epochs[0] == 0 and tr.frame_epochs[-1] == 50
    np.testing.assert_allclose(tr.frames.sum(axis=1), 1.0, atol=1e-5)      # class probabilities
    assert tr.snapshot_epochs[0] == 0 and tr.snapshot_epochs[-1] == 50
    final = torch.cat([p.detach().reshape(-1) for p in build_model(tr.config).parameters()])
    assert tr.snapshots.shape[1] == final.numel()
    sine = train(small(data={"name": "sine"}, epochs=3))
    assert sine.frames.shape == (4, len(sine.grid_x)) and sine.grid_y is None and sine.score_name == "R²"


def test_divergence_stops_with_the_epoch_and_a_message():
    tr = train(small(data={"name": "sine"}, optimizer={"name": "SGD", "options": {"lr": 10.0, "momentum": 0.9}}, epochs=20))
    assert tr.diverged_at is not None and 1 <= tr.diverged_at <= 20
    assert "epoch" in tr.message and len(tr.train_loss) == tr.diverged_at
    assert np.isfinite(tr.train_loss).all() and np.isfinite(tr.snapshots).all()
    assert tr.snapshot_epochs[-1] == tr.epochs


def test_config_json_round_trip():
    config = parse_net_config(small(scheduler={"name": "OneCycleLR", "options": {"max_lr": 0.3}, "interval": "step"}))
    assert NetConfig.from_json(config.to_json()) == config
    assert config.scheduler.options["total_steps"] == config.epochs * config.steps_per_epoch


# -- caps and bad inputs ---------------------------------------------------------------------------

@pytest.mark.parametrize("change,field", [
    ({"data": {"n_points": MAX_POINTS + 1}}, "data.n_points"),
    ({"data": {"name": "mnist"}}, "data.name"),
    ({"data": {"noise": -1}}, "data.noise"),
    ({"data": {"test_fraction": 0.9}}, "data.test_fraction"),
    ({"data": {"colour": 1}}, "data.colour"),
    ({"model": {"width": MAX_WIDTH + 1}}, "model.width"),
    ({"model": {"depth": MAX_DEPTH + 1}}, "model.depth"),
    ({"model": {"depth": 0}}, "model.depth"),
    ({"model": {"activation": "swish"}}, "model.activation"),
    ({"epochs": MAX_EPOCHS + 1}, "epochs"),
    ({"epochs": 1000, "batch_size": 1, "data": {"n_points": 400}}, "epochs"),
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": 10_000}, "batch_size"),
    ({"seed": -1}, "seed"),
    ({"optimizer": {"name": "SparseAdam"}}, "optimizer.name"),
    ({"optimizer": {"name": "Muon"}}, "optimizer.name"),
    ({"optimizer": {"name": "SGD", "options": {"lr": -1}}}, "optimizer.options.lr"),
    ({"optimizer": {"name": "SGD", "groups": {"classifier": {"lr": -0.1}}}}, "optimizer.groups.classifier.lr"),
    ({"optimizer": {"name": "SGD", "groups": {"head": {}}}}, "optimizer.groups.head"),
    ({"optimizer": {"name": "Adam", "options": {"betas": [1.5, 0.9]}}}, "optimizer.options.betas"),
    ({"scheduler": {"name": "StepLR", "interval": "batch"}}, "scheduler.interval"),
    ({"scheduler": {"name": "LambdaLR", "options": {"lr_lambda": "__import__('os')"}}}, "scheduler.options.lr_lambda"),
    ({"version": 2}, "version"),
])
def test_caps_and_bad_inputs_name_the_field(change, field):
    with pytest.raises(ConfigError) as e:
        parse_net_config(small(**change))
    assert e.value.field == field and e.value.message


def test_the_engine_enforces_the_caps_itself():
    with pytest.raises(ConfigError) as e:
        train({"model": {"width": 500}})
    assert e.value.field == "model.width"


def test_datasets_are_seeded_and_split():
    config = parse_net_config(small(data={"name": "spiral", "n_points": 100, "test_fraction": 0.2}))
    a, b = make_split(config.data), make_split(config.data)
    assert np.array_equal(a.X_train, b.X_train) and len(a.X_test) == 20 and len(a.X_train) == 80
    c = make_split(parse_net_config(small(data={"name": "spiral", "n_points": 100, "seed": 3})).data)
    assert not np.array_equal(a.X_train, c.X_train)


# -- generated scripts -------------------------------------------------------------------------------

SCRIPT_CASES = [
    small(scheduler={"name": "StepLR", "options": {"step_size": 2}}),
    small(data={"name": "sine"}, optimizer={"name": "Adam", "options": {"lr": 0.01}, "groups": {"classifier": {"lr": 0.003}}},
          scheduler={"name": "ReduceLROnPlateau", "options": {"patience": 0}, "interval": "step"}),
    small(data={"name": "blobs"}, optimizer={"name": "LBFGS", "options": {"line_search_fn": "strong_wolfe"}}, epochs=3,
          scheduler={"name": "LambdaLR", "options": {"lr_lambda": "exp(-epoch/3)"}}),
]


# one interpreter runs every script (each as __main__, its printout captured): torch and sklearn are imported once
DRIVER = """
import contextlib, io, json, runpy, sys
out = []
for path in sys.argv[1:]:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        runpy.run_path(path, run_name="__main__")
    out.append(json.loads(buffer.getvalue()))
print(json.dumps(out))
"""


def test_generated_scripts_reproduce_the_metrics(tmp_path):
    paths = []
    for i, config in enumerate(SCRIPT_CASES):
        paths.append(tmp_path / f"net_{i}.py")
        paths[-1].write_text(generate_net_script(config))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", DRIVER, *map(str, paths)], capture_output=True, text=True, timeout=300,
                          env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    for config, got in zip(SCRIPT_CASES, json.loads(done.stdout), strict=True):
        want = train(config).metrics()
        assert set(got) == set(want)
        for k in want:
            np.testing.assert_allclose(np.array(got[k]), np.array(want[k]), rtol=0, atol=1e-6, err_msg=k)


def test_sgd_nesterov_is_checked_on_the_defaults_only_as_torch_does():
    """torch checks Nesterov's rule on the constructor's defaults: a group with its own momentum 0 is allowed (and runs),
    Nesterov with no momentum in the defaults is refused with torch's message."""
    ok = parse_net_config(small(optimizer={"name": "SGD", "options": {"lr": 0.1, "momentum": 0.9, "nesterov": True},
                                           "groups": {"classifier": {"momentum": 0.0}}}))
    opt = make_optimizer(ok, build_model(ok))
    assert [g["momentum"] for g in opt.param_groups] == [0.9, 0.0] and all(g["nesterov"] for g in opt.param_groups)
    with pytest.raises(ConfigError, match="Nesterov momentum requires a momentum and zero dampening") as e:
        parse_net_config(small(optimizer={"name": "SGD", "options": {"lr": 0.1, "momentum": 0.0, "nesterov": True},
                                          "groups": {"classifier": {"momentum": 0.9}}}))
    assert e.value.field == "optimizer.options.nesterov"
