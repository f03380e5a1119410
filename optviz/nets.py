"""Small nets: a typed config, an MLP with `base` and `classifier` submodules, and the seed's canonical loop on torch.optim."""
from __future__ import annotations

import json
import math
import time
import warnings
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from .config import OptimizerChoice, SchedulerChoice, _expect_dict, _int, _one_line, _options, _plain
from .datasets import DataChoice, Dataset, make_split, parse_data
from .optimizers import OPTIMIZERS, OptimizerSpec, get_optimizer, momentum_of
from .schedulers import SchedulerSpec, build_scheduler, get_scheduler
from .specs import ConfigError, Param, coerce, json_data

VERSION = 1
DTYPE = torch.float64
MAX_WIDTH = 64
MAX_DEPTH = 4
MAX_EPOCHS = 1000
MAX_STEPS = 60_000          # optimizer steps in one run (epochs × batches per epoch)
MAX_FRAMES = 40             # decision-boundary frames
MAX_SNAPSHOTS = 101         # weight snapshots kept for the landscape
DIVERGED = 1e6              # a training loss this many times the initial one ends the run
GRID = 60                   # decision-boundary grid is GRID × GRID (regression: 4·GRID x values)
GROUPS = ("base", "classifier")
OnEpoch = Callable[[int, int], None]

# registry key → torch.nn class name
ACTIVATIONS = {"tanh": "Tanh", "relu": "ReLU", "leaky_relu": "LeakyReLU", "gelu": "GELU", "sigmoid": "Sigmoid"}

UNSUITED = {
    "SparseAdam": "SparseAdam only takes sparse gradients (embeddings); a Linear layer's gradients are dense",
    "Muon": "Muon only takes 2-D weight matrices; the MLP's biases are 1-D",
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
class NetConfig:
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
        opt = {"name": self.optimizer.name, "options": _plain(self.optimizer.options),
               "groups": _plain(self.optimizer.groups or {g: {} for g in GROUPS})}
        sch = None
        if self.scheduler is not None:
            sch = {"name": self.scheduler.name, "options": _plain(self.scheduler.options), "interval": self.scheduler.interval}
        return {"version": self.version, "data": self.data.to_dict(), "model": _plain(self.model.__dict__), "optimizer": opt,
                "scheduler": sch, "batch_size": self.batch_size, "epochs": self.epochs, "seed": self.seed}

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, indent=indent, allow_nan=False)

    def key(self) -> str:
        return self.to_json()

    @classmethod
    def from_json(cls, text: str) -> "NetConfig":
        return parse_net_config(json_data(text))

    @property
    def dataset(self) -> Dataset:
        return self.data.spec

    @property
    def optimizer_spec(self) -> OptimizerSpec:
        return get_optimizer(self.optimizer.name)

    @property
    def scheduler_spec(self) -> SchedulerSpec | None:
        return get_scheduler(self.scheduler.name) if self.scheduler else None

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

    def replace(self, **changes) -> "NetConfig":
        return replace(self, **changes)


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
    top = _expect_dict(data, "", ("version", "data", "model", "optimizer", "scheduler", "batch_size", "epochs", "seed"))
    if top.get("version", VERSION) != VERSION:
        raise ConfigError("version", f"unsupported version {top.get('version')!r}; this optviz reads version {VERSION}")
    choice = parse_data(_expect_dict(top.get("data"), "data", ("name", "n_points", "noise", "test_fraction", "seed")))
    m = _expect_dict(top.get("model"), "model", tuple(p.name for p in MODEL_PARAMS))
    model = ModelChoice(**{p.name: _ranged(p, m.get(p.name, p.initial), f"model.{p.name}") for p in MODEL_PARAMS})
    epochs = _int(top.get("epochs", 100), "epochs", 1, MAX_EPOCHS)
    seed = _int(top.get("seed", 0), "seed", 0, 2**31 - 1)
    batch_size = _int(top.get("batch_size", 32), "batch_size", 1, choice.n_train)

    o = _expect_dict(top.get("optimizer", DEFAULT_OPTIMIZER), "optimizer", ("name", "options", "groups"))
    spec = get_optimizer(str(o.get("name", "SGD")))
    if spec.name in UNSUITED:
        raise ConfigError("optimizer.name", f"{UNSUITED[spec.name]}; choose one of: {', '.join(NET_OPTIMIZERS)}")
    options = _options(spec.params, o.get("options"), "optimizer.options", spec.name, True)
    g = _expect_dict(o.get("groups"), "optimizer.groups", GROUPS)
    groups = {name: _options(spec.params, g.get(name), f"optimizer.groups.{name}", spec.name, False) for name in GROUPS}
    if not spec.groups_ok and any(groups.values()):
        raise ConfigError("optimizer.groups", f"{spec.name} doesn't support per-parameter options (parameter groups): it "
                                              "optimizes model.parameters() as one group, so set its options for the whole model")

    spe = 1 if spec.name == "LBFGS" else -(-choice.n_train // batch_size)
    if epochs * spe > MAX_STEPS:
        raise ConfigError("epochs", f"{epochs} epochs × {spe} mini-batches = {epochs * spe:,} optimizer steps, more than the "
                                    f"cap of {MAX_STEPS:,}; use fewer epochs or a larger batch_size")
    scheduler = None
    if top.get("scheduler") is not None:
        s = _expect_dict(top["scheduler"], "scheduler", ("name", "options", "interval"))
        sspec = get_scheduler(str(s.get("name", "")))
        interval = s.get("interval", "epoch")
        if interval not in ("epoch", "step"):
            raise ConfigError("scheduler.interval", f"expected 'epoch' or 'step', got {interval!r}")
        sopts = _options(sspec.params, s.get("options"), "scheduler.options", sspec.name, True)
        if sspec.name == "OneCycleLR" and sopts.get("total_steps") is None:
            sopts["total_steps"] = epochs * spe if interval == "step" else epochs
        scheduler = SchedulerChoice(sspec.name, sopts, interval, spe)

    config = NetConfig(choice, model, OptimizerChoice(spec.name, options, groups), scheduler, batch_size, epochs, seed)
    _validate(config)
    return config


def _validate(config: NetConfig) -> None:
    """The optimizer's rules per group (torch's messages), then a dry construction of model, optimizer and scheduler."""
    spec = config.optimizer_spec
    groups = config.optimizer.groups or {}
    for gi, opts in enumerate(config.group_options()):
        for rule in spec.rules:
            if not rule.ok(opts):
                g = GROUPS[gi]
                where = f"groups.{g}" if rule.field in groups.get(g, {}) else "options"
                fld = f"optimizer.{where}.{rule.field}"
                raise ConfigError(fld, rule.message(opts))
    try:
        opt = make_optimizer(config, build_model(config))
    except (ValueError, TypeError, RuntimeError, KeyError, IndexError) as e:
        raise ConfigError("optimizer", _one_line(e)) from None
    if config.scheduler is not None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                build_scheduler(config.scheduler_spec, config.scheduler.options, opt)
        except ConfigError:
            raise
        except (ValueError, TypeError, RuntimeError, KeyError, IndexError, ZeroDivisionError, OverflowError) as e:
            raise ConfigError("scheduler.options", _one_line(e)) from None


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


# -- the result ----------------------------------------------------------------------------------

@dataclass
class NetTrace:
    """One training run. Per epoch (row 0 = the initial net): losses and scores. Per optimizer step: each group's lr and
    momentum/β₁ while the step ran; the gradient norm, update norm and optimizer-state norms of ``base`` and ``classifier``
    (columns in that order). Frames: the net's output on a grid at ``frame_epochs``. Snapshots: flattened weights."""

    config: NetConfig
    groups: tuple[str, ...]            # the optimizer's parameter groups
    train_loss: np.ndarray             # (E+1,)
    test_loss: np.ndarray
    train_score: np.ndarray
    test_score: np.ndarray
    lrs: np.ndarray                    # (S, G)
    momentums: np.ndarray              # (S, G), NaN where the optimizer has none
    grad_norms: np.ndarray             # (S, 2): ‖∇‖ of base, classifier
    update_norms: np.ndarray           # (S, 2): ‖θ_t − θ_{t−1}‖
    state_norms: dict[str, np.ndarray]  # name → (S, 2)
    evaluations: np.ndarray            # (S,) closure calls per step
    frame_epochs: np.ndarray           # (F,)
    frames: np.ndarray                 # (F, C, ny, nx) class probabilities | (F, nx) regression fit, float32
    grid_x: np.ndarray
    grid_y: np.ndarray | None
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    snapshot_epochs: np.ndarray        # (K,)
    snapshots: np.ndarray              # (K, P) float64, the last one is the final net
    n_base: int                        # the first n_base weights of a snapshot belong to model.base
    diverged_at: int | None = None     # epoch
    message: str = ""
    warnings: tuple[str, ...] = ()
    seconds: float = field(default=0.0, compare=False)   # model, training and records (not drawing the data)

    @property
    def epochs(self) -> int:
        """Completed epochs."""
        return len(self.train_loss) - 1

    @property
    def steps(self) -> int:
        return len(self.lrs)

    @property
    def score_name(self) -> str:
        return "R²" if self.config.dataset.regression else "accuracy"

    @property
    def final_weights(self) -> np.ndarray:
        return self.snapshots[-1]

    def metrics(self) -> dict:
        """The per-epoch metrics and per-step lrs, as the generated script prints them."""
        return {"train_loss": self.train_loss.tolist(), "test_loss": self.test_loss.tolist(),
                "train_score": self.train_score.tolist(), "test_score": self.test_score.tolist(), "lrs": self.lrs.tolist()}


# -- training ------------------------------------------------------------------------------------

def spread(n: int, k: int) -> np.ndarray:
    """At most k evenly spread integers of 0..n, always both ends."""
    return np.unique(np.linspace(0, n, min(k, n + 1)).round().astype(int))


def _grid(config: NetConfig, X: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, torch.Tensor]:
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = 0.1 * (hi - lo) + 1e-6
    if config.dataset.n_features == 1:
        xs = np.linspace(lo[0] - pad[0], hi[0] + pad[0], 4 * GRID)
        return xs, None, torch.as_tensor(xs, dtype=DTYPE).reshape(-1, 1)
    xs = np.linspace(lo[0] - pad[0], hi[0] + pad[0], GRID)
    ys = np.linspace(lo[1] - pad[1], hi[1] + pad[1], GRID)
    gx, gy = np.meshgrid(xs, ys)
    return xs, ys, torch.as_tensor(np.stack([gx.ravel(), gy.ravel()], axis=1), dtype=DTYPE)


class _Recorder:
    """Per-step records kept as tensors (no .item() per step). Every recorded quantity — the gradient before step(),
    the update θ_t − θ_{t−1}, each optimizer-state tensor after it — is flattened into one vector over the model's
    weights (parameters are views of one flat vector, so the update is one subtraction), and one matmul with a
    weight → submodule indicator gives its squared norm per submodule. Rows are stacked once per epoch."""

    def __init__(self, model: MLP, optimizer: torch.optim.Optimizer, flat: torch.Tensor, rescan: bool):
        self.params = list(model.parameters())
        self.optimizer = optimizer
        self.flat = flat
        n_base_tensors = len(list(model.base.parameters()))
        self.part_of = [0 if i < n_base_tensors else 1 for i in range(len(self.params))]
        self.onehot = self._indicator(range(len(self.params)))
        self.n_base = int(self.onehot[:, 0].sum())
        self.before, self.diff = torch.empty_like(flat), torch.empty_like(flat)
        self.rescan = rescan                # LBFGS: its state keys appear as its iterations need them
        self.layout: tuple[str, ...] | None = None
        self.pending: list[torch.Tensor] = []
        self.blocks: list[tuple[tuple[str, ...], torch.Tensor]] = []    # (row names, (steps, rows, 2) squared norms)
        self.lrs: list[list[float]] = []
        self.moms: list[list[float]] = []
        self.evaluations: list[int] = []
        self.grad = flat

    def _indicator(self, which, numels=None) -> torch.Tensor:
        """(Σ numel, 2) matrix: row k is 1 in the column of the submodule that weight k belongs to."""
        numels = numels or [self.params[i].numel() for i in which]
        parts = torch.tensor([self.part_of[i] for i in which]).repeat_interleave(torch.tensor(numels))
        return nn.functional.one_hot(parts, 2).to(self.flat.dtype)

    def start(self) -> None:
        groups = self.optimizer.param_groups
        self.lrs.append([g["lr"] for g in groups])
        self.moms.append([math.nan if (m := momentum_of(g)) is None else m for g in groups])
        self.before.copy_(self.flat)

    def gradients(self) -> None:
        self.grad = torch._C._nn.flatten_dense_tensors([p.grad for p in self.params])    # a copy, taken before step()

    def finish(self, evaluations: int = 1) -> None:
        if self.layout is None or self.rescan:
            layout, self.vectors = self._scan()
            if layout != self.layout:
                self.flush()
                self.layout = layout
        torch.sub(self.flat, self.before, out=self.diff)
        aligned, ragged = self.vectors()
        m = torch.stack([self.grad, self.diff, *aligned])
        sq = (m * m) @ self.onehot
        if ragged:
            sq = torch.cat([sq, torch.stack([(v * v) @ oh for v, oh in ragged])])
        self.pending.append(sq)
        self.evaluations.append(evaluations)

    def flush(self) -> None:
        """Stack the pending rows into one block (once per epoch keeps memory flat)."""
        if self.pending:
            self.blocks.append((self.layout, torch.stack(self.pending)))
            self.pending = []

    def _scan(self):
        """The tensor states worth a norm: those shaped like their parameters on every parameter (exp_avg,
        momentum_buffer, …) and LBFGS's flat vectors over the whole model stack with the gradient; others (Adafactor's
        factored row_var / col_var) get their own indicator. Returns the row names and a getter over torch's live state."""
        states = [self.optimizer.state[p] for p in self.params]     # torch updates these dicts in place
        total = self.flat.numel()
        names = dict.fromkeys(k for st in states for k, v in st.items()
                              if torch.is_tensor(v) and v.dim() > 0 and v.is_floating_point())
        aligned, flat_names, ragged = [], [], []
        for name in names:
            have = [i for i, st in enumerate(states) if torch.is_tensor(st.get(name)) and st[name].dim() > 0]
            if have == [0] and states[0][name].numel() == total:
                flat_names.append(name)
            elif len(have) == len(states) and all(states[i][name].shape == self.params[i].shape for i in have):
                aligned.append(name)
            elif all(states[i][name].numel() <= self.params[i].numel() for i in have):
                ragged.append((name, have, self._indicator(have, [states[i][name].numel() for i in have])))
        flatten = torch._C._nn.flatten_dense_tensors

        def vectors():
            rows = [flatten([st[name] for st in states]) for name in aligned]
            rows += [states[0][name].reshape(-1) for name in flat_names]
            return rows, [(flatten([states[i][name] for i in have]), oh) for name, have, oh in ragged]

        return ("grad", "update", *aligned, *flat_names, *(r[0] for r in ragged)), vectors

    def arrays(self) -> dict[str, Any]:
        """Per step and submodule: ‖(a, b, …)‖ = √(‖a‖² + ‖b‖² + …) over the submodule's weights."""
        self.flush()
        n, g = len(self.evaluations), len(self.optimizer.param_groups)
        names = dict.fromkeys(name for layout, _ in self.blocks for name in layout)
        norms = {name: np.full((n, 2), np.nan) for name in names}
        start = 0
        for layout, block in self.blocks:
            values = np.sqrt(block.numpy())
            for j, name in enumerate(layout):
                norms[name][start: start + len(block)] = values[:, j]
            start += len(block)
        empty = np.zeros((0, 2))
        return {"lrs": np.array(self.lrs[:n], dtype=np.float64).reshape(n, g),
                "momentums": np.array(self.moms[:n], dtype=np.float64).reshape(n, g),
                "grad_norms": norms.pop("grad", empty), "update_norms": norms.pop("update", empty),
                "state_norms": norms, "evaluations": np.array(self.evaluations, dtype=np.int64)}


def train(config: NetConfig | dict, on_epoch: OnEpoch | None = None) -> NetTrace:
    """Train the config's MLP with torch.optim in the seed's canonical loop and record everything the page shows.
    Never raises for a bad run: a non-finite loss or a torch error ends it with ``diverged_at`` (the epoch) and a message."""
    if not isinstance(config, NetConfig):
        config = parse_net_config(config)
    torch.set_num_threads(1)    # tiny tensors: extra threads only add contention
    E = config.epochs
    X_train, y_train, X_test, y_test = tensors(config)
    t0 = time.perf_counter()
    model = build_model(config)
    flat = flat_parameters(model)
    loss_fn = loss_function(config)
    grid_x, grid_y, grid = _grid(config, np.concatenate([X_train.numpy(), X_test.numpy()]))
    frame_at = set(spread(E, MAX_FRAMES).tolist())
    snap_at = set(spread(E, MAX_SNAPSHOTS).tolist())
    metrics: list[torch.Tensor] = []
    frames: list[torch.Tensor] = []
    frame_epochs: list[int] = []
    snapshots: list[torch.Tensor] = []
    snapshot_epochs: list[int] = []
    regression = config.dataset.regression
    last_good = [flat]
    diverged_at, message = None, ""

    def observe(epoch: int) -> bool:
        """Metrics on the whole train and test sets in one batch each; False once the loss is not finite or has grown
        DIVERGED× past the start (the net is lost; its outputs would only overflow the figures)."""
        with torch.no_grad():
            out_train, out_test = model(X_train), model(X_test)
            m = torch.stack([loss_fn(out_train, y_train), loss_fn(out_test, y_test),
                             score(config, out_train, y_train), score(config, out_test, y_test)])
            if not bool(torch.isfinite(m[0])) or (metrics and bool(m[0] > DIVERGED * (1 + metrics[0][0]))):
                return False
            metrics.append(m)
            if epoch in frame_at:
                out = model(grid)
                frames.append(out.reshape(-1) if regression else torch.softmax(out, dim=1).T.reshape(-1, GRID, GRID))
                frame_epochs.append(epoch)
            if epoch in snap_at:
                snapshots.append(flat.clone())
                snapshot_epochs.append(epoch)
            last_good[0] = snapshots[-1] if epoch in snap_at else flat.clone()
        return True

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        optimizer = make_optimizer(config, model)
        scheduler = build_scheduler(config.scheduler_spec, config.scheduler.options, optimizer) if config.scheduler else None
        per_step = scheduler is not None and config.scheduler.interval == "step"
        needs_metric = scheduler is not None and config.scheduler_spec.needs_metric
        rec = _Recorder(model, optimizer, flat, rescan=config.full_batch)
        generator = torch.Generator().manual_seed(config.seed)
        batch_size = config.batch_size
        every = max(1, E // 100)
        observe(0)
        for epoch in range(1, E + 1):
            try:
                if config.full_batch:
                    loss = _full_batch_step(model, optimizer, loss_fn, X_train, y_train, rec)
                    if per_step:
                        scheduler.step(loss.detach()) if needs_metric else scheduler.step()
                else:
                    # the seed's canonical loop: zero_grad → output → loss → backward → step, once per mini-batch
                    perm = torch.randperm(len(X_train), generator=generator)
                    for inputs, target in zip(X_train[perm].split(batch_size), y_train[perm].split(batch_size), strict=True):
                        rec.start()
                        optimizer.zero_grad()
                        output = model(inputs)
                        loss = loss_fn(output, target)
                        loss.backward()
                        rec.gradients()
                        optimizer.step()
                        rec.finish()
                        if per_step:
                            scheduler.step(loss.detach()) if needs_metric else scheduler.step()
                rec.flush()
                if not observe(epoch):
                    diverged_at = epoch
                    message = (f"diverged in epoch {epoch}: the training loss is no longer finite or grew more than "
                               f"{DIVERGED:,.0f}-fold (the learning rate is probably too large)")
                    break
                if scheduler is not None and not per_step:
                    scheduler.step(metrics[-1][0]) if needs_metric else scheduler.step()
            except Exception as e:  # torch refused mid-run (e.g. OneCycleLR past total_steps): end with its message
                diverged_at = epoch
                message = f"torch stopped in epoch {epoch}: {type(e).__name__}: {_one_line(e)}"
                break
            if on_epoch is not None and (epoch % every == 0 or epoch == E):
                on_epoch(epoch, E)
        warns = tuple(dict.fromkeys(str(w.message).splitlines()[0] for w in caught))

    done = len(metrics) - 1
    if snapshot_epochs[-1] != done:     # stopped early: the last finite net closes the trajectory
        snapshots.append(last_good[0])
        snapshot_epochs.append(done)
    m = torch.stack(metrics).numpy()
    arrays = rec.arrays()
    if not message:
        spe = config.steps_per_epoch
        steps = (f"{done} full-batch steps ({int(arrays['evaluations'].sum())} closure calls)" if config.full_batch
                 else f"{done} epochs × {spe} step{'s' if spe > 1 else ''}")
        message = f"{steps}; final train loss {m[-1, 0]:.4g}, test {('R²' if regression else 'accuracy')} {m[-1, 3]:.3g}"
    frames_np = np.clip(torch.stack(frames).numpy(), -1e30, 1e30).astype(np.float32)    # float32 for the browser
    return NetTrace(
        config=config, groups=config.group_names,
        train_loss=m[:, 0], test_loss=m[:, 1], train_score=m[:, 2], test_score=m[:, 3], **arrays,
        frame_epochs=np.array(frame_epochs, dtype=np.int64), frames=frames_np, grid_x=grid_x, grid_y=grid_y,
        X_train=X_train.numpy().astype(np.float32), y_train=y_train.numpy().reshape(-1),
        X_test=X_test.numpy().astype(np.float32), y_test=y_test.numpy().reshape(-1),
        snapshot_epochs=np.array(snapshot_epochs, dtype=np.int64), snapshots=torch.stack(snapshots).numpy(),
        n_base=rec.n_base, diverged_at=diverged_at, message=message, warnings=warns, seconds=time.perf_counter() - t0)


def _full_batch_step(model, optimizer, loss_fn, X, y, rec: _Recorder) -> torch.Tensor:
    """One optimizer.step(closure) on the whole training set: LBFGS calls the closure as often as its line search needs."""
    calls = [0]

    def closure():
        optimizer.zero_grad()
        output = model(X)
        loss = loss_fn(output, y)
        loss.backward()
        if calls[0] == 0:
            rec.gradients()
        calls[0] += 1
        return loss

    rec.start()
    loss = optimizer.step(closure)
    rec.finish(calls[0])
    return loss


__all__ = ["NetConfig", "ModelChoice", "NetTrace", "MLP", "parse_net_config", "default_net_config", "train", "build_model",
           "make_optimizer", "NET_OPTIMIZERS", "MODEL_PARAMS", "TRAIN_PARAMS", "ACTIVATIONS", "GROUPS"]
