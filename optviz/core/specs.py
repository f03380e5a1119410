"""Hyperparameter specs: one typed description per torch keyword, shared by optimizers and schedulers."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable


class ConfigError(ValueError):
    """A user-facing problem with a config; `field` names the JSON path (e.g. ``optimizer.options.lr``)."""

    def __init__(self, field: str, message: str):
        # a tampered link can put kilobytes where a name or number belongs: never echo more than a line of it
        self.field = _clip(field, MAX_FIELD_TEXT)
        self.message = _clip(message, MAX_MESSAGE_TEXT)
        super().__init__(f"{self.field}: {self.message}" if self.field else self.message)


MAX_FIELD_TEXT = 120
MAX_MESSAGE_TEXT = 300


def _clip(text: str, limit: int) -> str:
    text = str(text)
    if not text.isprintable():  # line breaks and control characters from a link are shown escaped, on one line
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def shown(value: Any, limit: int = 60) -> str:
    """repr of a user's value for a message, shortened."""
    return _clip(repr(value), limit)


@dataclass(frozen=True)
class Param:
    """One hyperparameter: torch's keyword name, torch's default, a UI range and a one-sentence help.

    kind: "float", "int", "bool", "choice", "pair" (two floats, e.g. betas), "tuple" (as many floats as its default
    has, e.g. Adan's three betas), "intlist" (milestones), "text" (a safe expression such as a scheduler lambda).
    ``default`` is torch's own default (``None`` where torch requires the argument); ``ui_default`` is
    what optviz uses when the argument is required or torch's default makes a poor demo.
    """

    name: str
    kind: str
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple = ()
    ui_default: Any = None
    nullable: bool = False
    per_group: bool = True

    @property
    def initial(self) -> Any:
        return self.ui_default if self.ui_default is not None else self.default


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def coerce(param: Param, value: Any, field: str) -> Any:
    """Turn a JSON value into the Python value torch expects, or raise ConfigError naming the field."""
    if value is None:
        if param.nullable or param.default is None and param.kind == "choice":
            return None
        raise ConfigError(field, f"a value is required for '{param.name}'")
    k = param.kind
    if k == "bool":
        if isinstance(value, bool):
            return value
        if value in (0, 1, "true", "false", "True", "False"):
            return value in (1, "true", "True")
        raise ConfigError(field, f"expected true or false, got {shown(value)}")
    if k == "choice":
        if value in param.choices:
            return value
        raise ConfigError(field, f"expected one of {', '.join(map(repr, param.choices))}, got {shown(value)}")
    if k == "float":
        return _float(value, field)
    if k == "int":
        v = _float(value, field)
        if v != int(v):
            raise ConfigError(field, f"expected a whole number, got {shown(value)}")
        return int(v)
    if k == "pair":
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            raise ConfigError(field, f"expected two numbers [a, b], got {shown(value)}")
        a = None if value[0] is None and param.nullable else _float(value[0], field + "[0]")
        return (a, _float(value[1], field + "[1]"))
    if k == "tuple":
        n = len(param.initial)
        if not isinstance(value, (list, tuple)) or len(value) != n:
            raise ConfigError(field, f"expected a list of {n} numbers, got {shown(value)}")
        return tuple(_float(v, f"{field}[{i}]") for i, v in enumerate(value))
    if k == "intlist":
        if not isinstance(value, (list, tuple)) or len(value) > 100:
            raise ConfigError(field, f"expected a list of whole numbers (at most 100), got {shown(value)}")
        out = [coerce(Param(param.name, "int", 0, ""), v, f"{field}[{i}]") for i, v in enumerate(value)]
        return out
    if k == "text":
        if isinstance(value, str):
            return value
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value) and 1 <= len(value) <= 2:
            return list(value)
        raise ConfigError(field, f"expected an expression text, got {shown(value)}")
    raise ConfigError(field, f"unsupported kind {k}")


def _float(value: Any, field: str) -> float:
    if isinstance(value, bool) or not (_is_number(value) or isinstance(value, str)):
        raise ConfigError(field, f"expected a number, got {shown(value)}")
    try:
        v = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(field, f"expected a number, got {shown(value)}") from None
    if math.isnan(v) or math.isinf(v):
        raise ConfigError(field, f"expected a finite number, got {shown(value)}")
    return v


@dataclass(frozen=True)
class Rule:
    """A constraint checked before running; ``message`` is torch's own text where torch enforces it."""

    field: str
    ok: Callable[[dict], bool]
    message: Callable[[dict], str]
    # torch checks some options only in the constructor, on the shared defaults (SGD's Nesterov rule): a group may
    # then override them (e.g. momentum 0 in one group while nesterov=True), and torch runs that group as it says
    defaults_only: bool = False


def json_data(text: str) -> Any:
    """JSON text as data, or ConfigError (a config file, a link's settings, standard input)."""
    import json

    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as e:
        raise ConfigError("", f"not valid JSON: {e}") from None


def from_link(text: str | None, default: Any, parse: Callable[[dict], Any], max_length: int,
              merge: Callable[[dict, dict], dict] = lambda base, extra: {**base, **extra}) -> tuple[Any, str | None]:
    """A lesson's setup from a link's JSON object merged over ``default.to_dict()``, or the default and one sentence on
    what was wrong with the link. Never raises."""
    import json

    if not text:
        return default, None
    if len(text) > max_length:
        return default, "The link's settings are too long; showing the defaults."
    try:
        extra = json.loads(text)
        if not isinstance(extra, dict):
            raise ConfigError("", "expected an object")
        return parse(merge(default.to_dict(), extra)), None
    except ConfigError as e:
        return default, f"The link's settings were not valid ({e}); showing the defaults instead."
    except (ValueError, TypeError, RecursionError, KeyError, AttributeError, OverflowError) as e:
        return default, f"The link's settings could not be read ({type(e).__name__}); showing the defaults instead."
