"""Optimizer races: several optimizers from one start on one surface, their results table, and a stated lr-tuning protocol."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np

from optviz.core.config import Config, ConfigError, OptimizerChoice, parse_config
from optviz.core.engine import run
from optviz.core.optimizers import get_optimizer
from optviz.core.trace import Trace

MIN_ENTRIES, MAX_ENTRIES = 2, 6
DEFAULT_TOL = 1e-3


# -- the race --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Race:
    """One problem, steps and seed (``base``) raced by 2–6 optimizers, each with its own hyperparameters."""

    base: Config
    entries: tuple[OptimizerChoice, ...]

    def configs(self) -> list[Config]:
        """The run config of every entry (same problem, steps and seed; the entry's optimizer)."""
        return [replace(self.base, optimizer=e) for e in self.entries]

    def labels(self) -> list[str]:
        return entry_labels(self.entries)

    def entries_json(self) -> list[dict]:
        """Entries as JSON, hyperparameters only where they differ from the spec's defaults (short links)."""
        out = []
        for e in self.entries:
            defaults = get_optimizer(e.name).defaults()
            opts = {k: _plain(v) for k, v in e.options.items() if _plain(v) != _plain(defaults.get(k))}
            item: dict[str, Any] = {"name": e.name, "options": opts}
            if e.groups is not None:
                item["groups"] = _plain(e.groups)
            out.append(item)
        return out

    def to_dict(self) -> dict:
        return {"base": self.base.to_dict(), "entries": self.entries_json()}


def _plain(v: Any) -> Any:
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v


def parse_entries(base: Config, entries: Any) -> tuple[OptimizerChoice, ...]:
    """Validate a list of {name, options[, groups]} against the base problem; errors name ``entries[i]…``."""
    if not isinstance(entries, list) or not MIN_ENTRIES <= len(entries) <= MAX_ENTRIES:
        raise ConfigError("entries", f"a race needs {MIN_ENTRIES} to {MAX_ENTRIES} optimizers")
    out = []
    data = base.to_dict()
    for i, e in enumerate(entries):
        if not isinstance(e, dict):
            raise ConfigError(f"entries[{i}]", f"expected an object {{name, options}}, got {type(e).__name__}")
        try:
            out.append(parse_config({**data, "optimizer": e}).optimizer)
        except ConfigError as err:
            raise ConfigError(f"entries[{i}].{err.field}" if err.field else f"entries[{i}]", err.message) from None
    return tuple(out)


def parse_race(data: Any) -> Race:
    """A Race from JSON ``{"base": config, "entries": [...]}``."""
    if not isinstance(data, dict) or set(data) - {"base", "entries"}:
        raise ConfigError("", "expected an object with 'base' and 'entries'")
    base = parse_config(data.get("base") or {})
    return Race(base, parse_entries(base, data.get("entries")))


def entry_labels(entries) -> list[str]:
    """Legend labels: the optimizer's name; when it races more than once, with the hyperparameters that differ
    between its entries ("SGD lr=0.01, momentum=0" vs "SGD lr=0.1, momentum=0.9"), numbered only if all agree."""
    settings = [_settings(e) for e in entries]
    out = []
    for e, mine in zip(entries, settings, strict=True):
        same = [s for f, s in zip(entries, settings, strict=True) if f.name == e.name]
        keys = [k for k in dict.fromkeys(k for s in same for k in s) if len({_text(s.get(k)) for s in same}) > 1]
        shown = ", ".join(f"{k}={_text(mine[k])}" for k in keys if k in mine)
        out.append(f"{e.name} {shown}" if shown else e.name)
    described, seen = list(out), {}
    for i, label in enumerate(described):
        if described.count(label) > 1:
            seen[label] = seen.get(label, 0) + 1
            out[i] = f"{label} #{seen[label]}"
    return out


def _settings(entry: OptimizerChoice) -> dict[str, Any]:
    """The entry's options, then each group's own options as ``group.key``."""
    flat = dict(entry.options)
    for g, opts in (entry.groups or {}).items():
        flat.update({f"{g}.{k}": v for k, v in opts.items()})
    return flat


def _text(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return "(" + ", ".join(_text(x) for x in v) + ")"
    return f"{v:g}" if isinstance(v, float) else str(v)


# -- results ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RaceResult:
    """One row of the results table. ``first_within``: first step t with f(θ_t) − f* ≤ tol (None: never)."""

    label: str
    optimizer: str
    final_loss: float
    distance: float            # to the nearest listed minimum (NaN when the surface lists none)
    nearest: tuple[float, float] | None
    nearest_kind: str               # "global", "local" or "saddle" ("" when none is listed)
    first_within: int | None
    diverged_at: int | None
    steps: int


def f_star(surface) -> float | None:
    """The lowest listed minimum value (None when the surface lists no minimum, e.g. a typed formula)."""
    values = [m.value for m in surface.minima if m.kind == "global"]
    return min(values) if values else None


def race_results(traces: list[Trace], labels: list[str], surface, tol: float = DEFAULT_TOL) -> list[RaceResult]:
    """Final loss, distance to the nearest minimum, first step within ``tol`` of f*, and divergence, per trace."""
    fs = f_star(surface)
    rows = []
    for tr, label in zip(traces, labels, strict=True):
        end = tr.positions[-1]
        m = surface.nearest_minimum(end)
        dist = math.hypot(end[0] - m.point[0], end[1] - m.point[1]) if m is not None else math.nan
        first = None
        if fs is not None:
            hits = np.flatnonzero(tr.losses - fs <= tol)
            first = int(hits[0]) if hits.size else None
        rows.append(RaceResult(label, tr.config.optimizer.name, float(tr.losses[-1]), dist,
                               None if m is None else m.point, "" if m is None else m.kind, first, tr.diverged_at, tr.steps))
    return rows


# -- the lr-tuning protocol --------------------------------------------------------------------------

OBJECTIVES = {
    "tail": "mean loss over the last 10 % of the steps",
    "final": "loss after the last step",
}


def lr_grid(low: float, high: float, per_decade: int) -> tuple[float, ...]:
    """Log-spaced learning rates from ``low`` to ``high`` inclusive, ``per_decade`` points per factor of 10."""
    if not (0 < low < high) or not 1 <= per_decade <= 10:
        raise ConfigError("tune", "the lr grid needs 0 < lowest < highest and 1 to 10 points per decade")
    n = int(round(math.log10(high / low) * per_decade)) + 1
    if n > 61:
        raise ConfigError("tune", f"the lr grid has {n} points; at most 61 are allowed")
    return tuple(float(f"{v:.3g}") for v in np.logspace(math.log10(low), math.log10(high), n))


@dataclass(frozen=True)
class TuneProtocol:
    """What is tuned and how it is judged: every lr of the grid runs the race's full steps with its seed."""

    lrs: tuple[float, ...]
    steps: int
    seed: int
    objective: str = "tail"

    def describe(self) -> str:
        return (f"each optimizer runs {self.steps} steps from the race's start at each of {len(self.lrs)} log-spaced "
                f"learning rates from {self.lrs[0]:g} to {self.lrs[-1]:g}, noise seed {self.seed}; it keeps the lr with "
                f"the lowest {OBJECTIVES[self.objective]} (a diverged run scores +∞; ties go to the smaller lr). "
                f"Everything else keeps the entry's settings.")


def objective(trace: Trace, protocol: TuneProtocol) -> float:
    """The protocol's score of one run (lower is better); +∞ for a run that diverged or did not finish."""
    if trace.diverged_at is not None or trace.steps < protocol.steps:
        return math.inf
    if protocol.objective == "final":
        return float(trace.losses[-1])
    tail = max(1, int(math.ceil(0.1 * protocol.steps)))
    return float(np.mean(trace.losses[-tail:]))


@dataclass(frozen=True)
class TuneResult:
    label: str
    lrs: tuple[float, ...]
    scores: tuple[float, ...]
    best_lr: float | None          # None: every lr diverged
    best_score: float
    seconds: float

    @property
    def edge(self) -> str | None:
        """"largest" or "smallest" when the best lr is an end of the grid, so the optimum may lie beyond it."""
        if self.best_lr is None or len(self.lrs) < 2:
            return None
        return "largest" if self.best_lr == self.lrs[-1] else "smallest" if self.best_lr == self.lrs[0] else None

    def edge_note(self) -> str:
        """What a best lr at the grid's end means ("" when it is inside the grid)."""
        if self.edge is None:
            return ""
        beyond, widen = ("above", "raise the highest lr") if self.edge == "largest" else ("below", "lower the lowest lr")
        return f"best lr is the {self.edge} tried; the optimum may lie {beyond} it ({widen})"


def tune_entry(config: Config, protocol: TuneProtocol, label: str = "",
               run_fn: Callable[[Config], Trace] = run, on_run: Callable[[int], None] | None = None) -> TuneResult:
    """Run ``config`` at every lr of the grid (one torch run each: lr is per param group, so one optimizer cannot
    hold a different lr per start) and keep the best by the protocol's objective."""
    t0 = time.perf_counter()
    scores = []
    for i, lr in enumerate(protocol.lrs):
        c = with_lr(config, lr, protocol)
        scores.append(objective(run_fn(c), protocol))
        if on_run is not None:
            on_run(i + 1)
    finite = [i for i, s in enumerate(scores) if math.isfinite(s)]
    best = min(finite, key=lambda i: (scores[i], protocol.lrs[i])) if finite else None
    return TuneResult(label, protocol.lrs, tuple(scores), None if best is None else protocol.lrs[best],
                      math.inf if best is None else scores[best], time.perf_counter() - t0)


def with_lr(config: Config, lr: float, protocol: TuneProtocol | None = None) -> Config:
    """The config with its lr (every group's) set to ``lr``, and the protocol's steps and seed."""
    opt = config.optimizer
    groups = None if opt.groups is None else {g: {k: v for k, v in o.items() if k != "lr"} for g, o in opt.groups.items()}
    data = config.to_dict()
    data["optimizer"] = {"name": opt.name, "options": {**opt.options, "lr": lr}, **({"groups": groups} if groups else {})}
    if protocol is not None:
        data["steps"], data["seed"] = protocol.steps, protocol.seed
    return parse_config(data)
