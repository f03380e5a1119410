"""Scheduler Lab: lr (and momentum/β₁) curves read from torch.optim.lr_scheduler in the loop a training script runs.

The loop is the seed's: ``optimizer.step()`` once per batch, ``scheduler.step()`` once per epoch (or, to compare,
once per batch). A point of a curve is the lr a group had *while* that optimizer step ran.
"""
from __future__ import annotations

import csv
import io
import json
import math
import re
import warnings
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import torch

from optviz.core.codegen import PRELUDE, literal, scheduler_expr
from optviz.core.config import MAX_STEPS, Config, parse_config
from optviz.core.optimizers import get_optimizer, momentum_of
from optviz.core.schedulers import SCHEDULERS, build_scheduler, get_scheduler
from optviz.core.specs import ConfigError, Param, coerce, from_link

MAX_GROUPS = 3
MAX_OVERLAYS = 6
LAB_OPTIMIZERS = ("SGD", "Adam", "AdamW", "RMSprop", "NAdam", "Adamax", "RAdam", "Adagrad")
MOMENTUM_OPTIMIZERS = ("SGD", "RMSprop")     # the ones whose momentum CyclicLR/OneCycleLR switch on silently
SOURCES = ("curve", "surface")
INTERVALS = ("epoch", "step")
ORDERS = ("optimizer_first", "scheduler_first")


@dataclass(frozen=True)
class LossSource:
    """What ReduceLROnPlateau watches: a shaped noisy curve, or the loss of a real run on a surface."""

    source: str = "curve"       # only a scheduler that watches the loss (ReduceLROnPlateau) uses it
    start: float = 1.0          # curve: loss at step 0
    floor: float = 0.2          # curve: where it levels off
    tau: float = 20.0           # curve: decay time, in optimizer steps
    noise: float = 0.02         # curve: σ of the Gaussian noise added to every step's loss
    seed: int = 0
    surface: str = "quadratic"  # surface: which surface the point descends (groups: x and y)
    surface_noise: float = 0.5  # surface: mini-batch noise on the gradient

    def value(self, draws: np.ndarray, t: np.ndarray) -> np.ndarray:
        """loss(t) = floor + (start − floor)·exp(−t/τ) + noise·ξ_t."""
        return self.floor + (self.start - self.floor) * np.exp(-t / self.tau) + self.noise * draws


@dataclass(frozen=True)
class LabSetup:
    """One lab experiment: the scheduler and its options, the optimizer's groups, the epochs and the stepping."""

    scheduler: str = "StepLR"
    options: dict = field(default_factory=dict)   # complete torch keyword arguments (lambdas as text)
    optimizer: str = "SGD"
    momentum: float = 0.0                          # SGD/RMSprop only
    base_lrs: tuple[float, ...] = (0.1, 0.01)      # one per param group
    epochs: int = 30
    steps_per_epoch: int = 10
    interval: str = "epoch"
    order: str = "optimizer_first"
    loss: LossSource = field(default_factory=LossSource)

    @property
    def spec(self):
        return SCHEDULERS[self.scheduler]

    @property
    def steps(self) -> int:
        return self.epochs * self.steps_per_epoch

    def to_dict(self) -> dict:
        d = asdict(self)
        d["base_lrs"] = list(self.base_lrs)
        return d

    def key(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def with_interval(self, interval: str) -> "LabSetup":
        return replace(self, interval=interval)


# -- validation ------------------------------------------------------------------------------------------

def _number(v: Any, fld: str, lo: float, hi: float, kind: str = "float") -> Any:
    x = coerce(Param(fld, kind, 0, ""), v, fld)
    if not lo <= x <= hi:
        raise ConfigError(fld, f"must be between {lo:g} and {hi:g}, got {x}")
    return x


def normalize_options(name: str, given: Any, groups: int, fld: str = "options") -> dict:
    """A scheduler's options completed with the registry's defaults and coerced; lambdas stay text (one per group
    allowed), compositions are checked child by child."""
    spec = get_scheduler(name)
    given = {} if given is None else given
    if not isinstance(given, dict):
        raise ConfigError(fld, "expected an object of scheduler options")
    unknown = [k for k in given if k not in spec.names]
    if unknown:
        raise ConfigError(f"{fld}.{unknown[0]}", f"{spec.name} has no option {unknown[0]!r}; it takes: {', '.join(spec.names)}")
    out: dict[str, Any] = {}
    for p in spec.params:
        v = given.get(p.name, p.initial)
        f = f"{fld}.{p.name}"
        if p.kind == "schedulers":
            if not isinstance(v, list) or not 1 <= len(v) <= 5:
                raise ConfigError(f, "expected a list of 1 to 5 schedulers, each {\"name\": ..., \"options\": {...}}")
            kids = []
            for i, c in enumerate(v):
                if not isinstance(c, dict) or "name" not in c:
                    raise ConfigError(f"{f}[{i}]", "expected {\"name\": ..., \"options\": {...}}")
                kid = get_scheduler(str(c["name"]))
                if kid.composite or kid.needs_metric:
                    raise ConfigError(f"{f}[{i}].name", f"{kid.name} cannot be inside a composition"
                                      + (" (it needs the loss in step(metrics))" if kid.needs_metric else ""))
                kid_options = normalize_options(kid.name, c.get("options"), groups, f"{f}[{i}].options")
                kids.append({"name": kid.name, "options": kid_options})
            out[p.name] = kids
        elif p.kind == "text" and isinstance(v, list):
            if len(v) != groups or not all(isinstance(s, str) for s in v):
                raise ConfigError(f, f"one lambda per parameter group: expected {groups} texts, got {len(v)}")
            out[p.name] = list(v)
        elif v is None and p.default is None and not p.nullable:
            raise ConfigError(f, f"{spec.name} needs a value for {p.name}")
        else:
            out[p.name] = coerce(p, v, f)
    return out


def parse_setup(data: dict | LabSetup) -> LabSetup:
    """Validate a lab experiment; every problem is a ConfigError naming its field, torch's own text where torch refuses."""
    if isinstance(data, LabSetup):
        data = data.to_dict()
    if not isinstance(data, dict):
        raise ConfigError("", "expected an object")
    sch = get_scheduler(str(data.get("scheduler", "StepLR"))).name
    optimizer = get_optimizer(str(data.get("optimizer", "SGD"))).name
    if optimizer not in LAB_OPTIMIZERS:
        raise ConfigError("optimizer", f"the lab uses one of {', '.join(LAB_OPTIMIZERS)}")
    lrs = data.get("base_lrs", [0.1, 0.01])
    if not isinstance(lrs, (list, tuple)) or not 1 <= len(lrs) <= MAX_GROUPS:
        raise ConfigError("base_lrs", f"expected 1 to {MAX_GROUPS} learning rates, one per parameter group")
    base_lrs = tuple(_number(v, f"base_lrs[{i}]", 0.0, 10.0) for i, v in enumerate(lrs))
    epochs = _number(data.get("epochs", 30), "epochs", 1, MAX_STEPS, "int")
    spe = _number(data.get("steps_per_epoch", 10), "steps_per_epoch", 1, MAX_STEPS, "int")
    if epochs * spe > MAX_STEPS:
        raise ConfigError("steps_per_epoch", f"epochs × steps per epoch = {epochs * spe:,} is more than the cap of {MAX_STEPS:,}")
    interval = data.get("interval", "epoch")
    if interval not in INTERVALS:
        raise ConfigError("interval", f"expected one of {INTERVALS}, got {interval!r}")
    order = data.get("order", "optimizer_first")
    if order not in ORDERS:
        raise ConfigError("order", f"expected one of {ORDERS}, got {order!r}")
    ld = data.get("loss") or {}
    if not isinstance(ld, dict):
        raise ConfigError("loss", "expected an object")
    src = ld.get("source", "curve")
    if src not in SOURCES:
        raise ConfigError("loss.source", f"expected one of {SOURCES}, got {src!r}")
    loss = LossSource(src, _number(ld.get("start", 1.0), "loss.start", -1e6, 1e6),
                      _number(ld.get("floor", 0.2), "loss.floor", -1e6, 1e6),
                      _number(ld.get("tau", 20.0), "loss.tau", 1e-3, 1e6), _number(ld.get("noise", 0.02), "loss.noise", 0.0, 1e6),
                      _number(ld.get("seed", 0), "loss.seed", 0, 2**31 - 1, "int"), str(ld.get("surface", "quadratic")),
                      _number(ld.get("surface_noise", 0.5), "loss.surface_noise", 0.0, 1e3))
    if order == "scheduler_first" and get_scheduler(sch).needs_metric:
        raise ConfigError("order", "ReduceLROnPlateau steps on the loss of the steps it follows, so it can only step after them")
    watched = get_scheduler(sch).needs_metric and loss.source == "surface"
    if watched and len(base_lrs) > 2:
        raise ConfigError("loss.source",
                          "a surface run moves one point (x, y): use at most 2 parameter groups, or the shaped curve")
    setup = LabSetup(sch, normalize_options(sch, data.get("options"), len(base_lrs)), optimizer,
                     _number(data.get("momentum", 0.0), "momentum", 0.0, 0.999), base_lrs, epochs, spe, interval, order, loss)
    if watched:
        surface_config(setup)
    else:
        _, opt = _optimizer(setup)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _build(setup, opt)
    return setup


# -- torch objects -------------------------------------------------------------------------------------

def _optimizer(setup: LabSetup) -> tuple[list[torch.Tensor], torch.optim.Optimizer]:
    """One 1-element parameter per group, each group with its own base lr (the seed's list of dicts)."""
    params = [torch.zeros(1, dtype=torch.float64, requires_grad=True) for _ in setup.base_lrs]
    extra = {"momentum": setup.momentum} if setup.optimizer in MOMENTUM_OPTIMIZERS else {}
    groups = [{"params": [p], "lr": lr} for p, lr in zip(params, setup.base_lrs, strict=True)]
    return params, get_optimizer(setup.optimizer).cls(groups, **extra)


def scheduler_steps(setup: LabSetup) -> int:
    return setup.epochs if setup.interval == "epoch" else setup.steps


def _torch_options(setup: LabSetup) -> dict:
    """OneCycleLR without total_steps gets exactly the number of scheduler.step() calls of the run."""
    opts = dict(setup.options)
    if setup.scheduler == "OneCycleLR" and opts.get("total_steps") is None:
        opts["total_steps"] = scheduler_steps(setup)
    return opts


def _build(setup: LabSetup, opt):
    try:
        return build_scheduler(setup.spec, _torch_options(setup), opt, "options")
    except ConfigError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, ZeroDivisionError, OverflowError, RuntimeError) as e:
        raise ConfigError("options", _first_line(e)) from None


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return (text.splitlines()[0] if text else type(e).__name__)[:300]


def surface_config(setup: LabSetup) -> Config:
    """The engine config of a surface run with this scheduler (groups x, y when there are two base lrs)."""
    extra = {"momentum": setup.momentum} if setup.optimizer in MOMENTUM_OPTIMIZERS else {}
    opt: dict[str, Any] = {"name": setup.optimizer, "options": {"lr": setup.base_lrs[0], **extra}}
    if len(setup.base_lrs) == 2:
        opt["groups"] = {"x": {}, "y": {"lr": setup.base_lrs[1]}}
    problem = {"surface": setup.loss.surface, "noise": setup.loss.surface_noise}
    if setup.loss.surface == "quadratic":
        problem["options"] = {"eigenvalues": [1, 10], "angle": 30}
    return parse_config({"problem": problem, "optimizer": opt, "steps": setup.steps, "seed": setup.loss.seed,
                         "scheduler": {"name": setup.scheduler, "options": _torch_options(setup), "interval": setup.interval,
                                       "steps_per_epoch": setup.steps_per_epoch}})


# -- the run -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Schedule:
    """One run of the loop. Row t of ``lrs``/``momentums`` is what each group had while optimizer step t+1 ran."""

    setup: LabSetup
    label: str
    lrs: np.ndarray               # (n, G)
    momentums: np.ndarray         # (n, G), NaN where the optimizer has neither momentum nor betas
    last_lrs: np.ndarray          # (k+1, G): get_last_lr() after construction and after each scheduler.step()
    losses: np.ndarray            # (n,): the loss of every optimizer step (the metric's source)
    notes: tuple[str, ...] = ()   # torch's warnings, silent changes and errors, in words
    error: str = ""               # torch stopped the loop: the curve ends early
    code: str = ""

    @property
    def steps(self) -> int:
        return len(self.lrs)

    @property
    def groups(self) -> int:
        return self.lrs.shape[1]

    def to_csv(self) -> str:
        out = io.StringIO()
        w = csv.writer(out)
        g = range(self.groups)
        w.writerow(["step", "epoch", "batch", *(f"lr_group{i}" for i in g), *(f"momentum_group{i}" for i in g), "loss"])
        spe = self.setup.steps_per_epoch
        for t in range(self.steps):
            row = [t + 1, t // spe, t % spe, *self.lrs[t], *self.momentums[t], self.losses[t]]
            w.writerow([_cell(v) for v in row])
        return out.getvalue()


def _cell(v):
    if isinstance(v, (float, np.floating)):
        return repr(float(v)) if math.isfinite(v) else ""
    return v


def loss_draws(setup: LabSetup) -> np.ndarray:
    """The curve's noise: one Gaussian draw per optimizer step from a seeded torch generator."""
    g = torch.Generator().manual_seed(setup.loss.seed)
    return torch.randn(setup.steps, generator=g, dtype=torch.float64).numpy()


def run_schedule(setup: LabSetup, label: str | None = None) -> Schedule:
    """Build the optimizer and scheduler, then loop: record the lr, optimizer.step(), scheduler.step() (per batch, or
    after the epoch's batches). Torch's warnings become notes; a torch error ends the curve with its message."""
    setup = parse_setup(setup)
    label = label or setup.scheduler
    if setup.loss.source == "surface" and setup.spec.needs_metric:
        return _surface_schedule(setup, label)
    n, spe, per_step = setup.steps, setup.steps_per_epoch, setup.interval == "step"
    metric = setup.spec.needs_metric
    losses = setup.loss.value(loss_draws(setup), np.arange(n, dtype=np.float64))
    params, opt = _optimizer(setup)
    before = [momentum_of(g) for g in opt.param_groups]
    lrs, moms, last, notes, error = [], [], [], [], ""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sch = _build(setup, opt)
        notes += _switched(setup, before, [momentum_of(g) for g in opt.param_groups])
        last.append(list(sch.get_last_lr()))
        epoch_losses: list[float] = []

        def scheduler_step() -> None:
            if metric:
                sch.step(float(np.mean(epoch_losses)) if not per_step else float(epoch_losses[-1]))
            else:
                sch.step()
            last.append(list(sch.get_last_lr()))

        first = setup.order == "scheduler_first"
        try:
            for epoch in range(setup.epochs):
                epoch_losses.clear()
                if first and not per_step:
                    scheduler_step()                      # wrong order: before this epoch's optimizer steps
                for batch in range(spe):
                    t = epoch * spe + batch
                    epoch_losses.append(float(losses[t]))
                    if first and per_step:
                        scheduler_step()                  # wrong order: before this batch's optimizer step
                    lrs.append([g["lr"] for g in opt.param_groups])
                    moms.append([math.nan if (m := momentum_of(g)) is None else m for g in opt.param_groups])
                    opt.zero_grad()
                    for p in params:
                        p.grad = torch.zeros_like(p)      # the schedule does not depend on the gradient
                    opt.step()
                    if not first and per_step:
                        scheduler_step()
                if not first and not per_step:
                    scheduler_step()
        except (ValueError, TypeError, RuntimeError, ZeroDivisionError, OverflowError) as e:
            error = f"torch stopped the loop: {type(e).__name__}: {_first_line(e)}"
        if any("momentum_buffer" in opt.state[p] for p in params) and not any(before):
            notes.append("optimizer.state now holds a momentum_buffer: this SGD/RMSprop is running with momentum")
        notes += _warning_notes(caught)
    if error:
        notes.append(error)
    n_done = len(lrs)
    return Schedule(setup, label, np.array(lrs, dtype=np.float64).reshape(n_done, len(setup.base_lrs)),
                    np.array(moms, dtype=np.float64).reshape(n_done, len(setup.base_lrs)),
                    np.array(last, dtype=np.float64), losses[:n_done], tuple(dict.fromkeys(notes)), error, loop_code(setup))


def _surface_schedule(setup: LabSetup, label: str) -> Schedule:
    from optviz.core.codegen import generate_script
    from optviz.core.engine import run

    config = surface_config(setup)
    trace = run(config)
    notes = list(f"torch warned: {w}" for w in trace.warnings)
    if setup.order == "scheduler_first":
        notes.append("a surface run always calls optimizer.step() before scheduler.step(); the order option applies to the curve")
    if trace.diverged_at is not None:
        notes.append(trace.message)
    g = len(setup.base_lrs)
    lrs = trace.lrs.reshape(-1, g)
    return Schedule(setup, label, lrs, trace.momentums.reshape(-1, g), np.empty((0, g)), trace.losses[:-1][: len(lrs)],
                    tuple(notes), trace.message if trace.diverged_at is not None else "", generate_script(config))


def _switched(setup: LabSetup, before: list, after: list) -> list[str]:
    """CyclicLR / OneCycleLR overwrite momentum (or β₁) at construction, even a momentum of 0."""
    what = "momentum" if setup.optimizer in MOMENTUM_OPTIMIZERS else "β₁"
    changes: dict[tuple, list[int]] = {}
    for i, (b, a) in enumerate(zip(before, after, strict=True)):
        if b is not None and a is not None and b != a:
            changes.setdefault((b, a), []).append(i)
    out = []
    for (b, a), idx in changes.items():
        groups = "every group" if len(idx) == len(before) else "group " + ", ".join(map(str, idx))
        silent = ": silently, since momentum 0 meant 'no momentum' and now there is momentum" if b == 0 else ""
        out.append(f"building {setup.scheduler} changed {what} from {b:g} to {a:g} in {groups}{silent}")
    return out


def _warning_notes(caught) -> list[str]:
    return [f"torch warned: {str(w.message).strip()}" for w in caught]


def run_pair(setup: LabSetup) -> tuple[Schedule, Schedule]:
    """The same experiment with scheduler.step() once per epoch and once per batch."""
    setup = parse_setup(setup)
    return (run_schedule(setup.with_interval("epoch"), f"{setup.scheduler}, per epoch"),
            run_schedule(setup.with_interval("step"), f"{setup.scheduler}, per batch"))


def overlay_setup(setup: LabSetup, name: str) -> LabSetup:
    """Another scheduler with its registry defaults, in the same loop (per-group lambdas become one)."""
    return parse_setup({**setup.to_dict(), "scheduler": name, "options": {}})


def config_schedule(config: Config) -> tuple[np.ndarray, np.ndarray] | None:
    """The lr and momentum/β₁ of every group at every step of a run's config, read from torch without the path: the
    run's own optimizer and scheduler, stepped as the run steps them, on a point that never moves. Rows as in a
    Trace (row t−1: what step t ran with). None without a scheduler, or for one that watches the loss
    (ReduceLROnPlateau), whose lrs depend on the path. Lets a plot show the whole schedule when the path diverged."""
    from optviz.core.build import make_optimizer, scheduler_stepper
    from optviz.core.engine import starts_of

    if config.scheduler is None or config.scheduler_spec.needs_metric:
        return None
    lrs, moms = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # "scheduler.step() before optimizer.step()": the schedule ignores the steps
        try:
            _, opt = make_optimizer(config, torch.as_tensor(starts_of(config)[:1]))
            _, step = scheduler_stepper(config, opt)
            for t in range(1, config.steps + 1):
                lrs.append([float(g["lr"]) for g in opt.param_groups])
                moms.append([math.nan if (m := momentum_of(g)) is None else m for g in opt.param_groups])
                step(t, 0.0)
        except (ValueError, TypeError, RuntimeError, ZeroDivisionError, OverflowError, KeyError, IndexError):
            pass                           # torch stopped the schedule: it ends where torch stopped it
    g = len(config.group_names)
    return np.array(lrs, dtype=np.float64).reshape(-1, g), np.array(moms, dtype=np.float64).reshape(-1, g)


# -- the loop as code ----------------------------------------------------------------------------------

def loop_code(setup: LabSetup) -> str:
    """The exact loop run_schedule ran, as a standalone script."""
    g = len(setup.base_lrs)
    opts = _torch_options(setup)
    # a lambda that calls exp, sin, ... needs the functions the expression language knows
    uses_functions = bool(re.search(r"[A-Za-z_]\w*\(", json.dumps(opts)))
    extra = f", momentum={setup.momentum!r}" if setup.optimizer in MOMENTUM_OPTIMIZERS else ""
    groups = "\n".join(f'    {{"params": [params[{i}]], "lr": {literal(lr)}}},' for i, lr in enumerate(setup.base_lrs))
    metric = setup.spec.needs_metric
    per_step = setup.interval == "step"
    sch_call = "scheduler.step()"
    if metric:
        sch_call = "scheduler.step(loss)" if per_step else "scheduler.step(sum(epoch_losses) / len(epoch_losses))"
    L = setup.loss
    lines = [PRELUDE.strip() if uses_functions else "import math\n\nimport torch",
             "from torch.optim import lr_scheduler", "",
             f"params = [torch.zeros(1, dtype=torch.float64, requires_grad=True) for _ in range({g})]",
             f"optimizer = torch.optim.{setup.optimizer}([\n{groups}\n]{extra})",
             f"scheduler = {scheduler_expr(setup.scheduler, opts)}"]
    if metric:
        lines += ["", "# the loss ReduceLROnPlateau watches: a shaped, noisy curve",
                  f"draws = torch.randn({setup.steps}, generator=torch.Generator().manual_seed({L.seed}), dtype=torch.float64)",
                  "", "def loss_at(t):",
                  f"    return ({L.floor!r} + ({L.start!r} - {L.floor!r}) * math.exp(-t / {L.tau!r})\n"
                  f"            + {L.noise!r} * draws[t].item())"]
    lines += ["", "lrs = []  # lrs[t]: the lr of each group *during* optimizer step t + 1",
              f"for epoch in range({setup.epochs}):"]
    if metric and not per_step:
        lines.append("    epoch_losses = []")
    first = setup.order == "scheduler_first"
    if first and not per_step:
        lines.append(f"    {sch_call}  # WRONG ORDER: before this epoch's optimizer steps")
    lines.append(f"    for batch in range({setup.steps_per_epoch}):")
    if metric:
        lines.append(f"        loss = loss_at(epoch * {setup.steps_per_epoch} + batch)")
        if not per_step:
            lines.append("        epoch_losses.append(loss)")
    if first and per_step:
        lines.append(f"        {sch_call}  # WRONG ORDER: before optimizer.step()")
    lines += ["        lrs.append([group[\"lr\"] for group in optimizer.param_groups])",
              "        optimizer.zero_grad()",
              "        for p in params:",
              "            p.grad = torch.zeros_like(p)  # stands in for loss.backward(): the schedule ignores the gradient",
              "        optimizer.step()"]
    if not first and per_step:
        lines.append(f"        {sch_call}  # every batch")
    if not first and not per_step:
        lines.append(f"    {sch_call}  # once per epoch, after its optimizer steps")
    lines += ["", "print(lrs)"]
    return "\n".join(lines) + "\n"


# -- the experiment as URL text ------------------------------------------------------------------------

MAX_QUERY_TEXT = 4000


def setup_to_query(setup: LabSetup, default: LabSetup) -> str:
    """Compact JSON of the fields that differ from the page's default ('' when none do)."""
    d, base = setup.to_dict(), default.to_dict()
    diff = {k: v for k, v in d.items() if v != base.get(k)}
    if "options" in diff or "scheduler" in diff:
        diff["scheduler"], diff["options"] = d["scheduler"], d["options"]
    return json.dumps(diff, separators=(",", ":"), sort_keys=True) if diff else ""


def setup_from_query(text: str | None, default: LabSetup) -> tuple[LabSetup, str | None]:
    """The experiment a link describes, or the default and a sentence on what was wrong. Never raises. A link that names
    a scheduler without its options gets that scheduler's defaults, not the default scheduler's options."""
    def merge(base: dict, extra: dict) -> dict:
        merged = {**base, **extra}
        if "scheduler" in extra and "options" not in extra:
            merged["options"] = {}
        return merged

    return from_link(text, default, parse_setup, MAX_QUERY_TEXT, merge)
