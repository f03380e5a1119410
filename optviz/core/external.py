"""pytorch-optimizer's catalogue as optviz optimizer specs, read from the package itself and labelled by measurement.

Each class of ``pytorch_optimizer.get_supported_optimizers()`` becomes an OptimizerSpec named
``pytorch_optimizer.<ClassName>`` (``source = "pytorch-optimizer"``): its hyperparameters and defaults come from the
constructor's signature (numbers, booleans, tuples of numbers, ``Literal`` choices and strings whose allowed values the
class lists become Params; anything else is left at its default and listed in the note), their help from the docstring.
Every class takes ``**kwargs`` and ignores what it does not know, so optviz's own check of the options
(config.parse_options) is what refuses a misspelt one.

The badges are facts measured by running each class on a 2-D point (Rosenbrock from (-1.5, 2), 50 steps at lr 1e-3,
or at its own default lr where lr is a multiplier) in a plain torch loop. Measuring all of them takes seconds, so the
facts ship as data (``data/pytorch_optimizer_probe.json``, rewritten by ``python -m optviz.core.data``; a test
measures every entry again and compares): they are read from there when the installed pytorch-optimizer and torch
are the versions that file was measured with, and measured live (once per process) otherwise. The package is imported
on first use only: importing this module costs nothing.
"""
from __future__ import annotations

import functools
import inspect
import json
import math
import re
import typing
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from .optimizers import RESOLVERS, OptimizerSpec
from .specs import ConfigError, Param, Rule, shown

PREFIX = "pytorch_optimizer."
SOURCE = "pytorch-optimizer"
PROBE_LR = 1e-3
PROBE_STEPS = 50
PROBE_START = (-1.5, 2.0)
ADAM_TOL = 1e-6          # max |Δ| over the 50 positions for "same path as Adam"
COLOUR = "#636363"
PROBE_FILE = Path(__file__).parent / "data" / "pytorch_optimizer_probe.json"

SAME_AS_ADAM = "same path as Adam on a 2-D point"
MULTIPLIER = "lr is a multiplier (use ~1.0)"
NEEDS_CLOSURE = "needs a closure"
TRAIN_EVAL = "needs train()/eval()"
UNAVAILABLE = "unavailable on a 2-D point: "
_SKIP = {"self", "params", "foreach"}   # foreach: an implementation switch, not a hyperparameter
_MULTIPLIER_DOC = re.compile(r"multiplier|leave lr set to 1", re.IGNORECASE)
# a docstring that lists a string option's values: "Options: 'constant', 'belief'." / "either 'strong_wolfe' or None"
_VALUE = r"(?:'[^']*'|None)"
_LISTED_DOC = re.compile(rf"\b(?:options|either|one of)\b:?\s*({_VALUE}(?:(?:\s*,\s*|\s+or\s+){_VALUE})*)", re.IGNORECASE)


@functools.cache
def _classes() -> dict[str, type]:
    """Class name -> class, in the registry's order (imports pytorch_optimizer: the first call costs ~0.3 s)."""
    import pytorch_optimizer

    out: dict[str, type] = {}
    for reg in pytorch_optimizer.get_supported_optimizers():
        cls = pytorch_optimizer.load_optimizer(reg)
        out[cls.__name__] = cls
    return out


def names() -> list[str]:
    return [PREFIX + n for n in _classes()]


def _docs(cls: type) -> dict[str, str]:
    """'name: help' lines of the class docstring (torch's style, 'name (type): help', too)."""
    out: dict[str, str] = {}
    for line in (inspect.getdoc(cls) or "").splitlines():
        m = re.match(r"^\s*(?::param\s+)?(\w+)(?:\s+\([^)]*\))?:\s*(\S.*)$", line)   # "name:" or "name (type):"
        if m and m.group(1) not in out:
            out[m.group(1)] = m.group(2).strip()
    return out


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _param(name: str, default, annotation, help_: str, values: tuple = ()) -> Param | None:
    """A Param with a sensible UI range for a number, bool, tuple of numbers, Literal choice or a string whose allowed
    ``values`` the class lists; None for anything else."""
    if (literals := _literal_values(annotation)) and default in literals:
        return Param(name, "choice", default, help_, choices=literals)
    if values and default in values:
        return Param(name, "choice", default, help_, choices=values)
    if name == "lr" and (default is None or _is_num(default)):
        return Param(name, "float", default, help_ or "Learning rate.", 1e-6, 10.0, log=True,
                     ui_default=PROBE_LR if default is None else None, nullable=default is None)
    if isinstance(default, bool):
        return Param(name, "bool", default, help_)
    if isinstance(default, int):
        return Param(name, "int", default, help_, min(0, 10 * default), max(10, 10 * abs(default)))
    if isinstance(default, float):
        if not math.isfinite(default):
            return None
        if default == 0:
            return Param(name, "float", default, help_, 0.0, 1.0)
        if 0 < default < 0.1:
            return Param(name, "float", default, help_, default * 1e-4, 1.0, log=True)
        if 0 < default < 1:
            return Param(name, "float", default, help_, 0.0, 1.0)
        return Param(name, "float", default, help_, min(0.0, 10 * default), max(0.0, 10 * default))
    if isinstance(default, tuple) and len(default) >= 2 and all(_is_num(v) and math.isfinite(v) for v in default):
        # betas-like (every entry in [0, 1)) up to 0.9999; otherwise up to ten times the largest entry
        high = 0.9999 if all(0 <= v < 1 for v in default) else 10 * max(abs(v) for v in default)
        return Param(name, "pair" if len(default) == 2 else "tuple", tuple(float(v) for v in default), help_, 0.0, high)
    return None


def _literal_values(annotation) -> tuple:
    """The values a ``Literal[...]`` annotation allows (None first for an ``Optional[Literal[...]]``); () for others."""
    if typing.get_origin(annotation) is typing.Literal:
        return typing.get_args(annotation)
    args = typing.get_args(annotation)
    literals = tuple(v for a in args if typing.get_origin(a) is typing.Literal for v in typing.get_args(a))
    return (None, *literals) if literals and type(None) in args else literals


def _takes_text(default, annotation) -> bool:
    return isinstance(default, str) or (default is None and str in typing.get_args(annotation))


def listed_values(cls: type, name: str, help_: str) -> tuple:
    """The values a string option allows, as the class lists them: its ``validate_options(x, 'name', [...])`` check
    (pytorch-optimizer's own), else its docstring's "Options: 'a', 'b'" / "either 'a' or None"; () if it lists none."""
    try:
        source = inspect.getsource(cls.__init__)
    except (OSError, TypeError):
        source = ""
    m = re.search(r"validate_options\(\s*\w+\s*,\s*['\"]" + re.escape(name) + r"['\"]\s*,\s*[\[(]([^\])]*)[\])]", source)
    m = m or _LISTED_DOC.search(help_)
    if not m:
        return ()
    return tuple(None if none else text for text, none in re.findall(r"['\"]([^'\"]*)['\"]|\b(None)\b", m.group(1)))


@dataclass(frozen=True)
class Probe:
    """What a plain torch loop measured for one class on the 2-D point."""

    lr: float
    shape: str = "flat"            # "flat" (2,) or "matrix" (1, 2)
    needs_graph: bool = False      # ran only with backward(create_graph=True)
    finite: bool = True
    adam_gap: float = math.inf     # max |Δ| from torch.optim.Adam's positions at the same lr
    unavailable: str = ""          # why it cannot run on a 2-D point ('' if it can)
    path: tuple = ()


def _rosenbrock(p: torch.Tensor) -> torch.Tensor:
    x, y = p.reshape(-1)
    return (1 - x) ** 2 + 100 * (y - x ** 2) ** 2


def plain_path(cls: type, options: dict, shape: str = "flat", create_graph: bool = False, steps: int = PROBE_STEPS,
               seed: int = 0) -> torch.Tensor:
    """Positions after each step of the seed's loop (zero_grad, loss, backward, step(closure)) on Rosenbrock."""
    torch.manual_seed(seed)
    np.random.seed(seed)
    p = torch.tensor([PROBE_START] if shape == "matrix" else PROBE_START, dtype=torch.float64, requires_grad=True)
    opt = cls([p], **options)
    out = []
    for _ in range(steps):
        def closure():
            opt.zero_grad()
            loss = _rosenbrock(p)
            loss.backward(create_graph=create_graph)
            return loss
        opt.step(closure)
        out.append(p.detach().reshape(-1).clone())
    return torch.stack(out)


@functools.cache
def _adam_path(lr: float) -> torch.Tensor:
    return plain_path(torch.optim.Adam, {"lr": lr})


def _error(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {text}"[:200]


def _required(cls: type) -> list[str]:
    """Constructor arguments besides the parameters (the first) that have no default."""
    args = list(inspect.signature(cls.__init__).parameters.values())[2:]
    return [p.name for p in args if p.default is inspect.Parameter.empty and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]


def is_multiplier(cls: type) -> bool:
    """lr multiplies an adapted step (Prodigy, D-Adapt): its default lr is 1.0 and its docstring says so."""
    lr = inspect.signature(cls.__init__).parameters.get("lr")
    return lr is not None and lr.default == 1.0 and bool(_MULTIPLIER_DOC.search(inspect.getdoc(cls) or ""))


@functools.cache
def probe(class_name: str) -> Probe:
    """Run the class on the 2-D point: flat, then with create_graph, then as a 1×2 matrix; the first that runs wins."""
    cls = _classes()[class_name]
    lr = 1.0 if is_multiplier(cls) else PROBE_LR
    if req := _required(cls):
        return Probe(lr, unavailable=f"its constructor requires {', '.join(f'`{r}`' for r in req)} "
                                     "besides the parameters")
    errors = []
    for shape, graph in (("flat", False), ("flat", True), ("matrix", False)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                path = plain_path(cls, {"lr": lr}, shape, graph)
        except Exception as e:  # noqa: BLE001 - any refusal is the fact being measured
            errors.append(_error(e))
            continue
        finite = bool(torch.isfinite(path).all())
        gap = float((path - _adam_path(lr)).abs().max()) if finite else math.inf
        return Probe(lr, shape, graph, finite, gap, path=tuple(map(tuple, path.tolist())))
    return Probe(lr, unavailable=_explained(errors[0]))


_EXPLAINED = (
    ("has no attribute 'named_parameters'", "it takes a model (an nn.Module), not a list of parameters"),
    ("has no attribute 'parameters'", "it takes a model (an nn.Module), not a list of parameters"),
    ("Tensor.__contains__", "it takes parameter groups marked for Muon (`use_muon`), not a plain list"),
)


def _explained(error: str) -> str:
    for pattern, why in _EXPLAINED:
        if pattern in error:
            return f"{why} ({error})"
    return error


@dataclass(frozen=True)
class Facts:
    """What the pickers and the engine need of one class's probe (the shipped data file holds one per class)."""

    lr: float                      # the probe's lr: 1.0 where lr is a multiplier, else PROBE_LR
    shape: str = "flat"
    needs_graph: bool = False
    unavailable: str = ""
    badges: tuple[str, ...] = ()


@functools.cache
def measure(class_name: str) -> Facts:
    """The class's facts, measured now (its probe, its docstring, its train()/eval())."""
    cls = _classes()[class_name]
    pr = probe(class_name)
    out = []
    if pr.unavailable:
        out.append(UNAVAILABLE + pr.unavailable)
    if pr.adam_gap <= ADAM_TOL:
        out.append(SAME_AS_ADAM)
    if is_multiplier(cls):
        out.append(MULTIPLIER)
    if pr.needs_graph:
        out.append(NEEDS_CLOSURE)
    if "train" in vars(cls) and "eval" in vars(cls):
        out.append(TRAIN_EVAL)
    return Facts(pr.lr, pr.shape, pr.needs_graph, pr.unavailable, tuple(out))


def _versions() -> dict:
    """What the facts depend on: both packages' versions (torch's without a build tag such as +cpu) and the probe."""
    return {"pytorch_optimizer": _version(), "torch": torch.__version__.split("+")[0],
            "probe": {"lr": PROBE_LR, "steps": PROBE_STEPS, "start": list(PROBE_START), "adam_tol": ADAM_TOL}}


def probe_table() -> dict:
    """Every class's facts measured now, as the data file holds them."""
    return {"about": "Measured by optviz.core.external on a 2-D point; regenerate with `python -m optviz.core.data`.",
            **_versions(), "entries": {n: {**asdict(measure(n)), "badges": list(measure(n).badges)} for n in _classes()}}


def write_probe_file(path: Path = PROBE_FILE) -> Path:
    """Measure every class and write the data file (one line per class, so a new version's changes read as a diff)."""
    table = probe_table()
    head = json.dumps({k: v for k, v in table.items() if k != "entries"}, indent=1, ensure_ascii=False)
    rows = ",\n".join(f"  {json.dumps(n)}: {json.dumps(e, ensure_ascii=False)}" for n, e in table["entries"].items())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(head[:-2] + ',\n "entries": {\n' + rows + "\n }\n}\n", encoding="utf-8")
    return path


def read_probe_file(path: Path = PROBE_FILE) -> dict[str, Facts] | None:
    """The file's facts by class name, or None if it is missing or was measured with other versions or settings."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or any(data.get(k) != v for k, v in _versions().items()):
        return None
    return {n: Facts(**{**e, "badges": tuple(e["badges"])}) for n, e in data["entries"].items()}


@functools.cache
def _shipped() -> dict[str, Facts]:
    return read_probe_file(PROBE_FILE) or {}


def facts(class_name: str) -> Facts:
    """The class's facts: from the shipped file when it matches the installed versions, else measured now."""
    return _shipped().get(class_name) or measure(class_name)


def badges(class_name: str) -> tuple[str, ...]:
    return facts(class_name).badges


@functools.cache
def spec_of(class_name: str) -> OptimizerSpec:
    cls = _classes()[class_name]
    sig = inspect.signature(cls.__init__)
    docs = _docs(cls)
    params: list[Param] = []
    fixed: list[str] = []
    for k, p in sig.parameters.items():
        if k in _SKIP or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL) or p.default is inspect.Parameter.empty:
            continue
        help_ = docs.get(k, "")
        values = listed_values(cls, k, help_) if _takes_text(p.default, p.annotation) else ()
        par = _param(k, p.default, p.annotation, help_, values)
        if par is None:
            fixed.append(f"{k}={getattr(p.default, '__name__', None) or repr(p.default)}")
        else:
            params.append(par)
    pr = facts(class_name)
    summary = (inspect.getdoc(cls) or class_name).splitlines()[0]
    note = f"From pytorch-optimizer {_version()}."
    if fixed:
        note += f" Left at their defaults (optviz has no control for them): {', '.join(fixed)}."
    if pr.shape == "matrix":
        note += " It takes only 2-D parameters: the point is held as a 1×2 matrix."
    if pr.needs_graph:
        note += " It differentiates the gradient again (Hessian estimates): the closure calls backward(create_graph=True)."
    rules = (Rule("lr", lambda o: o["lr"] is None or o["lr"] >= 0, lambda o: f"Invalid learning rate: {o['lr']}"),) if "lr" in sig.parameters else ()
    return OptimizerSpec(
        PREFIX.lower() + class_name.lower(), PREFIX + class_name, tuple(params), summary, rules,
        elementwise=False, point_shape=pr.shape, note=note, colour=COLOUR, own_class=cls, source=SOURCE,
        needs_graph=pr.needs_graph, badges=pr.badges,
    )


def _version() -> str:
    from importlib.metadata import version

    return version("pytorch_optimizer")


def specs() -> list[OptimizerSpec]:
    """Every entry of the catalogue, unavailable ones included (their badge says why)."""
    return [spec_of(n) for n in _classes()]


def available() -> list[OptimizerSpec]:
    """The entries that run on a 2-D point (what the pickers offer)."""
    return [s for s in specs() if not any(b.startswith(UNAVAILABLE) for b in s.badges)]


def resolve(name: str) -> OptimizerSpec | None:
    """get_optimizer's hook: the spec of ``pytorch_optimizer.<ClassName>`` (any case), None for other names."""
    if not name.lower().startswith(PREFIX):
        return None
    rest = name[len(PREFIX):]
    match = next((n for n in _classes() if n.lower() == rest.lower()), None)
    if match is None:
        raise ConfigError("optimizer.name", f"pytorch-optimizer has no optimizer {shown(rest)}; `python -m optviz list` lists them")
    spec = spec_of(match)
    if why := facts(match).unavailable:
        raise ConfigError("optimizer.name", f"{spec.name} is unavailable on a 2-D point: {why}")
    return spec


RESOLVERS.append(resolve)

__all__ = ["PREFIX", "SOURCE", "PROBE_FILE", "Probe", "probe", "Facts", "measure", "facts", "badges", "probe_table", "write_probe_file",
           "read_probe_file", "listed_values", "spec_of", "specs", "available", "names", "resolve", "plain_path", "is_multiplier"]
