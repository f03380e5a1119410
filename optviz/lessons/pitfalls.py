"""Pitfalls Lab: eight classic torch.optim mistakes, each as a right and a wrong snippet run for real side by side.

Every runner executes the loop its snippets show (same lines, plus recording) and returns the series that tell
the two apart, torch's own warning or error text where there is one, and a sentence with this run's numbers.
"""
from __future__ import annotations

import difflib
import math
import textwrap
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch.optim import lr_scheduler

from optviz.core.surfaces import quadratic_surface

DTYPE = torch.float64
BOWL = (1.0, 10.0)          # eigenvalues of the quadratic bowl the 2-D pitfalls run on
BOWL_START = (-2.5, 2.0)


# -- records -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Snippet:
    label: str
    code: str
    role: str = "wrong"       # "right" | "wrong" | "other" (a different form, not a mistake)
    marks: tuple[int, ...] | None = None   # lines to highlight (0-based) when a line diff would mislead


@dataclass(frozen=True)
class Series:
    """One quantity over steps, one array per snippet (runs that stopped early are shorter)."""

    title: str
    y_label: str
    values: tuple[np.ndarray, ...]
    log: bool = False
    x_label: str = "optimizer step"
    steps_from: int = 1        # x of values[i][0]


@dataclass(frozen=True)
class Outcome:
    series: tuple[Series, ...]
    finding: str                              # one sentence with this run's numbers
    messages: tuple[tuple[str, str], ...] = ()  # (snippet label, torch's own warning or error text)


@dataclass(frozen=True)
class Pitfall:
    key: str
    title: str
    snippets: tuple[Snippet, ...]            # snippets[0] is the right one
    difference: str                          # the changed line(s), in words
    why: str                                 # one sentence
    run: Callable[[], Outcome]

    @property
    def right(self) -> Snippet:
        return self.snippets[0]

    def changed_lines(self, i: int) -> set[int]:
        """0-based lines of snippet i that are not in the right snippet (for i = 0: not in any wrong one)."""
        if self.snippets[i].marks is not None:
            return set(self.snippets[i].marks)
        base = self.snippets[0].code.splitlines()
        if i == 0:
            out: set[int] = set()
            for s in self.snippets[1:]:
                out |= _changed(s.code.splitlines(), base)
            return out
        return _changed(base, self.snippets[i].code.splitlines())


def _changed(a: list[str], b: list[str]) -> set[int]:
    """Lines of b that a does not have."""
    out: set[int] = set()
    for tag, _, _, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag in ("replace", "insert"):
            out.update(range(j1, j2))
    return out


# -- shared toys -------------------------------------------------------------------------------------

def _regression(seed: int = 0, n: int = 64, batch: int = 8) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Mini-batches of a least-squares problem y = X·(2, −1) + noise, fixed by the seed."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 2, generator=g, dtype=DTYPE)
    y = X @ torch.tensor([2.0, -1.0], dtype=DTYPE) + 0.1 * torch.randn(n, generator=g, dtype=DTYPE)
    return [(X[i:i + batch], y[i:i + batch]) for i in range(0, n, batch)]


def _bowl():
    return quadratic_surface(BOWL, 0.0, (0.0, 0.0))


def _point() -> torch.Tensor:
    return torch.tensor(BOWL_START, dtype=DTYPE, requires_grad=True)


def _f(surface, p: torch.Tensor) -> torch.Tensor:
    return surface.value(p[0], p[1])


def _arr(v) -> np.ndarray:
    return np.asarray(v, dtype=np.float64)


# -- 1. zero_grad ------------------------------------------------------------------------------------

ZERO_GRAD_RIGHT = """for x, y in batches:
    optimizer.zero_grad()
    loss = ((x @ w - y) ** 2).mean()
    loss.backward()
    optimizer.step()"""
ZERO_GRAD_WRONG = ZERO_GRAD_RIGHT.replace("optimizer.zero_grad()", "# no optimizer.zero_grad() here")


def run_zero_grad(epochs: int = 12, lr: float = 0.002) -> Outcome:
    batches = _regression()
    norms, losses = [], []
    for clear in (True, False):
        w = torch.zeros(2, dtype=DTYPE, requires_grad=True)
        optimizer = torch.optim.SGD([w], lr=lr)
        gn, ls = [], []
        for _epoch in range(epochs):
            for x, y in batches:
                if clear:
                    optimizer.zero_grad()
                loss = ((x @ w - y) ** 2).mean()
                loss.backward()
                gn.append(w.grad.norm().item())
                optimizer.step()
                ls.append(loss.item())
        norms.append(_arr(gn))
        losses.append(_arr(ls))
    k = min(3 * len(batches), len(norms[0]))
    late = losses[1][len(losses[1]) // 2:]
    return Outcome(
        (Series("‖w.grad‖ that step() uses", "gradient norm", tuple(norms), log=True),
         Series("mini-batch loss", "loss", tuple(losses), log=True)),
        f"In {k} steps the gradient step() sees grows from {norms[1][0]:.3g} to {norms[1][k - 1]:.3g} without zero_grad(), "
        f"while with it it stays the batch's own ({norms[0][k - 1]:.3g}): .grad is the sum of every batch so far. That sum "
        f"acts like momentum that never decays, so the loss keeps swinging between {late.min():.2g} and {late.max():.2g}.")


# -- 2. scheduler.step() per batch -------------------------------------------------------------------

_EPOCH = "for epoch in range(epochs):\n"
_BATCHES = textwrap.indent(ZERO_GRAD_RIGHT, "    ")  # the batch loop inside the epoch loop
PER_BATCH_RIGHT = f"{_EPOCH}{_BATCHES}\n    scheduler.step()"
PER_BATCH_WRONG = f"{_EPOCH}{_BATCHES}\n        scheduler.step()"
STEP_LR = {"lr": 0.05, "step_size": 2, "gamma": 0.5}


def scheduler_lrs(per_batch: bool, epochs: int = 6) -> tuple[np.ndarray, int]:
    """The lr each optimizer step used under StepLR(step_size=2, gamma=0.5), and the batches per epoch."""
    batches = _regression()
    w = torch.zeros(2, dtype=DTYPE, requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=STEP_LR["lr"])
    scheduler = lr_scheduler.StepLR(optimizer, step_size=STEP_LR["step_size"], gamma=STEP_LR["gamma"])
    lrs = []
    for _epoch in range(epochs):
        for x, y in batches:
            optimizer.zero_grad()
            loss = ((x @ w - y) ** 2).mean()
            loss.backward()
            lrs.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            if per_batch:
                scheduler.step()
        if not per_batch:
            scheduler.step()
    return _arr(lrs), len(batches)


def run_per_batch() -> Outcome:
    right, spe = scheduler_lrs(False)
    wrong, _ = scheduler_lrs(True)
    k = 2
    return Outcome(
        (Series("lr used by each optimizer step", "lr", (right, wrong), log=True),),
        f"With {spe} batches per epoch, after {k} epochs the lr is {right[k * spe]:.3g} when stepped per epoch but "
        f"{wrong[k * spe]:.3g} per batch: γ was applied {spe}× as often (0.05·0.5^{k * spe // 2}).")


# -- 3. scheduler.step() before optimizer.step() -----------------------------------------------------

ORDER_RIGHT = PER_BATCH_RIGHT  # the right loop is the same: optimizer.step() per batch, scheduler.step() per epoch
ORDER_WRONG = f"{_EPOCH}    scheduler.step()\n{_BATCHES}"
WARMUP = {"lr": 0.05, "start_factor": 0.25, "total_iters": 3}


def order_lrs(scheduler_first: bool, epochs: int = 6) -> tuple[np.ndarray, list[str]]:
    """The lr of each epoch under a LinearLR warmup, and torch's warnings (caught, every time)."""
    batches = _regression()
    w = torch.zeros(2, dtype=DTYPE, requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        optimizer = torch.optim.SGD([w], lr=WARMUP["lr"])
        scheduler = lr_scheduler.LinearLR(optimizer, start_factor=WARMUP["start_factor"], total_iters=WARMUP["total_iters"])
        lrs = []
        for _epoch in range(epochs):
            if scheduler_first:
                scheduler.step()
            lrs.append(optimizer.param_groups[0]["lr"])
            for x, y in batches:
                optimizer.zero_grad()
                loss = ((x @ w - y) ** 2).mean()
                loss.backward()
                optimizer.step()
            if not scheduler_first:
                scheduler.step()
    return _arr(lrs), [str(c.message).strip() for c in caught]


def run_order() -> Outcome:
    right, _ = order_lrs(False)
    wrong, caught = order_lrs(True)
    return Outcome(
        (Series("lr of each epoch (LinearLR warmup)", "lr", (right, wrong), x_label="epoch", steps_from=0),),
        f"The warmup should start at {right[0]:.4g}; stepped first, the first epoch already runs at {wrong[0]:.4g}: "
        "the schedule's first value is skipped and every later one comes an epoch early.",
        tuple(("scheduler first", m) for m in caught))


# -- 4. step() without backward(), backward() twice ----------------------------------------------------

BACKWARD_RIGHT = """for t in range(steps):
    optimizer.zero_grad()
    loss = f(p)
    loss.backward()
    optimizer.step()"""
BACKWARD_NONE = """for t in range(steps):
    optimizer.zero_grad()
    loss = f(p)
    # no loss.backward() here
    optimizer.step()"""
BACKWARD_TWICE = """for t in range(steps):
    optimizer.zero_grad()
    loss = f(p)
    loss.backward(retain_graph=True)
    loss.backward()
    optimizer.step()"""


def backward_runs(lr: float = 0.12, steps: int = 40) -> tuple[list[np.ndarray], list[np.ndarray], str]:
    """Losses and points of the three loops, and torch's error when backward() runs twice without retain_graph."""
    f = _bowl()
    losses, paths = [], []
    for mode in ("once", "none", "twice"):
        p = _point()
        optimizer = torch.optim.SGD([p], lr=lr)
        ls, ps = [], [p.detach().tolist()]
        for _t in range(steps):
            optimizer.zero_grad()
            loss = _f(f, p)
            if mode == "once":
                loss.backward()
            elif mode == "twice":
                loss.backward(retain_graph=True)
                loss.backward()
            optimizer.step()
            ls.append(loss.item())
            ps.append(p.detach().tolist())
        losses.append(_arr(ls))
        paths.append(_arr(ps))
    p = _point()
    loss = _f(f, p)
    loss.backward()
    try:
        loss.backward()
        refused = ""
    except RuntimeError as e:
        refused = str(e).strip().splitlines()[0]
    return losses, paths, refused


def run_backward() -> Outcome:
    losses, paths, refused = backward_runs()
    moved = float(np.abs(paths[1] - paths[1][0]).max())
    return Outcome(
        (Series("loss before each step", "f(p)", tuple(losses), log=True),),
        f"Without backward() p.grad stays None and step() skips p: the point moved {moved:g}. "
        f"Two backward() calls double .grad, like lr 0.24 instead of 0.12: lr·λ = 2.4 > 2 on the steep axis, and the "
        f"loss grows from {losses[2][0]:.3g} to {losses[2][-1]:.3g}.",
        (("backward twice", "without retain_graph=True torch refuses the second call: " + refused),) if refused else ())


# -- 5. Adam(weight_decay) vs AdamW ------------------------------------------------------------------

ADAMW_RIGHT = """optimizer = torch.optim.AdamW(
    [p], lr=0.05, weight_decay=0.5)
for t in range(steps):
    optimizer.zero_grad()
    loss = f(p)
    loss.backward()
    optimizer.step()"""
ADAMW_WRONG = """optimizer = torch.optim.Adam(
    [p], lr=0.05, weight_decay=0.5)
for t in range(steps):
    optimizer.zero_grad()
    loss = f(p)
    loss.backward()
    optimizer.step()"""
DECAY_SURFACE = "50*(x - 1)**2 + 0.05*(y - 1)**2"   # steep in x, flat in y; minimum (1, 1)
DECAY = {"lr": 0.05, "weight_decay": 0.5}
DECAY_CHECKPOINTS = (300, 1000, 3000)   # steps the finding quotes; the run is as long as the last one
DECAY_NEAR = 1e-3                        # "at" the L2 minimum: within this in both coordinates


@dataclass(frozen=True)
class DecayRun:
    """One optimizer on DECAY_SURFACE: points (row 0 = start), the gradient of each step, and Adam's bias-corrected
    moments after it, m̂ = exp_avg/(1 − β₁ᵗ) and √v̂ = √(exp_avg_sq/(1 − β₂ᵗ)), exactly as torch's step() uses them."""

    path: np.ndarray
    grads: np.ndarray
    m_hat: np.ndarray
    sqrt_v_hat: np.ndarray
    eps: float
    beta2: float


def _decay_surface():
    from optviz.core.surfaces import expression_surface

    return expression_surface(DECAY_SURFACE, ((-0.5, 1.5), (-0.5, 1.5)))


def decay_runs(steps: int = DECAY_CHECKPOINTS[-1], lr: float = DECAY["lr"], wd: float = DECAY["weight_decay"]) -> list[DecayRun]:
    """AdamW and Adam with (coupled) weight_decay from (0, 0) on a surface steep in x and flat in y."""
    f = _decay_surface()
    out = []
    for cls in (torch.optim.AdamW, torch.optim.Adam):
        p = torch.zeros(2, dtype=DTYPE, requires_grad=True)
        optimizer = cls([p], lr=lr, weight_decay=wd)
        (beta1, beta2), eps = optimizer.param_groups[0]["betas"], optimizer.param_groups[0]["eps"]
        ps, gs, ms, vs = [p.detach().tolist()], [], [], []
        for t in range(1, steps + 1):
            optimizer.zero_grad()
            loss = _f(f, p)
            loss.backward()
            gs.append(p.grad.tolist())
            optimizer.step()
            ps.append(p.detach().tolist())
            state = optimizer.state[p]
            ms.append((state["exp_avg"] / (1 - beta1 ** t)).tolist())
            vs.append((state["exp_avg_sq"] / (1 - beta2 ** t)).sqrt().tolist())
        out.append(DecayRun(_arr(ps), _arr(gs), _arr(ms), _arr(vs), eps, beta2))
    return out


def l2_minimum(wd: float = DECAY["weight_decay"]) -> np.ndarray:
    """argmin f + wd/2·‖p‖², where coupled L2 converges: per axis c/(c + wd) for f = c/2·(q − 1)²."""
    c = _decay_curvatures()
    return c / (c + wd)


def _decay_curvatures() -> np.ndarray:
    """c per axis of f = Σ c/2·(q − 1)², read from the gradient at (0, 0), which is −c."""
    p = torch.zeros(2, dtype=DTYPE, requires_grad=True)
    _f(_decay_surface(), p).backward()
    return -p.grad.numpy()


def adamw_fixed_point(eps: float = 1e-8, wd: float = DECAY["weight_decay"]) -> np.ndarray:
    """Where AdamW stops with exact gradients. At rest m̂ = g and v̂ = g², so its step is lr·g/(|g| + ε) and the decay's
    lr·wd·q; they cancel at q = 1 − u with wd·(1 − u)·(c·u + ε) = c·u, i.e. |g| = c·u ≈ ε·wd/(1 − wd) (wd < 1)."""
    c = _decay_curvatures()
    b = c + wd * eps - wd * c                     # wd·c·u² + b·u − wd·ε = 0, positive root in a cancellation-free form
    u = 2 * wd * eps / (b + np.sqrt(b * b + 4 * wd * c * wd * eps))
    return 1 - u


def _pair(p) -> str:
    return f"({p[0]:.3f}, {p[1]:.3f})"


def run_decay() -> Outcome:
    right, wrong = decay_runs()
    wd = DECAY["weight_decay"]
    l2, rest = l2_minimum(), adamw_fixed_point(right.eps)
    off = np.abs(wrong.path - l2).max(axis=1) >= DECAY_NEAR
    settled = int(np.nonzero(off)[0][-1]) + 1     # from this step on Adam stays within DECAY_NEAR of the L2 minimum
    early = DECAY_CHECKPOINTS[0]
    g, v, m, y = abs(right.grads[early - 1, 1]), right.sqrt_v_hat[early - 1, 1], abs(right.m_hat[early - 1, 1]), right.path[early, 1]
    ratio = m / (v + right.eps)
    where = ", ".join(f"{_pair(right.path[t])} at step {t:,}" for t in DECAY_CHECKPOINTS)
    return Outcome(
        (Series("x (steep axis)", "x", (right.path[:, 0], wrong.path[:, 0]), steps_from=0),
         Series("y (flat axis)", "y", (right.path[:, 1], wrong.path[:, 1]), steps_from=0)),
        f"The loss's minimum is (1, 1). Adam with weight_decay is within {DECAY_NEAR:g} of the L2-regularised minimum "
        f"{_pair(l2)} from step {settled} on and stays there (∇f + wd·p = 0 is a true fixed point): the steep x is "
        f"hardly decayed, the flat y a lot. AdamW moves x and y alike (at most {np.abs(right.path[:, 0] - right.path[:, 1]).max():.0e} "
        f"apart: Adam's step ignores a gradient's scale and the decoupled decay ignores the gradient), and slowly: {where}. "
        f"v̂ averages g² over about 1/(1 − β₂) = {1 / (1 - right.beta2):,.0f} steps, so at step {early} it still holds the large early "
        f"gradients (√v̂ = {v:.3g} for y while |g| = {g:.3g} now), and Adam's step lr·|m̂|/(√v̂ + ε) = {ratio:.3f}·lr only just "
        f"beats the decay lr·wd·y = {wd * y:.3f}·lr. As v̂ forgets, the balance moves on towards (1, 1): once v̂ = g², "
        f"Adam's step is ≈ lr, more than the decay, so with exact gradients AdamW comes to rest at the loss's own minimum, "
        f"to within {np.abs(1 - rest).max():.0e} (where |g| ≈ ε·wd/(1 − wd)).")


# -- 6. LBFGS without a closure ----------------------------------------------------------------------

LBFGS_RIGHT = """optimizer = torch.optim.LBFGS([p])

def closure():
    optimizer.zero_grad()
    loss = f(p)
    loss.backward()
    return loss

for t in range(steps):
    optimizer.step(closure)"""
LBFGS_WRONG = """optimizer = torch.optim.LBFGS([p])

for t in range(steps):
    optimizer.zero_grad()
    loss = f(p)
    loss.backward()
    optimizer.step()"""


def lbfgs_runs(steps: int = 6) -> tuple[np.ndarray, np.ndarray, str]:
    """Losses and closure calls of LBFGS on Rosenbrock with a closure, and torch's error without one."""
    from optviz.core.surfaces import get_surface

    f = get_surface("rosenbrock")
    p = torch.tensor(f.start, dtype=DTYPE, requires_grad=True)
    optimizer = torch.optim.LBFGS([p])
    calls = [0]

    def closure():
        optimizer.zero_grad()
        loss = _f(f, p)
        loss.backward()
        calls[0] += 1
        return loss

    losses, evals = [], []
    for _t in range(steps):
        calls[0] = 0
        losses.append(optimizer.step(closure).item())
        evals.append(calls[0])
    p = torch.tensor(f.start, dtype=DTYPE, requires_grad=True)
    optimizer = torch.optim.LBFGS([p])
    try:
        optimizer.zero_grad()
        loss = _f(f, p)
        loss.backward()
        optimizer.step()
        error = ""
    except TypeError as e:
        error = f"TypeError: {e}"
    return _arr(losses), _arr(evals), error


def run_lbfgs() -> Outcome:
    losses, evals, error = lbfgs_runs()
    return Outcome(
        (Series("loss at the start of each step(closure)", "f(p)", (losses, _arr([])), log=True),
         Series("closure calls inside each step()", "calls", (evals, _arr([])))),
        f"On Rosenbrock, with a closure, LBFGS called it {int(evals.sum())} times in {len(evals)} steps "
        f"({int(evals[0])} in the first) and reached the minimum; without one it stops before its first step.",
        (("without a closure", error),) if error else ())


# -- 7. lr too large ---------------------------------------------------------------------------------

LR_RIGHT = """optimizer = torch.optim.SGD([p], lr=0.15)
for t in range(steps):
    optimizer.zero_grad()
    loss = f(p)
    loss.backward()
    optimizer.step()"""
LR_WRONG = """optimizer = torch.optim.SGD([p], lr=0.25)
for t in range(steps):
    optimizer.zero_grad()
    loss = f(p)
    loss.backward()
    optimizer.step()"""
BLOW_UP = 1e12   # a loss this many times the first one counts as diverged


LR_PAIR = (0.15, 0.25)   # the lrs of the two snippets


def lr_runs(steps: int = 60) -> tuple[list[np.ndarray], list[int | None]]:
    """Losses of SGD at lr 0.15 and 0.25 on the bowl (λ = 1, 10), and the step each diverged at (or None)."""
    f = _bowl()
    out, diverged = [], []
    for lr in LR_PAIR:
        p = _point()
        optimizer = torch.optim.SGD([p], lr=lr)
        ls, at = [], None
        for t in range(steps):
            optimizer.zero_grad()
            loss = _f(f, p)
            loss.backward()
            optimizer.step()
            ls.append(loss.item())
            if not math.isfinite(ls[-1]) or ls[-1] > BLOW_UP * ls[0]:
                at = t + 1
                break
        out.append(_arr(ls))
        diverged.append(at)
    return out, diverged


def contraction(lr: float) -> tuple[tuple[float, ...], float]:
    """Per eigen-direction of the bowl, the factor |1 − lr·λ| gradient descent multiplies the error by each step, and
    the overall rate: the largest of them (the slowest direction to shrink, or the fastest to grow)."""
    factors = tuple(abs(1 - lr * lam) for lam in BOWL)
    return factors, max(factors)


def measured_rate(losses: np.ndarray) -> float:
    """The error's factor per step over the last step of a run: √(loss ratio), since the loss is quadratic."""
    return float(np.sqrt(losses[-1] / losses[-2]))


def run_lr() -> Outcome:
    losses, diverged = lr_runs()
    text = (f"Caught: the loss passed {BLOW_UP:.0e}× its start at step {diverged[1]}. " if diverged[1] else "")
    parts = []
    for lr, run in zip(LR_PAIR, losses, strict=True):
        factors, rate = contraction(lr)
        each = " and ".join(f"{f:g} along λ = {lam:g}" for f, lam in zip(factors, BOWL, strict=True))
        slowest = BOWL[factors.index(rate)]
        verb = "shrinks" if rate < 1 else "grows"
        parts.append(f"lr {lr:g} multiplies the error by {each}, so overall it {verb} by {rate:g} per step, set by λ = {slowest:g} "
                     f"(measured at the run's last step: {measured_rate(run):.3g})")
    return Outcome(
        (Series("loss before each step", "f(p)", tuple(losses), log=True),),
        text + f"Gradient descent on a quadratic multiplies the error along each curvature λ by |1 − lr·λ| per step, so it "
        f"converges only while lr·λ < 2 for every λ (here λ = {', '.join(f'{lam:g}' for lam in BOWL)}). "
        + "; ".join(parts) + ".")


# -- 8. changing lr mid-run: PyTorch's momentum vs Sutskever's ---------------------------------------

MOMENTUM_TORCH = """optimizer = torch.optim.SGD(
    [p], lr=0.05, momentum=0.9)
for t in range(steps):
    if t == change:
        optimizer.param_groups[0]["lr"] = 0.005
    optimizer.zero_grad()
    loss = f(p)
    loss.backward()
    # buf = 0.9 * buf + grad; p -= lr * buf
    optimizer.step()"""
MOMENTUM_SUTSKEVER = """lr, v = 0.05, torch.zeros_like(p)
for t in range(steps):
    if t == change:
        lr = 0.005
    p.grad = None
    loss = f(p)
    loss.backward()
    with torch.no_grad():
        v = 0.9 * v + lr * p.grad
        p -= v"""
CHANGE_AT = 20


def momentum_runs(steps: int = 50, change: int = CHANGE_AT) -> tuple[list[np.ndarray], np.ndarray]:
    """Points of torch's SGD and of the Sutskever form when lr drops 10× before step ``change``; torch's buffers."""
    f = _bowl()
    p = _point()
    optimizer = torch.optim.SGD([p], lr=0.05, momentum=0.9)
    ps, bufs = [p.detach().tolist()], []
    for t in range(steps):
        if t == change:
            optimizer.param_groups[0]["lr"] = 0.005
        optimizer.zero_grad()
        loss = _f(f, p)
        loss.backward()
        optimizer.step()
        ps.append(p.detach().tolist())
        bufs.append(optimizer.state[p]["momentum_buffer"].tolist())
    torch_path = _arr(ps)
    p = _point()
    lr, v = 0.05, torch.zeros_like(p)
    ps = [p.detach().tolist()]
    for t in range(steps):
        if t == change:
            lr = 0.005
        p.grad = None
        loss = _f(f, p)
        loss.backward()
        with torch.no_grad():
            v = 0.9 * v + lr * p.grad
            p -= v
        ps.append(p.detach().tolist())
    return [torch_path, _arr(ps)], _arr(bufs)


def step_lengths(path: np.ndarray) -> np.ndarray:
    return np.hypot(*np.diff(path, axis=0).T)


def run_momentum() -> Outcome:
    paths, _ = momentum_runs()
    steps = [step_lengths(p) for p in paths]
    k = CHANGE_AT
    return Outcome(
        (Series("length of each step ‖Δp‖", "‖Δp‖", tuple(steps), log=True),),
        f"Both forms take identical steps while lr is constant. At step {k + 1} lr drops 10×: PyTorch's step shrinks at "
        f"once from {steps[0][k - 1]:.3g} to {steps[0][k]:.3g} (the new lr multiplies the whole buffer), the Sutskever "
        f"form's only to {steps[1][k]:.3g}, since its velocity already holds the old lr.")


# -- the table --------------------------------------------------------------------------------------

PITFALLS: dict[str, Pitfall] = {p.key: p for p in [
    Pitfall("zero_grad", "Forgetting optimizer.zero_grad()",
            (Snippet("with zero_grad()", ZERO_GRAD_RIGHT, "right"), Snippet("without zero_grad()", ZERO_GRAD_WRONG)),
            "optimizer.zero_grad() is missing",
            "backward() adds into .grad, so without clearing it every step() uses the sum of all mini-batches so far.",
            run_zero_grad),
    Pitfall("per_batch", "scheduler.step() inside the batch loop",
            (Snippet("per epoch", PER_BATCH_RIGHT, "right"), Snippet("per batch", PER_BATCH_WRONG)),
            "scheduler.step() is indented into the batch loop",
            "A schedule written in epochs advances once per scheduler.step() call, so calling it every batch makes it "
            "run steps-per-epoch times too fast.",
            run_per_batch),
    Pitfall("order", "scheduler.step() before optimizer.step()",
            (Snippet("optimizer first", ORDER_RIGHT, "right"), Snippet("scheduler first", ORDER_WRONG)),
            "scheduler.step() moved before the epoch's optimizer steps",
            "The scheduler sets the lr for the steps that follow it, so stepping it first throws away its first value "
            "(torch warns about this).",
            run_order),
    Pitfall("backward", "step() without backward(), or backward() twice",
            (Snippet("backward() once", BACKWARD_RIGHT, "right"), Snippet("no backward()", BACKWARD_NONE),
             Snippet("backward() twice", BACKWARD_TWICE, "wrong", (3, 4))),
            "loss.backward() missing, or called twice",
            "step() only reads .grad: with no backward() there is nothing to read, and a second backward() adds the "
            "gradient again.",
            run_backward),
    Pitfall("adamw", "Adam(weight_decay=…) vs AdamW",
            (Snippet("AdamW: decoupled decay", ADAMW_RIGHT, "right"), Snippet("Adam: L2 through the gradient", ADAMW_WRONG)),
            "Adam instead of AdamW",
            "Adam adds weight_decay·p to the gradient, which is then divided by √v̂, so steep coordinates are hardly "
            "decayed; AdamW shrinks every weight by lr·weight_decay·p directly.",
            run_decay),
    Pitfall("lbfgs", "LBFGS without a closure",
            (Snippet("step(closure)", LBFGS_RIGHT, "right", (2, 6, 9)), Snippet("step()", LBFGS_WRONG, "wrong", (6,))),
            "optimizer.step() is given no closure",
            "LBFGS evaluates the loss and gradient several times per step (line search, inner iterations), so it needs "
            "a function that zeroes the grads, recomputes the loss, calls backward() and returns the loss.",
            run_lbfgs),
    Pitfall("lr_large", "A learning rate that is too large",
            (Snippet("lr = 0.15", LR_RIGHT, "right"), Snippet("lr = 0.25", LR_WRONG)),
            "lr 0.25 instead of 0.15",
            "Each step multiplies the error along a curvature λ by (1 − lr·λ), which grows once lr·λ > 2.",
            run_lr),
    Pitfall("lr_change", "Changing lr mid-run with momentum",
            (Snippet("PyTorch: p -= lr·buf", MOMENTUM_TORCH, "right", (0, 1, 4, 5, 8, 9)),
             Snippet("Sutskever: v holds lr·g, p -= v", MOMENTUM_SUTSKEVER, "other", (0, 3, 4, 7, 8, 9))),
            "where lr enters the momentum update",
            "PyTorch keeps the buffer free of lr and multiplies it by the current lr, so a new lr rescales past gradients "
            "too; the Sutskever form bakes the old lr into its velocity.",
            run_momentum),
]}
