"""Config parsing and validation: every check names its field, and torch's own checks carry torch's own words."""
import json
import warnings

import pytest
import torch

from optviz import Config, ConfigError, parse_config
from optviz.core.config import MAX_STEPS
from optviz.core.optimizers import OPTIMIZERS

# (optimizer, bad options, field, does torch itself refuse it at construction or first step?)
BAD = [
    ("SGD", {"lr": -1.0}, "optimizer.options.lr", True),
    ("SGD", {"momentum": -0.1}, "optimizer.options.momentum", True),
    ("SGD", {"weight_decay": -1.0}, "optimizer.options.weight_decay", True),
    ("SGD", {"nesterov": True}, "optimizer.options.nesterov", True),
    ("SGD", {"nesterov": True, "momentum": 0.9, "dampening": 0.1}, "optimizer.options.nesterov", True),
    ("SGD", {"momentum": 1.5}, "optimizer.options.momentum", False),
    ("SGD", {"dampening": -0.5}, "optimizer.options.dampening", False),
    ("Adam", {"lr": -1.0}, "optimizer.options.lr", True),
    ("Adam", {"eps": -1.0}, "optimizer.options.eps", True),
    ("Adam", {"betas": [1.0, 0.999]}, "optimizer.options.betas", True),
    ("Adam", {"betas": [0.9, 1.5]}, "optimizer.options.betas", True),
    ("Adam", {"weight_decay": -0.1}, "optimizer.options.weight_decay", True),
    ("AdamW", {"betas": [-0.1, 0.9]}, "optimizer.options.betas", True),
    ("Adagrad", {"lr_decay": -1.0}, "optimizer.options.lr_decay", True),
    ("Adagrad", {"initial_accumulator_value": -1.0}, "optimizer.options.initial_accumulator_value", True),
    ("Adagrad", {"eps": -1.0}, "optimizer.options.eps", True),
    ("Adadelta", {"rho": 1.1}, "optimizer.options.rho", True),
    ("Adadelta", {"lr": -1.0}, "optimizer.options.lr", True),
    ("Adamax", {"betas": [0.9, 1.0]}, "optimizer.options.betas", True),
    ("NAdam", {"momentum_decay": -1.0}, "optimizer.options.momentum_decay", True),
    ("RAdam", {"eps": -1.0}, "optimizer.options.eps", True),
    ("RMSprop", {"alpha": -1.0}, "optimizer.options.alpha", True),
    ("RMSprop", {"alpha": 1.5}, "optimizer.options.alpha", False),
    ("RMSprop", {"momentum": -1.0}, "optimizer.options.momentum", True),
    ("Rprop", {"etas": [1.0, 1.2]}, "optimizer.options.etas", True),
    ("Rprop", {"etas": [0.5, 0.9]}, "optimizer.options.etas", True),
    ("Rprop", {"step_sizes": [1.0, 0.1]}, "optimizer.options.step_sizes", False),
    ("ASGD", {"lr": -1.0}, "optimizer.options.lr", True),
    ("ASGD", {"weight_decay": -1.0}, "optimizer.options.weight_decay", True),
    ("ASGD", {"lambd": -1.0}, "optimizer.options.lambd", False),
    ("LBFGS", {"lr": -1.0}, "optimizer.options.lr", True),
    ("LBFGS", {"history_size": 0}, "optimizer.options.history_size", True),
    ("LBFGS", {"max_iter": 0}, "optimizer.options.max_iter", False),
    ("LBFGS", {"max_iter": 1, "line_search_fn": "strong_wolfe"}, "optimizer.options.max_eval", False),
    ("Adafactor", {"lr": -1.0}, "optimizer.options.lr", True),
    ("Adafactor", {"beta2_decay": 0.1}, "optimizer.options.beta2_decay", True),
    ("Adafactor", {"eps": [-1.0, 0.001]}, "optimizer.options.eps", True),
    ("Adafactor", {"eps": [None, -1.0]}, "optimizer.options.eps", True),
    ("Adafactor", {"d": 0.5}, "optimizer.options.d", True),
    ("Adafactor", {"weight_decay": -1.0}, "optimizer.options.weight_decay", True),
    ("Muon", {"lr": -1.0}, "optimizer.options.lr", True),
    ("Muon", {"momentum": -1.0}, "optimizer.options.momentum", True),
    ("Muon", {"weight_decay": -1.0}, "optimizer.options.weight_decay", True),
    ("Muon", {"ns_steps": 100}, "optimizer.options.ns_steps", True),
    ("SparseAdam", {"lr": 0.0}, "optimizer.options.lr", True),
    ("SparseAdam", {"eps": 0.0}, "optimizer.options.eps", True),
]


def torch_message(name, options):
    """What torch itself says (construction, or the first step) for these options on a 2-D point."""
    spec = OPTIMIZERS[name]
    kw = {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}
    p = torch.zeros((1, 2) if spec.point_shape == "matrix" else 2, dtype=torch.float64, requires_grad=True)
    def closure():
        opt.zero_grad()
        loss = ((p - 1) ** 2).sum()
        loss.backward()
        if spec.sparse_grad:
            p.grad = p.grad.to_sparse()
        return loss

    try:
        opt = spec.cls([p], **kw)
        for _ in range(3):
            opt.step(closure)
    except Exception as e:  # noqa: BLE001 — we want torch's text, whatever the type
        return str(e)
    return None


@pytest.mark.parametrize("name, options, field, by_torch", BAD, ids=[f"{b[0]}-{'-'.join(b[1])}" for b in BAD])
def test_every_check_names_its_field_with_torchs_message(name, options, field, by_torch):
    with pytest.raises(ConfigError) as info:
        parse_config({"optimizer": {"name": name, "options": options}})
    err = info.value
    assert err.field == field
    assert err.message and "\n" not in err.message
    said = torch_message(name, options)
    if by_torch:
        assert said is not None, "torch accepts this, so the check is a trap, not torch's"
        if "pop from empty list" not in said:
            assert err.message == said
        else:
            assert "IndexError: pop from empty list" in err.message
    else:
        assert said is None, f"torch refuses this itself ({said}); the check should use its message"
        assert "torch accepts this" in err.message


def test_group_overrides_are_checked_and_named():
    with pytest.raises(ConfigError) as info:
        parse_config({"optimizer": {"name": "SGD", "groups": {"x": {"lr": -1.0}, "y": {}}}})
    assert info.value.field == "optimizer.groups.x.lr"
    with pytest.raises(ConfigError, match="LBFGS doesn't support per-parameter options"):
        parse_config({"optimizer": {"name": "LBFGS", "groups": {"x": {}, "y": {}}}})
    with pytest.raises(ConfigError) as info:
        parse_config({"optimizer": {"name": "SGD", "groups": {"z": {}}}})
    assert info.value.field == "optimizer.groups.z"


@pytest.mark.parametrize("data, field", [
    ({"steps": 0}, "steps"),
    ({"steps": MAX_STEPS + 1}, "steps"),
    ({"steps": "many"}, "steps"),
    ({"seed": -1}, "seed"),
    ({"version": 99}, "version"),
    ({"colour": "red"}, "colour"),
    ({"optimizer": {"name": "Lion"}}, "optimizer.name"),
    ({"optimizer": {"name": "SGD", "options": {"foreach": True}}}, "optimizer.options.foreach"),
    ({"optimizer": {"name": "SGD", "options": {"lr": "NaN"}}}, "optimizer.options.lr"),
    ({"optimizer": {"name": "SGD", "options": {"lr": "inf"}}}, "optimizer.options.lr"),
    ({"optimizer": {"name": "SGD", "options": {"nesterov": "maybe"}}}, "optimizer.options.nesterov"),
    ({"optimizer": {"name": "Adam", "options": {"betas": [0.9]}}}, "optimizer.options.betas"),
    ({"problem": {"surface": "moon"}}, "problem.surface"),
    ({"problem": {"start": [1.0]}}, "problem.start"),
    ({"problem": {"noise": -1}}, "problem.noise"),
    ({"problem": {"expression": "__import__('os')"}}, "problem.expression"),
    ({"problem": {"starts": [[0, 0]] * 100_001}}, "problem.starts"),
    ({"problem": {"starts": [[0, 0]] * 5000}, "steps": 5000}, "problem.starts"),
    ({"problem": {"surface": "quadratic", "options": {"eigenvalues": [1, -1e400]}}}, "problem.options"),
    ({"scheduler": {"name": "Warmup"}}, "scheduler.name"),
    ({"scheduler": {"name": "StepLR", "interval": "hour"}}, "scheduler.interval"),
    ({"scheduler": {"name": "StepLR", "steps_per_epoch": 0}}, "scheduler.steps_per_epoch"),
    ({"scheduler": {"name": "LambdaLR", "options": {"lr_lambda": "os.system('x')"}}}, "scheduler.options.lr_lambda"),
    ({"scheduler": {"name": "SequentialLR", "options": {"schedulers": [{"name": "ReduceLROnPlateau"}]}}},
     "scheduler.options.schedulers[0].name"),
])
def test_invalid_fields_are_named(data, field):
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    assert info.value.field == field, str(info.value)


@pytest.mark.parametrize("scheduler, options, text", [
    ("LinearLR", {"start_factor": 0.0}, "Starting multiplicative factor expected to be greater than 0 and less or equal to 1."),
    ("ConstantLR", {"factor": 2.0}, "Constant multiplicative factor expected to be between 0 and 1."),
    ("ReduceLROnPlateau", {"factor": 1.5}, "Factor should be < 1.0."),
    ("CosineAnnealingWarmRestarts", {"T_0": 0}, "Expected positive integer T_0, but got 0"),
    ("SequentialLR", {"milestones": [1, 2]}, "Sequential Schedulers expects number of schedulers provided to be one more"),
    ("LambdaLR", {"lr_lambda": ["0.9**epoch", "0.5**epoch"]}, "Expected 1 lr_lambdas, but got 2"),
])
def test_scheduler_checks_are_torchs(scheduler, options, text):
    with pytest.raises(ConfigError) as info:
        parse_config({"scheduler": {"name": scheduler, "options": options}})
    assert text in info.value.message


def test_cycle_momentum_needs_momentum_says_torch():
    with pytest.raises(ConfigError, match="optimizer must support momentum or beta1"):
        parse_config({"optimizer": {"name": "Adagrad"}, "scheduler": {"name": "CyclicLR"}})
    parse_config({"optimizer": {"name": "Adagrad"}, "scheduler": {"name": "CyclicLR", "options": {"cycle_momentum": False}}})


def test_json_round_trip_and_defaults():
    config = parse_config({"optimizer": {"name": "SGD", "options": {"lr": 0.001, "momentum": 0.9, "nesterov": True},
                                         "groups": {"x": {"lr": 0.002}, "y": {}}},
                           "scheduler": {"name": "StepLR", "options": {"step_size": 10, "gamma": 0.5}},
                           "steps": 200})
    again = Config.from_json(config.to_json())
    assert again == config and again.key() == config.key()
    assert json.loads(config.to_json())["version"] == 1
    empty = parse_config({})
    assert empty.optimizer.name == "SGD" and empty.steps == 200 and empty.scheduler is None
    assert empty.optimizer.options["lr"] == 1e-3  # torch's own default
    # omitted options take torch's defaults; the key does not depend on how the config was written
    assert parse_config({"optimizer": {"name": "Adam"}}).key() == parse_config(
        {"optimizer": {"name": "Adam", "options": {"betas": [0.9, 0.999], "eps": 1e-8}}}).key()


def test_one_cycle_length_defaults_to_the_run():
    c = parse_config({"scheduler": {"name": "OneCycleLR", "interval": "epoch", "steps_per_epoch": 7}, "steps": 50})
    assert c.scheduler.options["total_steps"] == 8
    c = parse_config({"scheduler": {"name": "OneCycleLR", "interval": "step"}, "steps": 50})
    assert c.scheduler.options["total_steps"] == 50


def test_bad_json_text():
    with pytest.raises(ConfigError, match="not valid JSON"):
        Config.from_json("{nope")
    with pytest.raises(ConfigError):
        Config.from_json("[1, 2]")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parse_config({"scheduler": {"name": "CyclicLR"}})
