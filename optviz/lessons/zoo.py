"""The Zoo: any set of optimizers — torch.optim's and pytorch-optimizer's — on one surface, each at the learning rate a
stated protocol found for it, with raw (never clipped) gradients; and the gallery: every entry's tuned run.

A static gallery that clips the gradient norm and tunes with a search it does not show cannot be checked. Here each
entry's lr comes from ``race.tune_entry`` (every lr of a log grid is one real torch run of the full length; the best by
the protocol's objective wins), every other hyperparameter stays at the class's default, and the drawn path is the real
run at that lr. Entries whose lr is a multiplier of an adapted step (Prodigy, D-Adapt) are tuned on the same grid moved
up by ``MULTIPLIER_SCALE``; entries without an lr run at their defaults.

Tuning every entry costs ~1.5 min per surface, so the results of the default protocol on the gallery's surfaces are
kept in ``data/zoo_tuned.json``, written by ``python -m optviz.lessons.zoo`` from real runs (tests re-tune entries and
compare). A lookup that misses the table tunes live.
"""
from __future__ import annotations

import functools
import json
import math
import sys
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any, Callable

from optviz.core import external as ext
from optviz.core.config import Config, ConfigError, parse_config
from optviz.core.engine import run
from optviz.core.optimizers import OPTIMIZERS, get_optimizer
from optviz.core.specs import shown
from optviz.core.trace import Trace

from .race import OBJECTIVES, TuneProtocol, TuneResult, lr_grid, tune_entry

MAX_ZOO = 24                       # optimizers drawn together (the gallery shows every entry)
AUTO_TUNE = 40_000                 # gradient evaluations a page runs without asking (larger tunings wait for a button)
SECONDS_PER_EVALUATION = 1.5e-4    # measured median of one step of a catalogue entry on a 2-D point, this 2-core machine
MAX_TUNING_STEPS = 250_000         # gradient evaluations one Zoo's tuning may cost (entries × lrs × steps × evaluations per step)
DEFAULT_STEPS = 200
MULTIPLIER_SCALE = 100.0
GALLERY_SURFACES = ("rosenbrock", "rastrigin")
TABLE = Path(__file__).with_name("data") / "zoo_tuned.json"
DEFAULT_NAMES = ("SGD", "Adam", "pytorch_optimizer.Lion", "pytorch_optimizer.Adan", "pytorch_optimizer.Prodigy",
                 "pytorch_optimizer.MADGRAD")


@dataclass(frozen=True)
class Grid:
    """The lr grid and the objective of the tuning protocol."""

    low: float = 1e-4
    high: float = 10.0
    per_decade: int = 3
    objective: str = "tail"

    def to_dict(self) -> dict:
        return {"low": self.low, "high": self.high, "per_decade": self.per_decade, "objective": self.objective}

    def lrs(self, multiplier: bool = False) -> tuple[float, ...]:
        scale = MULTIPLIER_SCALE if multiplier else 1.0
        return lr_grid(self.low * scale, self.high * scale, self.per_decade)


def parse_grid(data: Any) -> Grid:
    if data is None:
        return Grid()
    if not isinstance(data, dict) or set(data) - {"low", "high", "per_decade", "objective"}:
        raise ConfigError("tune", "expected an object with low, high, per_decade and objective")
    d = {**Grid().to_dict(), **data}
    try:
        grid = Grid(float(d["low"]), float(d["high"]), int(d["per_decade"]), str(d["objective"]))
    except (TypeError, ValueError):
        raise ConfigError("tune", "low and high must be numbers and per_decade a whole number") from None
    if grid.objective not in OBJECTIVES:
        raise ConfigError("tune.objective", f"expected one of {', '.join(OBJECTIVES)}")
    grid.lrs()               # raises a ConfigError for a bad grid
    return grid


@dataclass(frozen=True)
class Zoo:
    """Optimizers on one problem (``base``: surface, start, steps, seed; its optimizer is ignored), each tuned."""

    base: Config
    names: tuple[str, ...]
    grid: Grid = field(default_factory=Grid)

    def to_dict(self) -> dict:
        return {"base": self.base.to_dict(), "optimizers": list(self.names), "tune": self.grid.to_dict()}

    def key(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def config(self, name: str, lr: float | None = None) -> Config:
        """The run config of one entry: the base problem, the class's defaults, and ``lr`` when given."""
        data = self.base.to_dict()
        data["scheduler"] = None
        data["optimizer"] = {"name": name, "options": {} if lr is None else {"lr": lr}}
        return parse_config(data)

    def protocol(self, name: str) -> TuneProtocol | None:
        """The tuning protocol of one entry (None: it has no lr to tune)."""
        spec = get_optimizer(name)
        if "lr" not in spec.names:
            return None
        return TuneProtocol(self.grid.lrs(is_multiplier(name)), self.base.steps, self.base.seed, self.grid.objective)

    def describe(self) -> str:
        lrs, scaled = self.grid.lrs(), self.grid.lrs(True)
        return (f"Every optimizer runs {self.base.steps} steps from the same start at each of {len(lrs)} log-spaced learning "
                f"rates from {lrs[0]:g} to {lrs[-1]:g} (noise seed {self.base.seed}) and keeps the lr with the lowest "
                f"{OBJECTIVES[self.grid.objective]}; a diverged run scores +∞ and ties go to the smaller lr. Optimizers "
                f"whose lr is a multiplier (Prodigy, D-Adapt) use the same grid × {MULTIPLIER_SCALE:g} ({scaled[0]:g} to "
                f"{scaled[-1]:g}); one without an lr runs at its defaults. Every other hyperparameter keeps the class's "
                "default, and gradients are never clipped: each path is the optimizer's raw behaviour at its tuned lr.")

    def tuning_steps(self) -> int:
        """What tuning every entry costs, in gradient evaluations (an LBFGS step may evaluate ``max_iter`` times)."""
        return sum(len(p.lrs) * p.steps * evaluations_per_step(n) for n in self.names if (p := self.protocol(n)) is not None)


def evaluations_per_step(name: str) -> int:
    spec = get_optimizer(name)
    return int(spec.defaults().get("max_iter") or 1) if "max_iter" in spec.names else 1


def is_multiplier(name: str) -> bool:
    return ext.MULTIPLIER in get_optimizer(name).badges


def catalogue(external: bool = True) -> list[str]:
    """Every optimizer the Zoo can take: torch.optim's, then pytorch-optimizer's that run on a 2-D point."""
    return list(OPTIMIZERS) + ([s.name for s in ext.available()] if external else [])


def parse_zoo(data: Any) -> Zoo:
    """A Zoo from JSON ``{"base": config, "optimizers": [names], "tune": {low, high, per_decade, objective}}``."""
    if not isinstance(data, dict) or set(data) - {"base", "optimizers", "tune"}:
        raise ConfigError("", "expected an object with 'base', 'optimizers' and 'tune'")
    base = parse_config(data.get("base") or {"steps": DEFAULT_STEPS})
    names = data.get("optimizers")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ConfigError("optimizers", "expected a list of optimizer names")
    out: list[str] = []
    for i, n in enumerate(names):
        try:
            spec = get_optimizer(n)
        except ConfigError as e:
            raise ConfigError(f"optimizers[{i}]", e.message) from None
        if spec.name not in OPTIMIZERS and not spec.name.startswith(ext.PREFIX):
            raise ConfigError(f"optimizers[{i}]", f"the Zoo races torch.optim's and pytorch-optimizer's classes, not {shown(n)} "
                                                  "(write your own step() on its own page)")
        if spec.name not in out:
            out.append(spec.name)
    if not 1 <= len(out) <= MAX_ZOO:
        raise ConfigError("optimizers", f"a zoo holds 1 to {MAX_ZOO} optimizers (the gallery shows all of them)")
    zoo = Zoo(base, tuple(out), parse_grid(data.get("tune")))
    for n in zoo.names:
        try:
            zoo.config(n)
        except ConfigError as e:
            raise ConfigError(f"optimizers ({n}).{e.field}", e.message) from None
    if (cost := zoo.tuning_steps()) > MAX_TUNING_STEPS:
        raise ConfigError("optimizers", f"tuning these would cost {cost:,} gradient evaluations; at most {MAX_TUNING_STEPS:,} "
                                        "are allowed (fewer optimizers, steps or lrs per decade; LBFGS counts max_iter per step)")
    return zoo


def from_dict(data: dict) -> Zoo:
    """A Zoo from its own ``to_dict()`` (trusted data, e.g. a cache key: no caps; a user's JSON goes through parse_zoo)."""
    return Zoo(parse_config(data["base"]), tuple(data["optimizers"]), parse_grid(data["tune"]))


def single(z: Zoo, name: str) -> Zoo:
    """The one-entry Zoo of ``name`` on the same problem and protocol (what its tuning depends on)."""
    return Zoo(z.base, (name,), z.grid)


def labels(names) -> list[str]:
    """Legend labels: the class name; "(pytorch-optimizer)" added where torch.optim's class of that name is also there."""
    short = [n.removeprefix(ext.PREFIX) for n in names]
    return [f"{s} (pytorch-optimizer)" if n.startswith(ext.PREFIX) and s in short[:i] + short[i + 1:] else s
            for i, (n, s) in enumerate(zip(names, short, strict=True))]


# -- tuning ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Tuned:
    """One entry's tuning (None when it has no lr) and the lr its drawn run uses."""

    name: str
    label: str
    tuning: TuneResult | None
    lr: float | None                  # the tuned lr; the class default when untuned or when every lr diverged
    from_table: bool
    pending: bool = False             # not tuned yet: drawn at the class's default lr

    def lr_note(self) -> str:
        if self.pending:
            return f"not tuned yet: drawn at its default lr {self.lr:g}"
        if self.tuning is None:
            return "no lr: runs at its defaults"
        if self.tuning.best_lr is None:
            return f"every lr diverged; drawn at its default lr {self.lr:g}"
        return self.tuning.edge_note()


def table_key(zoo: Zoo, name: str) -> str:
    """What a tuned lr depends on: the problem, steps, seed, the entry and its protocol (not the class's default options,
    which the run takes from the installed package)."""
    p = zoo.protocol(name)
    base = zoo.base.to_dict()
    return json.dumps({"problem": base["problem"], "steps": zoo.base.steps, "seed": zoo.base.seed, "name": name,
                       "lrs": None if p is None else list(p.lrs), "objective": zoo.grid.objective}, sort_keys=True)


def versions() -> dict:
    return {"torch": version("torch"), "pytorch_optimizer": version("pytorch_optimizer")}


@functools.cache
def _table() -> dict:
    try:
        data = json.loads(TABLE.read_text())
    except (OSError, ValueError):
        return {}
    return data.get("entries", {}) if data.get("versions") == versions() else {}


def from_table(zoo: Zoo, name: str) -> TuneResult | None:
    row = _table().get(table_key(zoo, name))
    if row is None:
        return None
    p = zoo.protocol(name)
    return TuneResult(labels([name])[0], p.lrs, tuple(math.inf if s is None else s for s in row["scores"]),
                      row["best_lr"], math.inf if row["best_score"] is None else row["best_score"], row["seconds"])


def tune(zoo: Zoo, name: str, run_fn: Callable[[Config], Trace] = run, on_run: Callable[[int], None] | None = None,
         use_table: bool = True) -> Tuned:
    """The entry's tuned lr: from the table when it holds this exact protocol, else by running the grid."""
    label = labels([name])[0]
    protocol = zoo.protocol(name)
    if protocol is None:
        return Tuned(name, label, None, None, False)
    found = from_table(zoo, name) if use_table else None
    known = found is not None
    if found is None:
        found = tune_entry(zoo.config(name), protocol, label, run_fn, on_run)
    lr = found.best_lr if found.best_lr is not None else zoo.config(name).optimizer.options.get("lr")
    return Tuned(name, label, found, lr, known)


def known(zoo: Zoo, name: str) -> Tuned:
    """The entry's tuning if the table holds it (or it has no lr); otherwise a pending entry at its default lr."""
    if zoo.protocol(name) is None or from_table(zoo, name) is not None:
        return tune(zoo, name)
    return Tuned(name, labels([name])[0], None, zoo.config(name).optimizer.options.get("lr"), False, pending=True)


def live_cost(zoo: Zoo) -> int:
    """Gradient evaluations the tunings missing from the table would cost."""
    return sum(len(p.lrs) * p.steps * evaluations_per_step(n) for n in zoo.names
               if (p := zoo.protocol(n)) is not None and from_table(zoo, n) is None)


def tuned_config(zoo: Zoo, t: Tuned) -> Config:
    return zoo.config(t.name, t.lr)


def _finite(v: float | None) -> float | None:
    """A number for JSON: None for ±∞ and NaN (a diverged run's score)."""
    return v if v is not None and math.isfinite(v) else None


def summary(z: Zoo, run_fn: Callable[[Config], Trace] = run) -> list[dict]:
    """Each entry's protocol, scores, tuned lr and how its tuned run ended, as plain JSON (the CLI's output)."""
    out = []
    for n in z.names:
        t = tune(z, n, run_fn)
        tr = run_fn(tuned_config(z, t))
        out.append({"optimizer": n, "label": t.label, "tuned_lr": t.lr, "from_table": t.from_table, "note": t.lr_note(),
                    "lrs": None if t.tuning is None else list(t.tuning.lrs),
                    "scores": None if t.tuning is None else [_finite(s) for s in t.tuning.scores],
                    "final_loss": _finite(float(tr.losses[-1])), "final_point": [_finite(float(v)) for v in tr.positions[-1]],
                    "diverged_at": tr.diverged_at, "steps": tr.steps})
    return out


# -- the gallery's table -----------------------------------------------------------------------------

def gallery_zoo(surface: str, names: tuple[str, ...] | None = None) -> Zoo:
    """Every runnable entry on a gallery surface, default start, steps and protocol (not capped at MAX_ZOO)."""
    base = parse_config({"problem": {"surface": surface}, "steps": DEFAULT_STEPS})
    return Zoo(base, tuple(names or catalogue()))


def _row(t: TuneResult) -> dict:
    return {"best_lr": t.best_lr, "best_score": _finite(t.best_score), "scores": [_finite(s) for s in t.scores],
            "seconds": round(t.seconds, 3)}


def write_table(surfaces=GALLERY_SURFACES, out: Path = TABLE, log=print) -> dict:
    """Tune every entry on every gallery surface (keeping rows whose key is unchanged) and write the table."""
    try:
        old = json.loads(out.read_text())
        rows = old.get("entries", {}) if old.get("versions") == versions() else {}
    except (OSError, ValueError):
        rows = {}
    keep = {k: v for k, v in rows.items() if json.loads(k)["problem"].get("surface") not in surfaces}
    for s in surfaces:
        zoo = gallery_zoo(s)
        for n in zoo.names:
            if zoo.protocol(n) is None:
                continue
            k = table_key(zoo, n)
            if k not in rows:
                t0 = time.perf_counter()
                rows[k] = _row(tune(zoo, n, use_table=False).tuning)
                log(f"{s:12s} {n:45s} best lr {rows[k]['best_lr']}  ({time.perf_counter() - t0:.1f} s)")
            keep[k] = rows[k]
    data = {"versions": versions(), "protocol": Grid().to_dict(), "steps": DEFAULT_STEPS, "entries": keep}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=0, sort_keys=True) + "\n")
    _table.cache_clear()
    return data


if __name__ == "__main__":   # python -m optviz.lessons.zoo [surface …]: (re)write the gallery's tuning table (or: python -m optviz zoo --write-table)
    import warnings

    warnings.simplefilter("ignore")
    write_table(tuple(sys.argv[1:]) or GALLERY_SURFACES)
