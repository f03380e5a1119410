"""Hyperparameter sweeps: lr × momentum (β₁, weight decay, …) maps of many runs at once, each cell a torch.optim run."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from optviz.core.config import Config, ConfigError, parse_config
from optviz.core.engine import FAR, starts_of, surface_of
from optviz.core.specs import Param, coerce
from optviz.core.vectorised import RULES, cells_of

MAX_SWEEP_SIDE = 128          # sweep grids up to 128 × 128 cells
MAX_MAP_STEPS = 2000
MAX_GROUPS_WORK = 400_000     # cells × steps for optimizers without a vectorised rule (one torch group per cell)
Progress = Callable[[float], None]


# -- the sweep's description -----------------------------------------------------------------------

@dataclass(frozen=True)
class Axis:
    """One swept hyperparameter: torch's keyword (``betas[0]`` for a pair's first entry) over [low, high]."""

    param: str = "lr"
    low: float = 1e-4
    high: float = 1e-2
    n: int = 32
    log: bool = True

    def values(self) -> np.ndarray:
        if self.log:
            return np.logspace(math.log10(self.low), math.log10(self.high), self.n)
        return np.linspace(self.low, self.high, self.n)

    def to_dict(self) -> dict:
        return {"param": self.param, "low": self.low, "high": self.high, "n": self.n, "log": self.log}


@dataclass(frozen=True)
class Sweep:
    """A base run (one start, no scheduler) and two swept hyperparameters; ``tol`` defines "steps to tolerance"."""

    config: Config
    x: Axis
    y: Axis
    tol: float = 1e-6

    def to_dict(self) -> dict:
        return {"config": self.config.to_dict(), "x": self.x.to_dict(), "y": self.y.to_dict(), "tol": self.tol}


def sweep_params(name: str) -> list[str]:
    """The hyperparameters of an optimizer a sweep can vary: its float keywords and each entry of a float pair."""
    from optviz.core.optimizers import get_optimizer

    out = []
    for p in get_optimizer(name).params:
        if p.kind == "float":
            out.append(p.name)
        elif p.kind == "pair" and not p.nullable:
            out += [f"{p.name}[0]", f"{p.name}[1]"]
    return out


def _get(options: dict, param: str) -> Any:
    if param.endswith("]"):
        name, i = param[:-3], int(param[-2])
        return options[name][i]
    return options[param]


def _set(options: dict, param: str, value: float) -> dict:
    out = dict(options)
    if param.endswith("]"):
        name, i = param[:-3], int(param[-2])
        pair = list(out[name])
        pair[i] = value
        out[name] = tuple(pair)
    else:
        out[param] = value
    return out


def _axis(data: Any, field: str, allowed: list[str], default: Axis, side: int) -> Axis:
    if not isinstance(data, dict):
        raise ConfigError(field, f"expected an object with param, low, high, n, log; got {type(data).__name__}")
    extra = [k for k in data if k not in ("param", "low", "high", "n", "log")]
    if extra:
        raise ConfigError(f"{field}.{extra[0]}", "unknown field; expected one of: param, low, high, n, log")
    param = data.get("param", default.param)
    if param not in allowed:
        raise ConfigError(f"{field}.param", f"cannot sweep {param!r}; this optimizer's sweepable hyperparameters are: "
                          f"{', '.join(allowed)}")
    low = coerce(Param("low", "float", 0, ""), data.get("low", default.low), f"{field}.low")
    high = coerce(Param("high", "float", 0, ""), data.get("high", default.high), f"{field}.high")
    n = coerce(Param("n", "int", 0, ""), data.get("n", default.n), f"{field}.n")
    log = coerce(Param("log", "bool", False, ""), data.get("log", default.log), f"{field}.log")
    if not 2 <= n <= side:
        raise ConfigError(f"{field}.n", f"a sweep grid has 2 to {side} values per axis, got {n}")
    if not low < high:
        raise ConfigError(f"{field}.high", f"needs low < high, got {low:g} and {high:g}")
    if log and low <= 0:
        raise ConfigError(f"{field}.low", f"a log axis needs low > 0, got {low:g}")
    if max(abs(low), abs(high)) > 1e6:
        raise ConfigError(f"{field}.high", "values must be within ±1e6")
    return Axis(param, low, high, n, log)


def check_map_config(config: Config, what: str) -> None:
    """A map's base run: an elementwise optimizer, one plain parameter, constant hyperparameters, ≤ 2000 steps."""
    spec = config.optimizer_spec
    if not spec.elementwise:
        raise ConfigError("optimizer.name", f"{spec.name} couples the points of a batch ({spec.note}); "
                          f"{what} need an elementwise optimizer")
    if config.scheduler is not None:
        raise ConfigError("scheduler", f"{what} run with constant hyperparameters; remove the lr scheduler")
    if config.optimizer.groups is not None:
        raise ConfigError("optimizer.groups", f"{what} use one parameter (x, y) without per-group options")
    if config.problem.noise > 0:
        raise ConfigError("problem.noise", f"{what} are deterministic; set the gradient noise to 0")
    if config.steps > MAX_MAP_STEPS:
        raise ConfigError("steps", f"{what} run at most {MAX_MAP_STEPS} steps, got {config.steps}")


def parse_sweep(data: Any) -> Sweep:
    """Validate a sweep's JSON (config, x, y, tol); every error is a ConfigError naming its field."""
    if isinstance(data, Sweep):
        data = data.to_dict()
    if not isinstance(data, dict):
        raise ConfigError("", "expected an object with config, x, y, tol")
    extra = [k for k in data if k not in ("config", "x", "y", "tol")]
    if extra:
        raise ConfigError(extra[0], "unknown field; expected one of: config, x, y, tol")
    config = parse_config(data.get("config", {}))
    check_map_config(config, "sweeps")
    if config.problem.starts is not None:
        raise ConfigError("problem.starts", "a sweep runs from one start point; use problem.start")
    allowed = sweep_params(config.optimizer.name)
    x = _axis(data.get("x", {}), "x", allowed, Axis(), MAX_SWEEP_SIDE)
    y_default = default_axis(config, next((p for p in ("momentum", "betas[0]", "weight_decay", "alpha") if p in allowed),
                                          allowed[-1]))
    y = _axis(data.get("y", {}), "y", allowed, y_default, MAX_SWEEP_SIDE)
    if x.param == y.param:
        raise ConfigError("y.param", f"the two axes must sweep different hyperparameters (both are {x.param})")
    tol = coerce(Param("tol", "float", 0, ""), data.get("tol", 1e-6), "tol")
    if not tol > 0:
        raise ConfigError("tol", f"the tolerance must be > 0, got {tol:g}")
    sweep = Sweep(config, x, y, tol)
    _check_cells(sweep)
    return sweep


def default_axis(config: Config, param: str, n: int = 32) -> Axis:
    """A range for sweeping ``param`` that torch accepts: the hyperparameter's UI range, else a band around its value."""
    spec = config.optimizer_spec
    p = spec.param(param.split("[")[0])
    base = float(_get(config.optimizer.options, param))
    low = p.low if p.low is not None else 0.0
    high = p.high if p.high is not None else max(1.0, 2 * base)
    candidates = [(low, high, bool(p.log and low > 0))]
    if base > 0:
        candidates.append((base / 2, base * 1.5, False))
    for lo, hi, log in candidates:
        axis = Axis(param, lo, hi, n, log)
        opts = dict(config.optimizer.options)
        if all(rule.ok(_set(opts, param, float(v))) for v in (lo, hi) for rule in spec.rules):
            return axis
    return Axis(param, base, base * 1.01 + 1e-9, n, False)


def cell_options(sweep: Sweep) -> list[dict]:
    """torch options of every cell, row-major: cell (i, j) has y value i and x value j."""
    base = dict(sweep.config.optimizer.options)
    out = []
    for yv in sweep.y.values():
        row = _set(base, sweep.y.param, float(yv))
        out += [_set(row, sweep.x.param, float(xv)) for xv in sweep.x.values()]
    return out


def _check_cells(sweep: Sweep) -> None:
    """torch's own checks on every distinct value of each axis (the rules involve one hyperparameter at a time)."""
    spec = sweep.config.optimizer_spec
    base = dict(sweep.config.optimizer.options)
    for axis, field in ((sweep.x, "x"), (sweep.y, "y")):
        for v in axis.values():
            opts = _set(base, axis.param, float(v))
            for rule in spec.rules:
                if not rule.ok(opts):
                    raise ConfigError(field, f"at {axis.param} = {v:.4g}: {rule.message(opts)}")


def cell_config(sweep: Sweep, i: int, j: int) -> Config:
    """The single run of cell (i, j): the Explorer can open it, and tests run it through torch.optim."""
    opts = _set(_set(dict(sweep.config.optimizer.options), sweep.y.param, float(sweep.y.values()[i])),
                sweep.x.param, float(sweep.x.values()[j]))
    data = sweep.config.to_dict()
    data["optimizer"]["options"] = {k: list(v) if isinstance(v, tuple) else v for k, v in opts.items()}
    return parse_config(data)


# -- running a sweep -------------------------------------------------------------------------------

@dataclass
class SweepResult:
    """Every cell's outcome; arrays are (ny, nx) with row i ↔ y value i and column j ↔ x value j."""

    sweep: Sweep
    xs: np.ndarray
    ys: np.ndarray
    final_loss: np.ndarray      # f(final) − f* (f itself when f* is unknown); NaN where the run diverged
    steps_to_tol: np.ndarray    # first step with f − f* ≤ tol; NaN if never
    diverged_at: np.ndarray     # step at which the run left the finite numbers or the domain; -1 never
    finals: np.ndarray          # (ny, nx, 2) final points
    f_star: float | None
    method: str
    seconds: float

    def best(self) -> tuple[int, int] | None:
        ok = np.isfinite(self.final_loss)
        if not ok.any():
            return None
        steps = np.where(np.isfinite(self.steps_to_tol), self.steps_to_tol, np.inf)
        key = np.lexsort((np.where(ok, self.final_loss, np.inf).ravel(), steps.ravel()))
        i, j = divmod(int(key[0]), len(self.xs))
        return i, j


def f_star_of(surface) -> float | None:
    """The lowest listed minimum value, so losses can be shown as f − f* on a log scale."""
    vals = [m.value for m in surface.minima if m.kind != "saddle"]
    return min(vals) if vals and surface.bounded_below else None


def run_sweep(sweep: Sweep | dict, on_progress: Progress | None = None) -> SweepResult:
    """All cells at once. Optimizers with a vectorised rule run as one (K, 2) batch with per-cell hyperparameters;
    the others run through torch.optim itself with one parameter group per cell (slower, capped)."""
    sweep = sweep if isinstance(sweep, Sweep) else parse_sweep(sweep)
    t0 = time.perf_counter()
    config = sweep.config
    surface = surface_of(config)
    options = cell_options(sweep)
    k, n = len(options), config.steps
    name = config.optimizer.name
    vectorised = name in RULES
    # SparseAdam also turns every gradient into a sparse tensor: ≈ 30× the cost per cell
    cap = MAX_GROUPS_WORK // (30 if config.optimizer_spec.sparse_grad else 1)
    if not vectorised and k * n > cap:
        raise ConfigError("x.n", f"{name} has no vectorised sweep, so its {k} cells run one torch group each; keep "
                          f"cells × steps ≤ {cap:,} (now {k * n:,})")
    start = torch.as_tensor(starts_of(config)[0], dtype=torch.float64)
    (x0, x1), (y0, y1) = surface.domain
    centre = torch.tensor([(x0 + x1) / 2, (y0 + y1) / 2], dtype=torch.float64)
    far = FAR * max(x1 - x0, y1 - y0, 1e-12)
    f_star = f_star_of(surface)
    target = sweep.tol + (f_star if f_star is not None else 0.0)

    if vectorised:
        init, rule = RULES[name]
        h = cells_of(name, options)
        p = start.repeat(k, 1)
        state = init(p, h)

        def step(g: torch.Tensor, t: int) -> None:
            rule(p, g, state, h, t)

        def positions() -> torch.Tensor:
            return p
    else:
        params = [start.clone().requires_grad_(True) for _ in range(k)]
        opt = config.optimizer_spec.cls([{"params": [q], **o} for q, o in zip(params, options, strict=True)])
        sparse = config.optimizer_spec.sparse_grad

        def step(g: torch.Tensor, t: int) -> None:
            for q, gi in zip(params, g, strict=True):
                q.grad = gi.to_sparse() if sparse else gi.clone()
            opt.step()

        def positions() -> torch.Tensor:
            return torch.stack([q.detach() for q in params])

    diverged = torch.full((k,), -1, dtype=torch.int64)
    reached = torch.full((k,), -1, dtype=torch.int64)
    every = max(1, n // 50)
    with torch.no_grad():
        for t in range(1, n + 1):
            P = positions()
            F, GX, GY = surface.value_and_grad_batch(P[:, 0], P[:, 1])
            reached = torch.where((reached < 0) & (diverged < 0) & (F <= target), t - 1, reached)
            bad_loss = ~torch.isfinite(F)
            step(torch.stack((GX, GY), dim=1), t)
            P = positions()
            bad = bad_loss | ~torch.isfinite(P).all(dim=1) | ((P - centre).abs() > far).any(dim=1)
            diverged = torch.where((diverged < 0) & bad, t, diverged)
            if on_progress is not None and (t % every == 0 or t == n):
                on_progress(t / n)
        P = positions()
        F = surface.value_and_grad_batch(P[:, 0], P[:, 1])[0]
        reached = torch.where((reached < 0) & (diverged < 0) & (F <= target), n, reached)
    ny, nx = sweep.y.n, sweep.x.n
    div = diverged.numpy().reshape(ny, nx)
    final = (F.numpy() - (f_star or 0.0)).reshape(ny, nx)
    final = np.where(div >= 0, np.nan, final)
    steps = np.where(reached.numpy() >= 0, reached.numpy(), np.nan).astype(np.float64).reshape(ny, nx)
    method = "vectorised torch.optim rule (one batch)" if vectorised else "torch.optim, one parameter group per cell"
    return SweepResult(sweep, sweep.x.values(), sweep.y.values(), final, steps, div, P.numpy().reshape(ny, nx, 2),
                       f_star, method, time.perf_counter() - t0)
