"""One typed, versioned, JSON-able run config: the cache key, the URL state, the CLI input and the code generator's input."""
from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field, replace
from typing import Any, Self

import torch

from .build import make_optimizer
from .custom import CUSTOM, hyperparameter_params, parse_program
from .optimizers import OptimizerSpec, get_optimizer
from .schedulers import MAX_CHILDREN, SchedulerSpec, build_scheduler, get_scheduler
from .specs import ConfigError, Param, coerce, json_data, shown

VERSION = 1
MAX_STEPS = 10_000
MAX_STARTS = 100_000
MAX_WORK = 20_000_000            # starts × steps in one batched run
MAX_STEPS_PER_EPOCH = 10_000
MAX_NOISE = 1e6
GROUP_NAMES = ("x", "y")


@dataclass(frozen=True)
class Problem:
    """What is minimised: a registry surface (with options, e.g. the quadratic's eigenvalues) or a typed expression."""

    surface: str = "rosenbrock"
    start: tuple[float, float] | None = None          # None: the surface's default start
    starts: tuple[tuple[float, float], ...] | None = None   # batched mode
    noise: float = 0.0
    expression: str | None = None
    domain: tuple[tuple[float, float], tuple[float, float]] | None = None
    options: dict = field(default_factory=dict)       # surface options (quadratic: eigenvalues, angle, center)


@dataclass(frozen=True)
class OptimizerChoice:
    name: str = "SGD"
    options: dict = field(default_factory=dict)       # torch keyword arguments (complete after normalisation)
    groups: dict | None = None                        # {"x": {...overrides}, "y": {...}}; None: one parameter `xy`
    program: str | None = None                        # the Custom optimizer's step() (optviz.core.custom); None for torch's


@dataclass(frozen=True)
class SchedulerChoice:
    name: str
    options: dict = field(default_factory=dict)
    interval: str = "epoch"                           # "epoch" or "step"
    steps_per_epoch: int = 10


class TypedConfig:
    """What a typed run config (Config, NetConfig) shares: its canonical JSON and key, the specs of its chosen optimizer
    and scheduler, and replace(). A subclass is a frozen dataclass with ``optimizer`` and ``scheduler`` choices that
    defines to_dict() and from_dict()."""

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, indent=indent, allow_nan=False)

    def key(self) -> str:
        """Canonical text of the config: equal runs have equal keys."""
        return self.to_json()

    @classmethod
    def from_json(cls, text: str) -> Self:
        return cls.from_dict(json_data(text))

    @property
    def optimizer_spec(self) -> OptimizerSpec:
        return get_optimizer(self.optimizer.name)

    @property
    def scheduler_spec(self) -> SchedulerSpec | None:
        return get_scheduler(self.scheduler.name) if self.scheduler else None

    def replace(self, **changes) -> Self:
        return replace(self, **changes)


@dataclass(frozen=True)
class Config(TypedConfig):
    problem: Problem = field(default_factory=Problem)
    optimizer: OptimizerChoice = field(default_factory=OptimizerChoice)
    scheduler: SchedulerChoice | None = None
    steps: int = 200
    seed: int = 0
    version: int = VERSION

    # -- JSON ------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        p = self.problem
        prob: dict[str, Any] = {"noise": p.noise}
        if p.expression is not None:
            prob["expression"] = p.expression
            if p.domain is not None:
                prob["domain"] = [list(p.domain[0]), list(p.domain[1])]
        else:
            prob["surface"] = p.surface
            if p.options:
                prob["options"] = plain_data(p.options)
        if p.starts is not None:
            prob["starts"] = [list(s) for s in p.starts]
        elif p.start is not None:
            prob["start"] = list(p.start)
        opt: dict[str, Any] = {"name": self.optimizer.name, "options": plain_data(self.optimizer.options)}
        if self.optimizer.groups is not None:
            opt["groups"] = plain_data(self.optimizer.groups)
        if self.optimizer.program is not None:
            opt["program"] = self.optimizer.program
        sch = None
        if self.scheduler is not None:
            s = self.scheduler
            sch = {"name": s.name, "options": plain_data(s.options), "interval": s.interval, "steps_per_epoch": s.steps_per_epoch}
        return {"version": self.version, "problem": prob, "optimizer": opt, "scheduler": sch,
                "steps": self.steps, "seed": self.seed}

    @classmethod
    def from_dict(cls, data: Any) -> "Config":
        return parse_config(data)

    # -- conveniences ----------------------------------------------------------------------------
    @property
    def group_names(self) -> tuple[str, ...]:
        return GROUP_NAMES if self.optimizer.groups is not None else ("xy",)

    def group_options(self) -> list[dict]:
        """Effective torch options of every group (defaults merged with the group's overrides)."""
        base = dict(self.optimizer.options)
        if self.optimizer.groups is None:
            return [base]
        return [{**base, **self.optimizer.groups.get(g, {})} for g in GROUP_NAMES]


def plain_data(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: plain_data(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain_data(x) for x in v]
    return v


# -- parsing and validation ----------------------------------------------------------------------

def expect_dict(v: Any, fld: str, keys: tuple[str, ...]) -> dict:
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise ConfigError(fld, f"expected an object, got {type(v).__name__}")
    extra = [k for k in v if k not in keys]
    if extra:
        raise ConfigError(f"{fld}.{extra[0]}" if fld else extra[0], f"unknown field; expected one of: {', '.join(keys)}")
    return v


def bounded_int(v: Any, fld: str, lo: int, hi: int) -> int:
    x = coerce(Param(fld, "int", 0, ""), v, fld)
    if not lo <= x <= hi:
        raise ConfigError(fld, f"must be between {lo} and {hi}, got {x}")
    return x


def _point(v: Any, fld: str) -> tuple[float, float]:
    x = coerce(Param(fld, "pair", None, ""), v, fld)
    if max(abs(x[0]), abs(x[1])) > 1e12:
        raise ConfigError(fld, "coordinates must be within ±1e12")
    return x


def parse_options(params: tuple[Param, ...], given: Any, fld: str, owner: str, fill: bool) -> dict:
    given = {} if given is None else given
    if not isinstance(given, dict):
        raise ConfigError(fld, f"expected an object of hyperparameters, got {type(given).__name__}")
    by_name = {p.name: p for p in params}
    for k in given:
        if k not in by_name:
            raise ConfigError(f"{fld}.{k}", f"{owner} has no hyperparameter {k!r}; it takes: {', '.join(by_name)}")
    out = {p.name: p.initial for p in params if fill and (p.initial is not None or p.nullable)}
    for k, v in given.items():
        p = by_name[k]
        out[k] = _schedulers(v, f"{fld}.{k}") if p.kind == "schedulers" else coerce(p, v, f"{fld}.{k}")
    return out


def _schedulers(v: Any, fld: str) -> list[dict]:
    if not isinstance(v, list) or not 1 <= len(v) <= MAX_CHILDREN:
        raise ConfigError(fld, f"expected a list of 1 to {MAX_CHILDREN} schedulers")
    out = []
    for i, c in enumerate(v):
        c = expect_dict(c, f"{fld}[{i}]", ("name", "options"))
        spec = get_scheduler(str(c.get("name", "")))
        if spec.composite or spec.needs_metric:
            raise ConfigError(f"{fld}[{i}].name", f"{spec.name} cannot be inside a composition"
                              + (" (it needs the loss in step(metrics))" if spec.needs_metric else ""))
        out.append({"name": spec.name, "options": parse_options(spec.params, c.get("options"), f"{fld}[{i}].options", spec.name, True)})
    return out


def parse_config(data: Any) -> Config:
    """Validate JSON data into a complete Config; every error names its field."""
    if isinstance(data, Config):
        data = data.to_dict()
    top = expect_dict(data, "", ("version", "problem", "optimizer", "scheduler", "steps", "seed"))
    version = top.get("version", VERSION)
    if version != VERSION:
        raise ConfigError("version", f"unsupported version {version!r}; this optviz reads version {VERSION}")
    problem = _parse_problem(expect_dict(top.get("problem"), "problem",
                                          ("surface", "start", "starts", "noise", "expression", "domain", "options")))
    steps = bounded_int(top.get("steps", 200), "steps", 1, MAX_STEPS)
    seed = bounded_int(top.get("seed", 0), "seed", 0, 2**31 - 1)
    if problem.starts is not None and len(problem.starts) * steps > MAX_WORK:
        raise ConfigError("problem.starts", f"{len(problem.starts)} starts × {steps} steps is more than the cap of {MAX_WORK:,}")

    o = expect_dict(top.get("optimizer"), "optimizer", ("name", "options", "groups", "program"))
    spec = get_optimizer(str(o.get("name", "SGD")))
    # the Custom optimizer's hyperparameters are the numbers its options name (its program reads them)
    params = hyperparameter_params(o.get("options")) if spec.name == CUSTOM else spec.params
    options = parse_options(params, o.get("options"), "optimizer.options", spec.name, True)
    program = parse_program(spec.name, o.get("program"), options)
    groups = None
    if o.get("groups") is not None:
        g = expect_dict(o["groups"], "optimizer.groups", GROUP_NAMES)
        groups = {name: parse_options(params, g.get(name), f"optimizer.groups.{name}", spec.name, False) for name in GROUP_NAMES}
        if not spec.groups_ok:
            raise ConfigError("optimizer.groups", "LBFGS doesn't support per-parameter options (parameter groups)")

    scheduler = None
    if top.get("scheduler") is not None:
        s = expect_dict(top["scheduler"], "scheduler", ("name", "options", "interval", "steps_per_epoch"))
        sspec = get_scheduler(str(s.get("name", "")))
        interval = s.get("interval", "epoch")
        if interval not in ("epoch", "step"):
            raise ConfigError("scheduler.interval", f"expected 'epoch' or 'step', got {interval!r}")
        spe = bounded_int(s.get("steps_per_epoch", 10), "scheduler.steps_per_epoch", 1, MAX_STEPS_PER_EPOCH)
        sopts = parse_options(sspec.params, s.get("options"), "scheduler.options", sspec.name, True)
        if sspec.name == "OneCycleLR" and sopts.get("total_steps") is None:
            sopts["total_steps"] = steps if interval == "step" else -(-steps // spe)
        scheduler = SchedulerChoice(sspec.name, sopts, interval, spe)

    config = Config(problem, OptimizerChoice(spec.name, options, groups, program), scheduler, steps, seed)
    validate(config)
    return config


def _parse_problem(p: dict) -> Problem:
    from .surfaces import SURFACES, expression_surface, get_surface

    noise = coerce(Param("noise", "float", 0.0, ""), p.get("noise", 0.0), "problem.noise")
    if not 0 <= noise <= MAX_NOISE:
        raise ConfigError("problem.noise", f"must be between 0 and {MAX_NOISE:g}, got {noise}")
    start = _point(p["start"], "problem.start") if p.get("start") is not None else None
    starts = None
    if p.get("starts") is not None:
        if not isinstance(p["starts"], list) or not 1 <= len(p["starts"]) <= MAX_STARTS:
            raise ConfigError("problem.starts", f"expected a list of 1 to {MAX_STARTS:,} points [x, y]")
        starts = tuple(_point(s, f"problem.starts[{i}]") for i, s in enumerate(p["starts"]))
    expression = p.get("expression")
    domain = None
    options: dict = {}
    surface = "custom"
    if expression is not None:
        if not isinstance(expression, str):
            raise ConfigError("problem.expression", "expected a text such as 'x**2 + 10*y**2'")
        if p.get("domain") is not None:
            d = p["domain"]
            if not isinstance(d, list) or len(d) != 2:
                raise ConfigError("problem.domain", "expected [[xmin, xmax], [ymin, ymax]]")
            domain = (_point(d[0], "problem.domain[0]"), _point(d[1], "problem.domain[1]"))
        try:
            expression_surface(expression, **({"domain": domain} if domain else {}))
        except ValueError as e:
            raise ConfigError("problem.expression" if "domain" not in str(e) else "problem.domain", str(e)) from None
    else:
        surface = str(p.get("surface", "rosenbrock"))
        if surface not in SURFACES:
            raise ConfigError("problem.surface", f"unknown surface {shown(surface)}; choose one of: {', '.join(SURFACES)}")
        if p.get("options"):
            if surface != "quadratic":
                raise ConfigError("problem.options", f"surface {surface!r} takes no options")
            options = expect_dict(p["options"], "problem.options", ("eigenvalues", "angle", "center"))
            options = {k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in options.items()}
            try:
                get_surface(surface, **options)
            except (TypeError, ValueError) as e:
                raise ConfigError("problem.options", str(e)) from None
    return Problem(surface, start, starts, noise, expression, domain, options)


def check_rules(config, field) -> None:
    """The optimizer's rules (torch's checks, its messages) on every group's options — those torch checks on the
    constructor's defaults only (SGD's Nesterov rule) on the defaults once. ``field(rule, group index)`` names the field."""
    for gi, opts in enumerate(config.group_options()):
        for rule in config.optimizer_spec.rules:
            if rule.defaults_only and gi > 0:
                continue
            checked = dict(config.optimizer.options) if rule.defaults_only else opts
            if not rule.ok(checked):
                raise ConfigError(field(rule, gi), rule.message(checked))


def validate(config: Config) -> None:
    """The checks torch makes (with its own messages) and its silent traps, before anything runs."""
    check_rules(config, lambda rule, gi: f"optimizer.options.{rule.field}" if config.optimizer.groups is None or rule.defaults_only
                else _group_field(config, rule.field, gi))
    # Whatever else torch refuses, it refuses here, with its own message, before the run.
    _dry_run(config)


def _group_field(config: Config, name: str, gi: int) -> str:
    g = GROUP_NAMES[gi]
    if name in (config.optimizer.groups or {}).get(g, {}):
        return f"optimizer.groups.{g}.{name}"
    return f"optimizer.options.{name}"


def _dry_run(config: Config) -> None:
    try:
        params, opt = make_optimizer(config, torch.zeros(1, 2, dtype=torch.float64))
    except (ValueError, TypeError, RuntimeError, KeyError, IndexError) as e:
        raise ConfigError("optimizer", one_line(e)) from None
    check_scheduler(config, opt)


def check_scheduler(config, opt) -> None:
    """Build the config's scheduler (if any) on ``opt`` once, so torch refuses a bad option here, with its message."""
    if config.scheduler is None:
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            build_scheduler(config.scheduler_spec, config.scheduler.options, opt)
    except ConfigError:
        raise
    except (ValueError, TypeError, RuntimeError, KeyError, IndexError, ZeroDivisionError, OverflowError) as e:
        raise ConfigError("scheduler.options", one_line(e)) from None


def one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text[:300]


def default_config(**overrides: Any) -> Config:
    return parse_config(overrides)

