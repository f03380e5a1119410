"""The lr-scheduler registry: every torch.optim.lr_scheduler class, its options, and how to build it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch.optim import lr_scheduler

from .expr import ExpressionError, compile_expression
from .specs import ConfigError, Param, shown


@dataclass(frozen=True)
class SchedulerSpec:
    key: str
    name: str                      # torch's class name
    params: tuple[Param, ...]
    summary: str
    needs_metric: bool = False     # ReduceLROnPlateau.step(metrics)
    composite: bool = False        # SequentialLR / ChainedScheduler
    cycles_momentum: bool = False  # CyclicLR / OneCycleLR (cycle_momentum=True by default)
    # lr-valued options whose starting value follows the optimizer's lr: (option, multiple of the optimizer's lr).
    # Their ui_default is that multiple of 1e-3, the Explorer's default lr.
    lr_relative: tuple[tuple[str, float], ...] = ()

    @property
    def cls(self) -> type:
        return getattr(lr_scheduler, self.name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def defaults(self, lr: float | None = None) -> dict:
        """Where a control starts: torch's defaults or the registry's ``ui_default``; given the optimizer's ``lr``, the
        lr-valued options start at their multiple of it (a cycle peaks at the optimizer's own lr, which the run survives
        at the start, where a larger peak tends to diverge)."""
        out = {p.name: p.initial for p in self.params if p.initial is not None or p.nullable}
        if lr is not None and lr > 0:
            out.update({name: float(f"{lr * k:.6g}") for name, k in self.lr_relative})
        return out


def _gamma(default: float | None, ui: float | None = None) -> Param:
    return Param("gamma", "float", default, "Multiplicative factor of the decay.", 0.01, 1.0, ui_default=ui)


_LAMBDA_HELP = "An expression in `epoch` (e.g. 0.95**epoch); one per group allowed."
_CYCLE = Param("cycle_momentum", "bool", True, "Also cycle momentum (or Adam's β₁) inversely to the lr. Switches SGD/RMSprop momentum 0 silently on.")

SCHEDULERS: dict[str, SchedulerSpec] = {s.name: s for s in [
    SchedulerSpec("step_lr", "StepLR", (
        Param("step_size", "int", None, "Decay every step_size scheduler steps.", 1, 1000, ui_default=10), _gamma(0.1)),
        "Multiply the lr by gamma every step_size epochs."),
    SchedulerSpec("multi_step_lr", "MultiStepLR", (
        Param("milestones", "intlist", None, "Scheduler steps at which the lr is multiplied by gamma.", ui_default=[5, 10]), _gamma(0.1)),
        "Multiply the lr by gamma at each milestone."),
    SchedulerSpec("constant_lr", "ConstantLR", (
        Param("factor", "float", 1 / 3, "Factor applied until total_iters.", 0.0, 1.0),
        Param("total_iters", "int", 5, "Number of scheduler steps with the factor.", 0, 1000)),
        "A constant factor on the lr for the first total_iters steps, then the base lr."),
    SchedulerSpec("linear_lr", "LinearLR", (
        Param("start_factor", "float", 1 / 3, "Factor at the start.", 1e-3, 1.0),
        Param("end_factor", "float", 1.0, "Factor after total_iters.", 0.0, 1.0),
        Param("total_iters", "int", 5, "Scheduler steps of the linear ramp.", 1, 1000)),
        "Linear ramp of the lr factor (a warmup, or a linear decay)."),
    SchedulerSpec("exponential_lr", "ExponentialLR", (_gamma(None, 0.95),), "Multiply the lr by gamma every step."),
    SchedulerSpec("polynomial_lr", "PolynomialLR", (
        Param("total_iters", "int", 5, "Steps until the lr reaches 0.", 1, 1000),
        Param("power", "float", 1.0, "Power of the polynomial.", 0.1, 5.0)),
        "Polynomial decay to 0 over total_iters steps (torch's default ends at 0 after 5 steps)."),
    SchedulerSpec("cosine_annealing_lr", "CosineAnnealingLR", (
        Param("T_max", "int", None, "Half-period of the cosine, in scheduler steps.", 1, 10000, ui_default=20),
        Param("eta_min", "float", 0.0, "Minimum lr.", 0.0, 1.0)),
        "Cosine decay from the base lr to eta_min over T_max steps (periodic past T_max)."),
    SchedulerSpec("cosine_annealing_warm_restarts", "CosineAnnealingWarmRestarts", (
        Param("T_0", "int", None, "Steps until the first restart.", 1, 10000, ui_default=10),
        Param("T_mult", "int", 1, "Factor by which the period grows after each restart.", 1, 10),
        Param("eta_min", "float", 0.0, "Minimum lr.", 0.0, 1.0)),
        "Cosine decay that restarts at the base lr every period (SGDR)."),
    SchedulerSpec("cyclic_lr", "CyclicLR", (
        Param("base_lr", "float", None, "Lower lr of the cycle (overwrites the optimizer's lr); starts at a tenth of the optimizer's lr.",
              1e-6, 10.0, log=True, ui_default=1e-4),
        Param("max_lr", "float", None, "Upper lr of the cycle; starts at the optimizer's lr (a higher peak may diverge).",
              1e-6, 10.0, log=True, ui_default=1e-3),
        Param("step_size_up", "int", 2000, "Steps of the increasing half (torch's 2000 barely moves in a short run).", 1, 10000, ui_default=20),
        Param("step_size_down", "int", None, "Steps of the decreasing half (default: = step_size_up).", 1, 10000, nullable=True),
        Param("mode", "choice", "triangular", "Amplitude policy.", choices=("triangular", "triangular2", "exp_range")),
        _gamma(1.0), _CYCLE,
        Param("base_momentum", "float", 0.8, "Momentum at the lr peak.", 0.0, 0.999),
        Param("max_momentum", "float", 0.9, "Momentum at the lr trough.", 0.0, 0.999)),
        "The lr cycles between base_lr and max_lr; momentum cycles the opposite way.", cycles_momentum=True,
        lr_relative=(("base_lr", 0.1), ("max_lr", 1.0))),
    SchedulerSpec("one_cycle_lr", "OneCycleLR", (
        Param("max_lr", "float", None, "Peak lr (the optimizer's lr is ignored); starts at the optimizer's lr, since a "
              "higher peak may diverge.", 1e-6, 10.0, log=True, ui_default=1e-3),
        Param("total_steps", "int", None, "Length of the cycle (default: every scheduler step of the run).", 1, 100000, nullable=True),
        Param("pct_start", "float", 0.3, "Fraction of the cycle spent increasing the lr.", 0.01, 0.99),
        Param("anneal_strategy", "choice", "cos", "Annealing shape.", choices=("cos", "linear")),
        _CYCLE,
        Param("base_momentum", "float", 0.85, "Momentum at the lr peak.", 0.0, 0.999),
        Param("max_momentum", "float", 0.95, "Momentum at the start and end.", 0.0, 0.999),
        Param("div_factor", "float", 25.0, "Initial lr = max_lr / div_factor.", 1.0, 1000.0, log=True),
        Param("final_div_factor", "float", 1e4, "Final lr = initial lr / final_div_factor.", 1.0, 1e6, log=True),
        Param("three_phase", "bool", False, "Add a third phase that anneals below the initial lr.")),
        "Warm up to max_lr, then anneal far below the start; momentum moves the opposite way.", cycles_momentum=True,
        lr_relative=(("max_lr", 1.0),)),
    SchedulerSpec("reduce_lr_on_plateau", "ReduceLROnPlateau", (
        Param("mode", "choice", "min", "Watch the loss going down (min) or a score going up (max).", choices=("min", "max")),
        Param("factor", "float", 0.1, "Multiply the lr by this when the loss plateaus (< 1).", 0.01, 0.99),
        Param("patience", "int", 10, "Scheduler steps without improvement before reducing.", 0, 1000),
        Param("threshold", "float", 1e-4, "What counts as an improvement.", 1e-8, 1.0, log=True),
        Param("threshold_mode", "choice", "rel", "Relative or absolute threshold.", choices=("rel", "abs")),
        Param("cooldown", "int", 0, "Steps to wait after a reduction.", 0, 1000),
        Param("min_lr", "float", 0.0, "Lower bound on the lr.", 0.0, 1.0),
        Param("eps", "float", 1e-8, "Smallest change of lr that is applied.", 1e-12, 1.0, log=True)),
        "Divide the lr when the loss stops improving (fed the run's loss).", needs_metric=True),
    SchedulerSpec("lambda_lr", "LambdaLR", (
        Param("lr_lambda", "text", None, _LAMBDA_HELP, ui_default="0.95**epoch"),),
        "lr = base_lr × λ(epoch), λ a formula you type."),
    SchedulerSpec("multiplicative_lr", "MultiplicativeLR", (
        Param("lr_lambda", "text", None, "An expression in `epoch`: the factor applied at each step (e.g. 0.95).", ui_default="0.95"),),
        "lr ← lr × λ(epoch) at every scheduler step."),
    SchedulerSpec("sequential_lr", "SequentialLR", (
        Param("schedulers", "schedulers", None, "The schedulers to run one after another.",
              ui_default=[{"name": "LinearLR", "options": {"start_factor": 0.1, "total_iters": 5}},
                          {"name": "CosineAnnealingLR", "options": {"T_max": 20}}]),
        Param("milestones", "intlist", None, "Scheduler steps at which the next scheduler takes over.", ui_default=[5])),
        "Run schedulers in sequence, e.g. a linear warmup then cosine decay.", composite=True),
    SchedulerSpec("chained_scheduler", "ChainedScheduler", (
        Param("schedulers", "schedulers", None, "Schedulers stepped together; their factors multiply.",
              ui_default=[{"name": "ConstantLR", "options": {"factor": 0.5, "total_iters": 4}},
                          {"name": "ExponentialLR", "options": {"gamma": 0.9}}]),),
        "Step several schedulers at once; their effects compound.", composite=True),
]}

MAX_CHILDREN = 5


def get_scheduler(name: str) -> SchedulerSpec:
    if name in SCHEDULERS:
        return SCHEDULERS[name]
    for spec in SCHEDULERS.values():
        if name.lower() in (spec.key, spec.name.lower()):
            return spec
    raise ConfigError("scheduler.name", f"unknown scheduler {shown(name)}; choose one of: {', '.join(SCHEDULERS)}")


def compile_lambda(text: str, field: str):
    """A scheduler lambda from a safe expression in ``epoch`` (never eval)."""
    try:
        expr = compile_expression(text, variables=("epoch",))
    except ExpressionError as e:
        raise ConfigError(field, str(e)) from None

    def lr_lambda(epoch: int) -> float:
        return expr.scalar(epoch=float(epoch))

    lr_lambda.text = text  # type: ignore[attr-defined]
    return lr_lambda


def torch_kwargs(spec: SchedulerSpec, options: dict, field: str) -> dict[str, Any]:
    """Options as torch's keyword arguments (lambdas compiled from their text)."""
    kw = dict(options)
    if "lr_lambda" in kw:
        t = kw["lr_lambda"]
        kw["lr_lambda"] = ([compile_lambda(s, f"{field}.lr_lambda[{i}]") for i, s in enumerate(t)]
                           if isinstance(t, list) else compile_lambda(t, f"{field}.lr_lambda"))
    return kw


def build_scheduler(spec: SchedulerSpec, options: dict, optimizer: torch.optim.Optimizer, field: str = "scheduler.options"):
    """Construct torch's scheduler from normalised options (children of compositions built first)."""
    if spec.composite:
        children = [build_scheduler(get_scheduler(c["name"]), c["options"], optimizer, f"{field}.schedulers[{i}].options")
                    for i, c in enumerate(options["schedulers"])]
        if spec.name == "SequentialLR":
            return lr_scheduler.SequentialLR(optimizer, children, milestones=list(options["milestones"]))
        return lr_scheduler.ChainedScheduler(children, optimizer=optimizer)
    return spec.cls(optimizer, **torch_kwargs(spec, options, field))
