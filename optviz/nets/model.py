"""Small nets, what is trained: the typed NetConfig (parsing, caps, torch's own checks) and the MLP and optimizer it builds."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from optviz.core.config import (
    OptimizerChoice,
    SchedulerChoice,
    TypedConfig,
    bounded_int,
    check_rules,
    check_scheduler,
    expect_dict,
    one_line,
    parse_options,
    plain_data,
)
from optviz.core.custom import CUSTOM
from optviz.core.optimizers import OPTIMIZERS, get_optimizer
from optviz.core.schedulers import get_scheduler
from optviz.core.specs import ConfigError, Param, coerce

from .datasets import DataChoice, Dataset, make_split, parse_data

VERSION = 1
DTYPE = torch.float64
MAX_WIDTH = 64
MAX_DEPTH = 4
MAX_EPOCHS = 1000
MAX_STEPS = 60_000          # optimizer steps in one run (epochs × batches per epoch)
GROUPS = ("base", "classifier")

# registry key → torch.nn class name
ACTIVATIONS = {"tanh": "Tanh", "relu": "ReLU", "leaky_relu": "LeakyReLU", "gelu": "GELU", "sigmoid": "Sigmoid"}

UNSUITED = {
    "SparseAdam": "SparseAdam only takes sparse gradients (embeddings); a Linear layer's gradients are dense",
    "Muon": "Muon only takes 2-D weight matrices; the MLP's biases are 1-D",
    CUSTOM: "Small Nets trains with torch.optim's own optimizers only; a Custom program runs on the 2-D surfaces (the "
            "Write your own step() page)",
}
NET_OPTIMIZERS = tuple(k for k in OPTIMIZERS if k not in UNSUITED)

MODEL_PARAMS = (
    Param("width", "int", 16, "Neurons in each hidden layer.", 1, MAX_WIDTH),
    Param("depth", "int", 2, "Hidden layers in model.base (each Linear + activation).", 1, MAX_DEPTH),
    Param("activation", "choice", "tanh", "Nonlinearity after each hidden layer.", choices=tuple(ACTIVATIONS)),
)
TRAIN_PARAMS = (
    Param("batch_size", "int", 32, "Points per mini-batch: one optimizer.step() each (LBFGS: the full batch).", 1, 1000),
    Param("epochs", "int", 100, "Passes over the training set.", 1, MAX_EPOCHS),
    Param("seed", "int", 0, "Seed of the initial weights and of the shuffling: equal seeds start equal.", 0, 10_000),
)
# the seed's example: SGD with momentum, model.classifier with its own lr
DEFAULT_OPTIMIZER = {"name": "SGD", "options": {"lr": 0.1, "momentum": 0.9}, "groups": {"base": {}, "classifier": {"lr": 0.01}}}
# where each optimizer's controls start on a small net (torch's defaults, except where they barely move in 100 epochs)
NET_STARTS: dict[str, dict] = {
    "SGD": {"lr": 0.1, "momentum": 0.9}, "Adam": {"lr": 0.01}, "AdamW": {"lr": 0.01}, "NAdam": {"lr": 0.01},
    "RAdam": {"lr": 0.01}, "Adamax": {"lr": 0.02}, "Adagrad": {"lr": 0.1}, "ASGD": {"lr": 0.1},
    "LBFGS": {"line_search_fn": "strong_wolfe"},
}


@dataclass(frozen=True)
class ModelChoice:
    width: int = 16
    depth: int = 2
    activation: str = "tanh"


@dataclass(frozen=True)
class NetConfig(TypedConfig):
    """One training run. JSON form:
    ``{"data": {"name": "moons", "n_points": 400, "noise": 0.2, "test_fraction": 0.25, "seed": 0},
       "model": {"width": 16, "depth": 2, "activation": "tanh"},
       "optimizer": {"name": "SGD", "options": {"lr": 0.01, "momentum": 0.9},
                     "groups": {"base": {}, "classifier": {"lr": 0.001}}},
       "scheduler": {"name": "StepLR", "options": {"step_size": 30}, "interval": "epoch"},
       "batch_size": 32, "epochs": 100, "seed": 0}``
    """

    data: DataChoice = field(default_factory=DataChoice)
    model: ModelChoice = field(default_factory=ModelChoice)
    optimizer: OptimizerChoice = field(default_factory=lambda: OptimizerChoice(**json.loads(json.dumps(DEFAULT_OPTIMIZER))))
    scheduler: SchedulerChoice | None = None     # steps_per_epoch is derived from the data and the batch size
    batch_size: int = 32
    epochs: int = 100
    seed: int = 0
    version: int = VERSION

    def to_dict(self) -> dict:
        opt = {"name": self.optimizer.name, "options": plain_data(self.optimizer.options),
               "groups": plain_data(self.optimizer.groups or {g: {} for g in GROUPS})}
        sch = None
        if self.scheduler is not None:
            sch = {"name": self.scheduler.name, "options": plain_data(self.scheduler.options), "interval": self.scheduler.interval}
        return {"version": self.version, "data": self.data.to_dict(), "model": plain_data(self.model.__dict__), "optimizer": opt,
                "scheduler": sch, "batch_size": self.batch_size, "epochs": self.epochs, "seed": self.seed}

    @classmethod
    def from_dict(cls, data: Any) -> "NetConfig":
        return parse_net_config(data)

    @property
    def dataset(self) -> Dataset:
        return self.data.spec

    @property
    def full_batch(self) -> bool:
        """LBFGS takes one step(closure) per epoch on the whole training set."""
        return self.optimizer.name == "LBFGS"

    @property
    def group_names(self) -> tuple[str, ...]:
        return ("model",) if self.full_batch else GROUPS

    @property
    def steps_per_epoch(self) -> int:
        return 1 if self.full_batch else -(-self.data.n_train // self.batch_size)

    def group_options(self) -> list[dict]:
        groups = self.optimizer.groups or {}
        return [{**self.optimizer.options, **groups.get(g, {})} for g in GROUPS[: len(self.group_names)]]


# -- parsing -------------------------------------------------------------------------------------

def _ranged(p: Param, value: Any, fld: str) -> Any:
    v = coerce(p, value, fld)
    if p.kind in ("int", "float") and not p.low <= v <= p.high:
        raise ConfigError(fld, f"must be between {p.low:g} and {p.high:g}, got {v:g}")
    return v


def parse_net_config(data: Any) -> NetConfig:
    """Validate JSON data into a complete NetConfig (caps, torch's own checks); every error names its field."""
    if isinstance(data, NetConfig):
        data = data.to_dict()
    top = expect_dict(data, "", ("version", "data", "model", "optimizer", "scheduler", "batch_size", "epochs", "seed"))
    if top.get("version", VERSION) != VERSION:
        raise ConfigError("version", f"unsupported version {top.get('version')!r}; this optviz reads version {VERSION}")
    choice = parse_data(expect_dict(top.get("data"), "data", ("name", "n_points", "noise", "test_fraction", "seed")))
    m = expect_dict(top.get("model"), "model", tuple(p.name for p in MODEL_PARAMS))
    model = ModelChoice(**{p.name: _ranged(p, m.get(p.name, p.initial), f"model.{p.name}") for p in MODEL_PARAMS})
    epochs = bounded_int(top.get("epochs", 100), "epochs", 1, MAX_EPOCHS)
    seed = bounded_int(top.get("seed", 0), "seed", 0, 2**31 - 1)
    batch_size = bounded_int(top.get("batch_size", 32), "batch_size", 1, choice.n_train)

    o = expect_dict(top.get("optimizer", DEFAULT_OPTIMIZER), "optimizer", ("name", "options", "groups", "program"))
    spec = get_optimizer(str(o.get("name", "SGD")))
    if spec.name in UNSUITED:
        raise ConfigError("optimizer.name", f"{UNSUITED[spec.name]}; choose one of: {', '.join(NET_OPTIMIZERS)}")
    if "program" in o:
        raise ConfigError("optimizer.program", f"only a {CUSTOM} optimizer takes a program, and {UNSUITED[CUSTOM]}")
    options = parse_options(spec.params, o.get("options"), "optimizer.options", spec.name, True)
    g = expect_dict(o.get("groups"), "optimizer.groups", GROUPS)
    groups = {name: parse_options(spec.params, g.get(name), f"optimizer.groups.{name}", spec.name, False) for name in GROUPS}
    if not spec.groups_ok and any(groups.values()):
        raise ConfigError("optimizer.groups", f"{spec.name} doesn't support per-parameter options (parameter groups): it "
                                              "optimizes model.parameters() as one group, so set its options for the whole model")

    spe = 1 if spec.name == "LBFGS" else -(-choice.n_train // batch_size)
    if epochs * spe > MAX_STEPS:
        raise ConfigError("epochs", f"{epochs} epochs × {spe} mini-batches = {epochs * spe:,} optimizer steps, more than the "
                                    f"cap of {MAX_STEPS:,}; use fewer epochs or a larger batch_size")
    scheduler = None
    if top.get("scheduler") is not None:
        s = expect_dict(top["scheduler"], "scheduler", ("name", "options", "interval"))
        sspec = get_scheduler(str(s.get("name", "")))
        interval = s.get("interval", "epoch")
        if interval not in ("epoch", "step"):
            raise ConfigError("scheduler.interval", f"expected 'epoch' or 'step', got {interval!r}")
        sopts = parse_options(sspec.params, s.get("options"), "scheduler.options", sspec.name, True)
        if sspec.name == "OneCycleLR" and sopts.get("total_steps") is None:
            sopts["total_steps"] = epochs * spe if interval == "step" else epochs
        scheduler = SchedulerChoice(sspec.name, sopts, interval, spe)

    config = NetConfig(choice, model, OptimizerChoice(spec.name, options, groups), scheduler, batch_size, epochs, seed)
    _validate(config)
    return config


def _validate(config: NetConfig) -> None:
    """The optimizer's rules per group (torch's messages), then a dry construction of model, optimizer and scheduler."""
    groups = config.optimizer.groups or {}
    check_rules(config, lambda rule, gi: "optimizer.{}.{}".format(
        f"groups.{GROUPS[gi]}" if rule.field in groups.get(GROUPS[gi], {}) and not rule.defaults_only else "options", rule.field))
    try:
        opt = make_optimizer(config, build_model(config))
    except (ValueError, TypeError, RuntimeError, KeyError, IndexError) as e:
        raise ConfigError("optimizer", one_line(e)) from None
    check_scheduler(config, opt)


def default_net_config(**overrides: Any) -> NetConfig:
    return parse_net_config(overrides)


# -- the model -----------------------------------------------------------------------------------

class MLP(nn.Module):
    """x → [Linear → activation] × depth (``base``) → Linear (``classifier``)."""

    def __init__(self, n_in: int, width: int, depth: int, n_out: int, activation: str):
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(depth):
            layers += [nn.Linear(n_in if i == 0 else width, width, dtype=DTYPE), getattr(nn, ACTIVATIONS[activation])()]
        self.base = nn.Sequential(*layers)
        self.classifier = nn.Linear(width, n_out, dtype=DTYPE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.base(x))


def init_parameters(model, seed):
    import math

    import torch

    # nn.Linear's own reset_parameters, drawn from a seeded generator: the same seed gives the same net
    generator = torch.Generator().manual_seed(seed)
    for layer in model.modules():
        if isinstance(layer, torch.nn.Linear):
            torch.nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
            bound = 1 / math.sqrt(layer.in_features)
            torch.nn.init.uniform_(layer.bias, -bound, bound, generator=generator)


def build_model(config: NetConfig) -> MLP:
    ds, m = config.dataset, config.model
    model = MLP(ds.n_features, m.width, m.depth, ds.n_outputs, m.activation)
    init_parameters(model, config.seed)
    return model


def make_optimizer(config: NetConfig, model: MLP) -> torch.optim.Optimizer:
    """torch's optimizer built as the seed writes it: one dict per submodule, the defaults as keyword arguments."""
    spec = config.optimizer_spec
    options = dict(config.optimizer.options)
    if not spec.groups_ok:
        return spec.cls(model.parameters(), **options)
    groups = config.optimizer.groups or {}
    return spec.cls([{"params": model.base.parameters(), **groups.get("base", {})},
                     {"params": model.classifier.parameters(), **groups.get("classifier", {})}], **options)


def loss_function(config: NetConfig) -> nn.Module:
    return nn.MSELoss() if config.dataset.regression else nn.CrossEntropyLoss()


def tensors(config: NetConfig):
    """(X_train, y_train, X_test, y_test) as torch tensors: float64 features; class indices or (n, 1) targets."""
    split = make_split(config.data)

    def target(y):
        return torch.as_tensor(y, dtype=DTYPE).reshape(-1, 1) if config.dataset.regression else torch.as_tensor(y)

    return (torch.as_tensor(split.X_train, dtype=DTYPE), target(split.y_train),
            torch.as_tensor(split.X_test, dtype=DTYPE), target(split.y_test))


def flat_parameters(model: nn.Module) -> torch.Tensor:
    """Makes every parameter a view of one vector (values unchanged), so a snapshot or a weight update is one op."""
    params = list(model.parameters())
    flat = torch.cat([p.detach().reshape(-1) for p in params])
    i = 0
    for p in params:
        p.data = flat[i: i + p.numel()].view_as(p)
        i += p.numel()
    return flat


def score(config: NetConfig, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Accuracy for classes; R² = 1 − SSE/SST for regression."""
    if config.dataset.regression:
        return 1 - ((output - target) ** 2).sum() / ((target - target.mean()) ** 2).sum()
    return (output.argmax(dim=1) == target).to(DTYPE).mean()


__all__ = ["NetConfig", "ModelChoice", "MLP", "parse_net_config", "default_net_config", "build_model", "make_optimizer",
           "NET_OPTIMIZERS", "MODEL_PARAMS", "TRAIN_PARAMS", "ACTIVATIONS", "GROUPS"]
