"""Runs real torch.optim (and its lr schedulers) on a surface, recording every step into a Trace."""
from __future__ import annotations

import functools
import json
import math
import threading
import time
import warnings
from typing import Any, Callable, Iterable

import numpy as np
import torch

from .build import DTYPE, make_optimizer, scheduler_stepper
from .config import Config, ConfigError, parse_config
from .optimizers import momentum_of
from .trace import Trace

FAR = 1e4           # a point this many domain-widths from the domain's centre has diverged
NON_ELEMENTWISE_MAX_STARTS = 64
# Closure work in one run, in evaluations weighted by LBFGS's stored history (its two-loop recursion costs
# about one evaluation per 8 stored pairs): bounds max_iter/max_eval/history_size chosen to stall a server.
MAX_CLOSURE_WORK = 40_000
OnStep = Callable[[int, int], None]


# -- problem ---------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=64)
def _surface(kind: str, key: str, options_json: str):
    from .surfaces import expression_surface, get_surface

    options = json.loads(options_json)
    if kind == "expression":
        dom = options.get("domain")
        return expression_surface(key, **({"domain": tuple(map(tuple, dom))} if dom else {}))
    return get_surface(key, **options)


def surface_of(config: Config):
    """The Surface a config minimises (registry entry, quadratic with options, or a typed expression)."""
    p = config.problem
    if p.expression is not None:
        return _surface("expression", p.expression, json.dumps({"domain": p.domain}))
    return _surface("registry", p.surface, json.dumps(p.options, sort_keys=True))


def starts_of(config: Config) -> np.ndarray:
    p = config.problem
    if p.starts is not None:
        return np.asarray(p.starts, dtype=np.float64)
    return np.asarray([p.start if p.start is not None else surface_of(config).start], dtype=np.float64)


def _state_vector(value: Any, numel: int) -> list[float] | None:
    """One state entry as `numel` floats (scalars such as `step` are repeated), or None if it is not per-point."""
    if isinstance(value, torch.Tensor):
        size = value.numel()
        if size == numel:
            return value.tolist() if value.dim() == 1 else value.detach().reshape(-1).tolist()
        if size == 1:
            return [value.item()] * numel
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [float(value)] * numel
    return None


# -- the run ---------------------------------------------------------------------------------------

def run(config: Config | dict, on_step: OnStep | None = None, record: Iterable[str] | None = None) -> Trace:
    """Run the config with torch.optim and return its Trace. Never raises for a bad run: divergence and
    torch errors end the run with ``diverged_at`` and a message. An invalid config raises ConfigError."""
    if not isinstance(config, Config):
        config = parse_config(config)
    if config.problem.starts is not None:
        return _run_batched(config, on_step, record)
    return _run_single(config, on_step)


def _far_limit(surface) -> tuple[float, float, float]:
    (x0, x1), (y0, y1) = surface.domain
    span = max(x1 - x0, y1 - y0, 1e-12)
    return (x0 + x1) / 2, (y0 + y1) / 2, FAR * span


def autograd_value_and_grad(surface, x: float, y: float) -> tuple[float, float, float]:
    """f, ∂f/∂x, ∂f/∂y by torch autograd, the way a plain loop's ``loss.backward()`` computes them. LBFGS runs on
    these: its line search and curvature pairs amplify a last-bit difference between gradient formulas (forward-mode
    duals round differently from autograd) to 1e-5 within a few steps, so it gets autograd's exact numbers."""
    xt = torch.tensor(x, dtype=DTYPE, requires_grad=True)
    yt = torch.tensor(y, dtype=DTYPE, requires_grad=True)
    f = surface.value(xt, yt)
    if not f.requires_grad:  # a formula in neither x nor y
        return f.item(), 0.0, 0.0
    gx, gy = torch.autograd.grad(f, (xt, yt), allow_unused=True)
    return f.item(), 0.0 if gx is None else gx.item(), 0.0 if gy is None else gy.item()


def noise_of(config: Config) -> torch.Tensor | None:
    """The mini-batch noise ξ₁ … ξₙ, (n, 2), drawn once from the config's seed (None without noise). A batched run
    adds the same ξₜ to every start, so start i of a batch is exactly the single run of start i with that seed."""
    sigma = config.problem.noise
    if not sigma > 0:
        return None
    gen = torch.Generator().manual_seed(config.seed)
    return (sigma * torch.randn((config.steps, 1, 2), generator=gen, dtype=DTYPE)).reshape(config.steps, 2)


class _WorkCap(Exception):
    """Raised inside the closure when a run has used its closure-work budget."""


def _point_access(params: list[torch.Tensor], spec, grouped: bool) -> tuple[Callable[[], tuple[float, float]], Callable[[float, float], None]]:
    """(read, write_grad): the point (x, y) held by the parameters, and how a gradient (gx, gy) is written into them."""
    if grouped:
        px, py = params
        sx, sy = px.shape, py.shape

        def read() -> tuple[float, float]:
            return px.item(), py.item()

        def write_grad(gx: float, gy: float) -> None:
            px.grad = torch.tensor([gx], dtype=DTYPE).reshape(sx)
            py.grad = torch.tensor([gy], dtype=DTYPE).reshape(sy)
    elif spec.point_shape == "matrix":
        (pxy,) = params

        def read() -> tuple[float, float]:
            x, y = pxy.detach().reshape(-1).tolist()
            return x, y

        def write_grad(gx: float, gy: float) -> None:
            pxy.grad = torch.tensor([[gx, gy]], dtype=DTYPE)
    else:
        (pxy,) = params

        def read() -> tuple[float, float]:
            x, y = pxy.tolist()
            return x, y

        def write_grad(gx: float, gy: float) -> None:
            pxy.grad = torch.tensor([gx, gy], dtype=DTYPE)
    if not spec.sparse_grad:
        return read, write_grad
    dense_write = write_grad

    def sparse_write(gx: float, gy: float) -> None:
        dense_write(gx, gy)
        for p in params:
            p.grad = p.grad.to_sparse()

    return read, sparse_write


class _Closure:
    """The closure handed to ``optimizer.step``: the loss at the parameters (plus step t's noise, as a plain loop adds
    params · ξₜ), its gradient written into ``.grad``. It counts the step's calls and the run's closure work (LBFGS's
    weighted by its stored history), raises _WorkCap past the cap, and keeps the step's first evaluation and, for
    LBFGS, every point it probed."""

    def __init__(self, read, write_grad, value_and_grad, noise: list | None, work_cap: float, lbfgs_state: dict | None,
                 history: int):
        self.read, self.write_grad, self.value_and_grad = read, write_grad, value_and_grad
        self.noise, self.work_cap, self.lbfgs_state, self.history = noise, work_cap, lbfgs_state, history
        self.work = 0.0
        self.begin(0)

    def begin(self, t: int) -> None:
        """Before the step that uses noise row t (0-based)."""
        self.t, self.calls, self.first, self.probes = t, 0, None, []

    def __call__(self) -> float:
        x, y = self.read()
        f, gx, gy = self.value_and_grad(x, y)
        fo = f
        if self.noise is not None:
            xi = self.noise[self.t]
            fo = f + (x * xi[0] + y * xi[1])  # as torch sums (params · ξ) in a plain loop
            gx += xi[0]
            gy += xi[1]
        self.write_grad(gx, gy)
        if self.lbfgs_state is None:
            self.work += 1.0
        else:  # torch keeps the growing history in a local during step(): bound it by the calls so far
            self.work += 1.0 + min(self.history, len(self.lbfgs_state.get("old_dirs", ())) + self.calls) / 8
            self.probes.append([x, y])
        if self.work > self.work_cap:
            raise _WorkCap
        if self.calls == 0:
            self.first = (f, fo, gx, gy)
        self.calls += 1
        return fo


class _Recorder:
    """What a single run keeps: per step the lr and momentum of each group, the loss and gradient at the current point,
    the closure's calls (and LBFGS's probes), the new point and ``optimizer.state``; and why it stopped."""

    def __init__(self, start: list[float], probes: bool):
        self.positions = [start]
        self.losses: list[float] = []
        self.grads: list[list[float]] = []
        self.lrs: list[list[float]] = []
        self.moms: list[list[float]] = []
        self.evals: list[int] = []
        self.state_rows: list[dict[str, list[float]]] = []
        self.probes: list[list[list[float]]] | None = [] if probes else None
        self.diverged_at: int | None = None
        self.message = ""

    @staticmethod
    def hyper(groups: list[dict]) -> tuple[list[float], list[float]]:
        """Each group's lr and momentum/β₁ as the coming step uses them."""
        return [_lr_of(g) for g in groups], [math.nan if (m := momentum_of(g)) is None else m for g in groups]

    def record_step(self, hyper: tuple[list[float], list[float]], loss: float, grad: list[float], calls: int, probes: list,
                    point: list[float]) -> None:
        """A step that went through: the lr and momentum it used, the loss and gradient where it started (the first
        evaluation, without noise), its closure calls, the new point."""
        self.losses.append(loss)
        self.lrs.append(hyper[0])
        self.moms.append(hyper[1])
        self.grads.append(grad)
        self.evals.append(calls)
        if self.probes is not None:
            self.probes.append(probes)
        self.positions.append(point)

    def record_state(self, row: dict[str, list[float]]) -> None:
        """optimizer.state after the step, one value per coordinate."""
        self.state_rows.append(row)

    def stop(self, at: int, reason: str) -> None:
        """The run ends early: ``diverged_at`` and the reason, in words."""
        self.diverged_at, self.message = at, reason

    def trace(self, config: Config, value_and_grad, warnings_seen: list[str], seconds: float) -> Trace:
        """The typed record of what was kept, with the loss at the point where the run ended."""
        m = len(self.positions) - 1
        losses = [*self.losses, value_and_grad(*self.positions[-1])[0]]
        names = sorted({k for r in self.state_rows for k in r})
        state = {k: np.array([r.get(k, [math.nan, math.nan]) for r in self.state_rows], dtype=np.float64).reshape(m, 2)
                 for k in names}
        g = len(config.group_names)
        return Trace(
            config=config, groups=config.group_names,
            positions=np.array(self.positions, dtype=np.float64), losses=np.array(losses, dtype=np.float64),
            grads=np.array(self.grads, dtype=np.float64).reshape(m, 2),
            lrs=np.array(self.lrs, dtype=np.float64).reshape(m, g), momentums=np.array(self.moms, dtype=np.float64).reshape(m, g),
            state=state, evaluations=np.array(self.evals, dtype=np.int64), diverged_at=self.diverged_at,
            message=self.message or f"{m} steps, final loss {losses[-1]:.6g}", warnings=tuple(dict.fromkeys(warnings_seen)),
            probes=None if self.probes is None else [np.array(p, dtype=np.float64).reshape(-1, 2) for p in self.probes],
            seconds=seconds,
        )


def _state_row(opt: torch.optim.Optimizer, params: list[torch.Tensor], grouped: bool) -> dict[str, list[float]]:
    """optimizer.state per coordinate: with groups each fills its own coordinate, and an entry a group lacks stays NaN."""
    if not grouped:
        return {k: vec for k, v in opt.state[params[0]].items() if (vec := _state_vector(v, 2)) is not None}
    row: dict[str, list[float]] = {}
    for i, p in enumerate(params):
        for k, v in opt.state[p].items():
            vec = _state_vector(v, 1)
            if vec is not None:
                row.setdefault(k, [math.nan, math.nan])[i] = vec[0]
    return row


def _graph_grad(params: list[torch.Tensor], surface, write_grad: Callable[[float, float], None]) -> Callable[[float, float], None]:
    """For optimizers that differentiate the gradient again (AdaHessian, SophiaH): ``.grad`` keeps autograd's graph, as
    after ``loss.backward(create_graph=True)``. Its value is the engine's gradient (noise included): the graph's gradient
    plus a constant that is the difference, so Hessian-vector products through it are the surface's."""
    def write(gx: float, gy: float) -> None:
        write_grad(gx, gy)
        given = [p.grad for p in params]
        flat = torch.cat([p.reshape(-1) for p in params])
        graph = torch.autograd.grad(surface.value(flat[0], flat[1]), params, create_graph=True)
        for p, g, v in zip(params, graph, given):
            p.grad = g + (v - g.detach())
    return write


def _left(surface, x: float, y: float, cx: float, cy: float, far: float) -> str:
    """Why the new point ends the run ('' if it doesn't): not finite, or far outside the plotted domain."""
    if not (math.isfinite(x) and math.isfinite(y)):
        return f"the new point is not finite ({x:.3g}, {y:.3g})"
    if abs(x - cx) > far or abs(y - cy) > far:
        return (f"the point ({x:.3g}, {y:.3g}) left the plotted domain by more than {FAR:g}× its width"
                + ("" if surface.bounded_below else " (this surface is unbounded below)"))
    return ""


# Some pytorch-optimizer classes draw from torch's and numpy's global generators (Hessian probes, Kron's updates). Their
# runs hold this lock, seed both from the config and give the previous states back: a run is the same whatever other
# sessions run meanwhile, and it leaves nothing behind in the process's generators.
_GLOBAL_RNG = threading.Lock()


def _run_single(config: Config, on_step: OnStep | None, share: float = 1.0) -> Trace:
    if config.optimizer_spec.source == "torch":
        return _run_steps(config, on_step, share)
    with _GLOBAL_RNG, torch.random.fork_rng(devices=[]):
        state = np.random.get_state()
        try:
            torch.manual_seed(config.seed)
            np.random.seed(config.seed)
            return _run_steps(config, on_step, share)
        finally:
            np.random.set_state(state)


def _run_steps(config: Config, on_step: OnStep | None, share: float = 1.0) -> Trace:
    t0 = time.perf_counter()
    spec = config.optimizer_spec
    surface = surface_of(config)
    lbfgs = spec.name == "LBFGS" or spec.own_class is torch.optim.LBFGS    # pytorch-optimizer re-exports torch's LBFGS
    # LBFGS and pytorch-optimizer's classes run on autograd's numbers, as the plain loop: some branch on the loss (EmoNavi)
    vg = functools.partial(autograd_value_and_grad, surface) if lbfgs or spec.source != "torch" else surface.value_and_grad
    n = config.steps
    start = starts_of(config)
    noise = noise_of(config)
    cx, cy, far = _far_limit(surface)
    grouped = config.optimizer.groups is not None
    rec = _Recorder(list(map(float, start[0])), probes=lbfgs)

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        params, opt = make_optimizer(config, torch.as_tensor(start, dtype=DTYPE))
        sch, sched_step = scheduler_stepper(config, opt)
        groups = opt.param_groups
        read, write_grad = _point_access(params, spec, grouped)
        if spec.needs_graph:
            write_grad = _graph_grad(params, surface, write_grad)
        closure = _Closure(read, write_grad, vg, None if noise is None else noise.tolist(),
                           MAX_CLOSURE_WORK * share,  # read at call time, so a test can lower the cap
                           opt.state[params[0]] if lbfgs else None, groups[0].get("history_size", 0))
        every = max(1, n // 100)
        for t in range(1, n + 1):
            hyper = rec.hyper(groups)
            closure.begin(t - 1)
            try:
                opt.step(closure)
            except _WorkCap:
                rec.stop(t, f"stopped at step {t}: the run reached optviz's cap on closure evaluations (each LBFGS "
                            "step() may call the closure max_eval times; lower max_iter, history_size or steps)")
                break
            except Exception as e:  # torch refused mid-run: end cleanly with its message
                rec.stop(t, f"torch stopped at step {t}: {_error_line(e)}")
                break
            f, fo, gx, gy = closure.first
            if not (math.isfinite(fo) and math.isfinite(gx) and math.isfinite(gy)):
                rec.stop(t, f"diverged at step {t}: the loss or gradient at the current point is not finite "
                            f"(loss {fo:.3g}, gradient ({gx:.3g}, {gy:.3g}))")
                break
            x, y = read()
            if why := _left(surface, x, y, cx, cy, far):
                rec.stop(t, f"diverged at step {t}: {why}")
                break
            rec.record_step(hyper, f, [gx, gy], closure.calls, closure.probes, [x, y])
            rec.record_state(_state_row(opt, params, grouped))
            try:
                sched_step(t, fo)
            except Exception as e:  # torch's scheduler refused mid-run (e.g. StepLR(step_size=0)): keep the steps made
                rec.stop(t + 1, f"torch's lr scheduler stopped after step {t}: {_error_line(e)}")
                break
            if on_step is not None and (t % every == 0 or t == n):
                on_step(t, n)
        caught = [str(w.message).splitlines()[0] for w in seen]
    del sch
    return rec.trace(config, vg, caught, time.perf_counter() - t0)


def _run_batched(config: Config, on_step: OnStep | None, record: Iterable[str] | None) -> Trace:
    """K independent runs as one (K, 2) tensor (elementwise optimizers), or one by one for the others."""
    spec = config.optimizer_spec
    starts = starts_of(config)
    k = len(starts)
    if not spec.elementwise:
        if k > NON_ELEMENTWISE_MAX_STARTS:
            raise ConfigError("problem.starts", f"{spec.name} couples the points of a batch ({spec.note}); "
                              f"it runs at most {NON_ELEMENTWISE_MAX_STARTS} starts one by one")
        return _stack([_run_single(_single(config, s), None, 1.0 / k) for s in starts], config)
    t0 = time.perf_counter()
    record = set(record) if record is not None else {"positions", "losses"}
    final_only = "final" in record
    surface = surface_of(config)
    vgb = surface.value_and_grad_batch
    n = config.steps
    noise = noise_of(config)
    cx, cy, far = _far_limit(surface)
    grouped = config.optimizer.groups is not None
    sparse = spec.sparse_grad

    nrec = 2 if final_only else n + 1
    pos = torch.empty((nrec, k, 2), dtype=DTYPE)
    loss = torch.empty((nrec, k), dtype=DTYPE)
    grads = torch.empty((n, k, 2), dtype=DTYPE) if "grads" in record else None
    lrs = np.empty((n, len(config.group_names)))
    moms = np.empty((n, len(config.group_names)))
    caught: list[str] = []
    stopped = ""
    with warnings.catch_warnings(record=True) as wlist:
        warnings.simplefilter("always")
        params, opt = make_optimizer(config, torch.as_tensor(starts, dtype=DTYPE), batched=True)
        sch, sched_step = scheduler_stepper(config, opt)
        groups = opt.param_groups
        if grouped:
            px, py = params
            X, Y = px.detach().reshape(k), py.detach().reshape(k)
        else:
            (pxy,) = params
            X, Y = pxy.detach()[:, 0], pxy.detach()[:, 1]
        pos[0, :, 0] = X
        pos[0, :, 1] = Y
        current: dict[str, Any] = {}

        def closure():
            F, GX, GY = vgb(X, Y)
            current["F"] = F
            Fo = F
            if noise is not None:  # the single run's ξₜ, for every start
                xi0, xi1 = noise[current["t"]]
                Fo = F + (X * xi0 + Y * xi1)
                GX = GX + xi0
                GY = GY + xi1
            current["Fo"] = Fo
            if grouped:
                px.grad, py.grad = GX.reshape(px.shape), GY.reshape(py.shape)
            else:
                pxy.grad = torch.stack((GX, GY), dim=1)
            if sparse:
                for p in params:
                    p.grad = p.grad.to_sparse()
            if grads is not None:
                grads[current["t"], :, 0] = GX
                grads[current["t"], :, 1] = GY
            return Fo.sum()

        every = max(1, n // 100)
        for t in range(1, n + 1):
            for i, g in enumerate(groups):
                lrs[t - 1, i] = _lr_of(g)
                m = momentum_of(g)
                moms[t - 1, i] = math.nan if m is None else m
            current["t"] = t - 1
            opt.step(closure)
            if not final_only:
                loss[t - 1].copy_(current["F"])
                if grouped:
                    pos[t, :, 0], pos[t, :, 1] = X, Y
                else:
                    pos[t].copy_(pxy.detach())
            if config.scheduler is not None:
                fo = current["Fo"]
                try:
                    sched_step(t, float(fo[torch.isfinite(fo)].mean()) if bool(torch.isfinite(fo).any()) else math.inf)
                except Exception as e:  # torch's scheduler refused mid-run: the steps made stay, the rest is NaN
                    stopped = f"; torch's lr scheduler stopped after step {t}: {_error_line(e)}"
                    break
            if on_step is not None and (t % every == 0 or t == n):
                on_step(t, n)
        F_end = vgb(X, Y)[0]
        if final_only:
            loss[0] = vgb(pos[0, :, 0], pos[0, :, 1])[0]
            pos[1, :, 0], pos[1, :, 1] = X, Y
        loss[-1] = F_end
        if stopped:
            rest = slice(1, None) if final_only else slice(t + 1, None)
            pos[rest], loss[rest], lrs[t:], moms[t:] = math.nan, math.nan, math.nan, math.nan
        caught = [str(w.message).splitlines()[0] for w in wlist]
    del sch
    P, L = pos.numpy(), loss.numpy()
    diverged = _first_bad_rows(P, L, cx, cy, far)
    if not final_only:
        # a row that diverged at step t keeps its finite prefix; the rest is NaN
        for k_ in np.flatnonzero(diverged >= 0):
            P[diverged[k_]:, k_] = np.nan
            L[diverged[k_]:, k_] = np.nan
    nd = int((diverged >= 0).sum())
    return Trace(
        config=config, groups=config.group_names, positions=P, losses=L,
        grads=None if grads is None else grads.numpy(), lrs=lrs, momentums=moms, state={},
        evaluations=np.ones(n, dtype=np.int64), diverged_at=diverged,
        message=f"{k} starts × {n} steps; {nd} diverged{stopped}", warnings=tuple(dict.fromkeys(caught)),
        seconds=time.perf_counter() - t0,
    )


def _lr_of(group: dict) -> float:
    """A group's lr (NaN where the optimizer keeps none, e.g. pytorch-optimizer's A2Grad)."""
    lr = group.get("lr")
    return math.nan if lr is None else float(lr)


def _error_line(e: BaseException) -> str:
    return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"


def _first_bad_rows(P: np.ndarray, L: np.ndarray, cx: float, cy: float, far: float) -> np.ndarray:
    """Per start, the first recorded step whose point is non-finite or far away (-1: never). Only rows that end
    badly are searched, so a batch of well-behaved runs costs one check of the last row."""
    def bad(p, loss):
        return ~np.isfinite(p).all(axis=-1) | ~np.isfinite(loss) | (np.abs(p[..., 0] - cx) > far) | (np.abs(p[..., 1] - cy) > far)

    out = np.full(P.shape[1], -1, dtype=np.int64)
    rows = np.flatnonzero(bad(P[-1], L[-1]))
    if rows.size:
        out[rows] = bad(P[:, rows], L[:, rows]).argmax(axis=0)
    return out


def _single(config: Config, start) -> Config:
    from dataclasses import replace

    return replace(config, problem=replace(config.problem, starts=None, start=(float(start[0]), float(start[1]))))


def _stack(traces: list[Trace], config: Config) -> Trace:
    """Batched result from single runs of different lengths (padded with NaN after divergence)."""
    n = config.steps
    k = len(traces)
    P = np.full((n + 1, k, 2), np.nan)
    L = np.full((n + 1, k), np.nan)
    div = np.full(k, -1, dtype=np.int64)
    for i, tr in enumerate(traces):
        m = tr.steps
        P[: m + 1, i] = tr.positions
        L[: m + 1, i] = tr.losses
        if tr.diverged_at is not None:
            div[i] = tr.diverged_at
    t0 = traces[0]
    lrs = np.full((n, len(config.group_names)), np.nan)
    lrs[: t0.steps] = t0.lrs
    moms = np.full_like(lrs, np.nan)
    moms[: t0.steps] = t0.momentums
    return Trace(config=config, groups=config.group_names, positions=P, losses=L, grads=None, lrs=lrs,
                 momentums=moms, state={}, evaluations=np.ones(n, dtype=np.int64), diverged_at=div,
                 message=f"{k} starts × {n} steps, run one by one; {int((div >= 0).sum())} diverged",
                 warnings=tuple(dict.fromkeys(w for tr in traces for w in tr.warnings)),
                 seconds=sum(tr.seconds for tr in traces))
