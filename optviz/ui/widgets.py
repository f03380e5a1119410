"""Controls drawn from the registries' specs: one widget per torch keyword, never a hard-coded slider list."""
from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import streamlit as st

from optviz.core import external as ext
from optviz.core.expr import MAX_EXPRESSION_LENGTH
from optviz.core.optimizers import OPTIMIZERS
from optviz.core.schedulers import SCHEDULERS
from optviz.core.specs import Param


def _formula_box(label: str, value: str, key: str, help: str, container) -> str:
    """A formula input as long as the parser allows (a link's formula is never cut), saying when it is full: the
    browser drops whatever is typed or pasted past the limit."""
    text = container.text_input(label, value, key=key, help=f"{help} (at most {MAX_EXPRESSION_LENGTH} characters)",
                                max_chars=MAX_EXPRESSION_LENGTH)
    if len(text) >= MAX_EXPRESSION_LENGTH:
        container.warning(f"{label}: the box is full ({MAX_EXPRESSION_LENGTH} characters); anything typed or pasted past "
                          "that was dropped. Check its end.", icon=":material/warning:")
    return text


def _fmt(v: float) -> str:
    return f"{v:.3g}" if v != 0 else "0"


def log_grid(low: float, high: float, value: float | None, per_decade: int = 6) -> list[float]:
    lo, hi = math.log10(low), math.log10(high)
    grid = [float(f"{v:.3g}") for v in np.logspace(lo, hi, int(round((hi - lo) * per_decade)) + 1)]
    if value is not None and value not in grid:
        grid.append(float(value))
    return sorted(set(grid))


def param_widget(param: Param, value: Any, key: str, label: str | None = None, container=st) -> Any:
    """A widget for one hyperparameter, initialised from `value` (values outside the UI range stay reachable)."""
    label = label or param.name
    k = param.kind
    if k == "bool":
        return container.checkbox(label, value=bool(value), key=key, help=param.help)
    if k == "choice":
        choices = list(param.choices)
        idx = choices.index(value) if value in choices else 0
        return container.selectbox(label, choices, index=idx, key=key, help=param.help,
                                   format_func=lambda c: "None" if c is None else str(c))
    if k == "float":
        return _float_widget(param, value, key, label, container)
    if k == "int":
        if value is None and param.nullable:
            on = container.checkbox(f"set {label}", value=False, key=key + ".on", help=param.help)
            if not on:
                return None
            value = int(param.low or 1)
        lo, hi = int(min(param.low if param.low is not None else 0, value)), int(max(param.high if param.high is not None else 100, value))
        if hi - lo <= 1000:
            return container.slider(label, lo, hi, int(value), key=key, help=param.help)
        return int(container.number_input(label, lo, hi, int(value), key=key, help=param.help))
    if k == "pair":
        a, b = value
        c1, c2 = container.columns(2)
        sub = Param(param.name, "float", None, param.help, param.low, param.high, param.log)
        va = None if a is None else _float_widget(sub, a, key + ".0", f"{label}[0]", c1)
        vb = _float_widget(sub, b, key + ".1", f"{label}[1]", c2)
        return [va, vb]
    if k == "tuple":  # one float widget per entry, side by side
        sub = Param(param.name, "float", None, param.help, param.low, param.high, param.log)
        return [_float_widget(sub, v, f"{key}.{i}", f"{label}[{i}]", c) for i, (v, c) in enumerate(zip(value, container.columns(len(value))))]
    if k == "intlist":
        text = container.text_input(label, ", ".join(str(v) for v in value or []), key=key, help=param.help)
        try:
            return [int(float(s)) for s in text.replace(";", ",").split(",") if s.strip()]
        except ValueError:
            container.error(f"{label}: write whole numbers separated by commas")
            return value
    if k == "text":
        if isinstance(value, list):
            return [_formula_box(f"{label} (group {g})", v, f"{key}.{g}", param.help, container) for g, v in zip("xy", value)]
        return _formula_box(label, value or "", key, param.help, container)
    if k == "schedulers":
        text = container.text_area(label, json.dumps(value), key=key, help=param.help + " (JSON list of {name, options})", max_chars=2000)
        try:
            return json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            container.error(f"{label}: not valid JSON")
            return value
    raise ValueError(k)


def _float_widget(param: Param, value: float, key: str, label: str, container) -> float:
    value = float(value)
    if param.log and param.low and param.high:
        grid = log_grid(min(param.low, value) if value > 0 else param.low, max(param.high, value), value if value > 0 else None)
        if value <= 0:
            grid = [0.0, *grid]
        return container.select_slider(label, grid, value=value if value in grid else grid[0], key=key, help=param.help, format_func=_fmt)
    lo = min(param.low if param.low is not None else 0.0, value)
    hi = max(param.high if param.high is not None else 1.0, value)
    step = (hi - lo) / 1000 if hi > lo else 0.001
    return container.slider(label, float(lo), float(hi), value, step=float(f"{step:.1g}"), key=key, help=param.help, format="%.4g")


def options_widgets(params, values: dict, key: str, hidden: set[str] = frozenset(), container=st) -> dict:
    """Widgets for every hyperparameter of a spec (hidden ones keep their value)."""
    out = {}
    for p in params:
        v = values.get(p.name, p.initial)
        out[p.name] = v if p.name in hidden else param_widget(p, v, f"{key}.{p.name}", container=container)
    return out


def optimizer_select(current: str, key: str, container=st, label: str = "optimizer", external: bool = False) -> str:
    """torch.optim's optimizers; with ``external``, a switch adds pytorch-optimizer's (loaded only when it is on)."""
    names = list(OPTIMIZERS)
    more: dict = {}
    if external and container.toggle("also pytorch-optimizer's catalogue", value=current.startswith(ext.PREFIX), key=f"{key}.external",
                                      help="The optimizers of the pytorch-optimizer package that run on a 2-D point, labelled "
                                           "with what optviz measured on each (the first switch loads them: a few seconds)."):
        more = {s.name: s for s in ext.available()}
        names += list(more)

    def shown(n: str) -> str:
        if n in more:
            s = more[n]
            return f"pytorch-optimizer · {n[len(ext.PREFIX):]} — {'; '.join(s.badges) if s.badges else s.summary[:50]}"
        return f"{n} — {OPTIMIZERS[n].summary[:60]}"

    return container.selectbox(label, names, index=names.index(current) if current in names else 0, key=key,
                               help="Any torch.optim optimizer; each runs as torch itself.", format_func=shown)


def scheduler_select(current: str | None, key: str, container=st) -> str | None:
    names = [None, *SCHEDULERS]
    return container.selectbox("lr scheduler", names, index=names.index(current) if current in names else 0, key=key,
                               format_func=lambda n: "none (constant lr)" if n is None else n,
                               help="Any torch.optim.lr_scheduler class, stepped per epoch or per optimizer step.")
