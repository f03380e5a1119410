"""Inside optimizer.step(): one step of SGD, Adam/AdamW, RMSprop and Adagrad written out line by line, run beside
torch's own optimizer (the seed's canonical loop) and checked against its ``optimizer.state`` after every step.

Each ``*_step`` function is a plain teaching re-implementation for one parameter (a float or a 2-vector held as a
float64 numpy array): it reads the group's hyperparameters as torch's ``step()`` does, names every line after its
symbol and returns the new parameter, the new state and a record of every intermediate value.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from optviz.core.build import DTYPE, make_optimizer
from optviz.core.config import Config, ConfigError, parse_config
from optviz.core.engine import starts_of, surface_of

TOLERANCE = 1e-12          # |re-implementation − torch| / max(1, |torch|) that counts as "agree"
MAX_WALK_STEPS = 500       # a walkthrough keeps every line of every step: keep it short


# -- records -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Line:
    """One line of step(): the symbol it assigns, what it is, the line as written and its value (None: not run)."""

    symbol: str
    name: str
    formula: str
    value: tuple[float, ...] | None
    note: str = ""

    @property
    def ran(self) -> bool:
        return self.value is not None


@dataclass(frozen=True)
class StepResult:
    """What one re-implemented step returns: the new parameter, the new state, and every line it ran."""

    param: np.ndarray
    state: dict[str, np.ndarray]
    lines: tuple[Line, ...]


class _Lines:
    """Collects the lines of one step as they run."""

    def __init__(self) -> None:
        self.lines: list[Line] = []

    def __call__(self, symbol: str, name: str, formula: str, value):
        v = np.array(value, dtype=np.float64).reshape(-1)
        self.lines.append(Line(symbol, name, formula, tuple(float(a) for a in v)))
        return np.array(value, dtype=np.float64)

    def skip(self, symbol: str, name: str, formula: str, why: str) -> None:
        self.lines.append(Line(symbol, name, formula, None, why))

    def done(self, p: np.ndarray, state: dict) -> StepResult:
        return StepResult(p, state, tuple(self.lines))


# -- the re-implementations ----------------------------------------------------------------------------

def sgd_step(p: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> StepResult:
    """torch.optim.SGD, the seed's classic step(): weight decay into d_p, the buffer starts as a copy of d_p."""
    weight_decay, momentum = group["weight_decay"], group["momentum"]
    dampening, nesterov, lr = group["dampening"], group["nesterov"], group["lr"]
    line, state = _Lines(), dict(state)
    if group.get("maximize"):
        d_p = line("d_p", "gradient, negated to climb", "d_p = -grad", -grad)
    else:
        d_p = line("d_p", "gradient", "d_p = grad", grad)
    if weight_decay != 0:
        d_p = line("d_p", "plus the L2 pull towards 0", "d_p = d_p + weight_decay * p", d_p + weight_decay * p)
    else:
        line.skip("d_p", "plus the L2 pull towards 0", "d_p = d_p + weight_decay * p", "weight_decay = 0")
    if momentum != 0:
        if "momentum_buffer" not in state:
            buf = line("buf", "momentum_buffer (first step: a copy)", "buf = d_p.clone()", d_p.copy())
        else:
            buf = line("buf", "momentum_buffer", "buf = momentum * buf + (1 - dampening) * d_p",
                       momentum * state["momentum_buffer"] + (1 - dampening) * d_p)
        state["momentum_buffer"] = buf
        if nesterov:
            d_p = line("d_p", "Nesterov: look ahead along the buffer", "d_p = d_p + momentum * buf", d_p + momentum * buf)
        else:
            d_p = line("d_p", "the direction is the buffer", "d_p = buf", buf)
    else:
        line.skip("buf", "momentum_buffer", "buf = momentum * buf + (1 - dampening) * d_p", "momentum = 0")
    p = line("p", "the new parameter", "p = p - lr * d_p", p - lr * d_p)
    return line.done(p, state)


def adam_step(p: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> StepResult:
    """torch.optim.Adam / AdamW: moments m and v, their bias corrections, coupled L2 or decoupled decay, AMSGrad."""
    lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
    weight_decay, amsgrad = group["weight_decay"], group["amsgrad"]
    decoupled = group.get("decoupled_weight_decay", False)
    line, state = _Lines(), dict(state)
    if not state:
        state = {"step": np.zeros(1), "exp_avg": np.zeros_like(p), "exp_avg_sq": np.zeros_like(p)}
        if amsgrad:
            state["max_exp_avg_sq"] = np.zeros_like(p)
    g = line("g", "gradient" + (", negated to climb" if group.get("maximize") else ""),
             "g = -grad" if group.get("maximize") else "g = grad", -grad if group.get("maximize") else grad)
    t = line("t", "step", "t = t + 1", state["step"] + 1)
    if weight_decay != 0 and decoupled:
        p = line("p", "decoupled decay (AdamW): shrink p itself", "p = p * (1 - lr * weight_decay)", p * (1 - lr * weight_decay))
        line.skip("g", "coupled L2 (Adam)", "g = g + weight_decay * p", "decoupled (AdamW)")
    elif weight_decay != 0:
        line.skip("p", "decoupled decay (AdamW)", "p = p * (1 - lr * weight_decay)", "coupled L2")
        g = line("g", "coupled L2 (Adam): add the decay to g", "g = g + weight_decay * p", g + weight_decay * p)
    else:
        line.skip("g", "weight decay", "g = g + weight_decay * p", "weight_decay = 0")
    m = line("m", "exp_avg: first moment", "m = beta1 * m + (1 - beta1) * g", beta1 * state["exp_avg"] + (1 - beta1) * g)
    v = line("v", "exp_avg_sq: second moment", "v = beta2 * v + (1 - beta2) * g**2",
             beta2 * state["exp_avg_sq"] + (1 - beta2) * g * g)
    state.update(step=t, exp_avg=m, exp_avg_sq=v)
    if amsgrad:
        v = line("v_max", "max_exp_avg_sq: running maximum of v (AMSGrad)", "v_max = max(v_max, v)",
                 np.maximum(state["max_exp_avg_sq"], v))
        state["max_exp_avg_sq"] = v
    else:
        line.skip("v_max", "max_exp_avg_sq (AMSGrad)", "v_max = max(v_max, v)", "amsgrad = False")
    step = float(t[0])
    bc1 = line("bc1", "bias correction of m", "bc1 = 1 - beta1**t", 1 - beta1**step)
    bc2 = line("bc2", "bias correction of v", "bc2 = 1 - beta2**t", 1 - beta2**step)
    m_hat = line("m_hat", "unbiased first moment", "m_hat = m / bc1", m / bc1)
    v_hat = line("v_hat", "unbiased second moment", "v_hat = " + ("v_max" if amsgrad else "v") + " / bc2", v / bc2)
    delta = line("delta", "the step", "delta = lr * m_hat / (sqrt(v_hat) + eps)", lr * m_hat / (np.sqrt(v_hat) + eps))
    p = line("p", "the new parameter", "p = p - delta", p - delta)
    return line.done(p, state)


def rmsprop_step(p: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> StepResult:
    """torch.optim.RMSprop: running average of g², optionally centred (minus the mean of g) and with momentum."""
    lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
    weight_decay, momentum, centered = group["weight_decay"], group["momentum"], group["centered"]
    line, state = _Lines(), dict(state)
    if not state:
        state = {"step": np.zeros(1), "square_avg": np.zeros_like(p)}
        if momentum > 0:
            state["momentum_buffer"] = np.zeros_like(p)
        if centered:
            state["grad_avg"] = np.zeros_like(p)
    g = line("g", "gradient" + (", negated to climb" if group.get("maximize") else ""),
             "g = -grad" if group.get("maximize") else "g = grad", -grad if group.get("maximize") else grad)
    t = line("t", "step", "t = t + 1", state["step"] + 1)
    if weight_decay != 0:
        g = line("g", "plus the L2 pull towards 0", "g = g + weight_decay * p", g + weight_decay * p)
    else:
        line.skip("g", "plus the L2 pull towards 0", "g = g + weight_decay * p", "weight_decay = 0")
    v = line("v", "square_avg: running average of g²", "v = alpha * v + (1 - alpha) * g**2",
             alpha * state["square_avg"] + (1 - alpha) * g * g)
    state.update(step=t, square_avg=v)
    if centered:
        g_avg = line("g_avg", "grad_avg: running average of g", "g_avg = alpha * g_avg + (1 - alpha) * g",
                     alpha * state["grad_avg"] + (1 - alpha) * g)
        state["grad_avg"] = g_avg
        denom = line("denom", "centred RMS: sqrt of the variance", "denom = sqrt(v - g_avg**2) + eps",
                     np.sqrt(v - g_avg * g_avg) + eps)
    else:
        line.skip("g_avg", "grad_avg", "g_avg = alpha * g_avg + (1 - alpha) * g", "centered = False")
        denom = line("denom", "RMS of the gradients", "denom = sqrt(v) + eps", np.sqrt(v) + eps)
    if momentum > 0:
        buf = line("buf", "momentum_buffer of the scaled step", "buf = momentum * buf + g / denom",
                   momentum * state["momentum_buffer"] + g / denom)
        state["momentum_buffer"] = buf
        p = line("p", "the new parameter", "p = p - lr * buf", p - lr * buf)
    else:
        line.skip("buf", "momentum_buffer", "buf = momentum * buf + g / denom", "momentum = 0")
        p = line("p", "the new parameter", "p = p - lr * g / denom", p - lr * g / denom)
    return line.done(p, state)


def adagrad_step(p: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> StepResult:
    """torch.optim.Adagrad: the sum of all squared gradients (from initial_accumulator_value), lr decayed by lr_decay."""
    lr, lr_decay, eps, weight_decay = group["lr"], group["lr_decay"], group["eps"], group["weight_decay"]
    line, state = _Lines(), dict(state)
    if not state:
        state = {"step": np.zeros(1), "sum": np.full_like(p, group["initial_accumulator_value"])}
    t = line("t", "step", "t = t + 1", state["step"] + 1)
    g = line("g", "gradient" + (", negated to climb" if group.get("maximize") else ""),
             "g = -grad" if group.get("maximize") else "g = grad", -grad if group.get("maximize") else grad)
    if weight_decay != 0:
        g = line("g", "plus the L2 pull towards 0", "g = g + weight_decay * p", g + weight_decay * p)
    else:
        line.skip("g", "plus the L2 pull towards 0", "g = g + weight_decay * p", "weight_decay = 0")
    clr = line("clr", "decayed learning rate", "clr = lr / (1 + (t - 1) * lr_decay)", lr / (1 + (float(t[0]) - 1) * lr_decay))
    s = line("s", "sum: every squared gradient so far", "s = s + g**2", state["sum"] + g * g)
    std = line("std", "root of the sum", "std = sqrt(s) + eps", np.sqrt(s) + eps)
    p = line("p", "the new parameter", "p = p - clr * g / std", p - clr * g / std)
    state.update(step=t, sum=s)
    return line.done(p, state)


STEPS: dict[str, Callable[[np.ndarray, np.ndarray, dict, dict], StepResult]] = {
    "SGD": sgd_step, "Adam": adam_step, "AdamW": adam_step, "RMSprop": rmsprop_step, "Adagrad": adagrad_step,
}
LESSON_OPTIMIZERS = (*STEPS, "LBFGS")   # LBFGS: step(closure) and its closure calls, no line-by-line view


# -- running torch beside them ---------------------------------------------------------------------------

@dataclass(frozen=True)
class GroupCheck:
    """One parameter group in one step: what torch used and kept, what the re-implementation computed."""

    group: str                                  # "xy", "x" or "y"
    hyper: dict                                 # the group's options as torch had them during the step
    before: tuple[float, ...]                   # p before the step
    grad: tuple[float, ...]                     # p.grad left by backward()
    lines: tuple[Line, ...]                     # the re-implementation, line by line (empty for LBFGS)
    param: tuple[float, ...]                    # p after, by the re-implementation
    state: dict[str, tuple[float, ...]]         # its state after
    torch_param: tuple[float, ...]              # p after, by torch
    torch_state: dict[str, tuple[float, ...] | str]   # torch's optimizer.state[p] after the step
    max_diff: float                             # relative: |mine − torch| / max(1, |torch|), over p and the state


@dataclass(frozen=True)
class StepCheck:
    step: int                                   # 1-based
    loss: float                                 # the forward's loss at the point before the step
    groups: tuple[GroupCheck, ...]
    evaluations: int                            # closure calls inside this step() (LBFGS: many)
    probes: tuple[tuple[float, float], ...]     # the point of every closure call

    @property
    def max_diff(self) -> float:
        return max((g.max_diff for g in self.groups), default=math.nan)

    @property
    def agree(self) -> bool | None:
        """True/False when there is a re-implementation to compare; None otherwise (LBFGS)."""
        if not self.groups or not self.groups[0].lines:
            return None
        return bool(self.max_diff <= TOLERANCE)


@dataclass(frozen=True)
class Walkthrough:
    config: Config
    steps: tuple[StepCheck, ...]
    positions: np.ndarray                        # (n+1, 2), row 0 the start
    losses: np.ndarray                           # (n+1,)
    message: str = ""
    warnings: tuple[str, ...] = field(default=())

    @property
    def agree(self) -> bool | None:
        flags = [s.agree for s in self.steps if s.agree is not None]
        return all(flags) if flags else None

    @property
    def max_diff(self) -> float:
        return max((s.max_diff for s in self.steps), default=math.nan)


def _vec(t) -> tuple[float, ...]:
    if isinstance(t, torch.Tensor):
        return tuple(float(v) for v in t.detach().reshape(-1).tolist())
    return tuple(float(v) for v in np.asarray(t, dtype=np.float64).reshape(-1))


def _torch_state(state: dict) -> dict[str, tuple[float, ...] | str]:
    """optimizer.state[p] as plain numbers; LBFGS's lists and flat vectors summarised in words."""
    out: dict[str, tuple[float, ...] | str] = {}
    for k, v in state.items():
        if isinstance(v, torch.Tensor) and v.numel() <= 4:
            out[k] = _vec(v)
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[k] = (float(v),)
        elif isinstance(v, torch.Tensor):
            out[k] = f"tensor of {v.numel()} numbers"
        elif isinstance(v, list):
            out[k] = f"list of {len(v)}"
    return out


def difference(mine: float, theirs: float, relative: bool = True) -> float:
    """|mine − theirs| (over max(1, |theirs|) if relative). Equal values differ by 0 even when they are not finite
    (both −inf after an overflow, or both NaN); a non-finite value against anything else differs by inf."""
    if mine == theirs or (math.isnan(mine) and math.isnan(theirs)):
        return 0.0
    d = abs(mine - theirs) / (max(1.0, abs(theirs)) if relative else 1.0)
    return d if math.isfinite(d) else math.inf


def _relative_diff(mine: dict, theirs: dict, p_mine, p_torch) -> float:
    worst = 0.0
    pairs = [(p_mine, p_torch)] + [(mine.get(k), theirs.get(k)) for k in sorted(set(mine) | set(theirs))]
    for a, b in pairs:
        if a is None or b is None or isinstance(b, str) or len(a) != len(b):
            return math.inf
        for x, y in zip(a, b, strict=False):
            worst = max(worst, difference(x, y))
    return worst


def _hyper(group: dict) -> dict:
    return {k: (tuple(v) if isinstance(v, (list, tuple)) else v) for k, v in group.items()
            if k != "params" and v is not None and k not in ("foreach", "fused", "capturable", "differentiable")}


def walkthrough(config: Config | dict) -> Walkthrough:
    """Run torch's optimizer in the seed's loop (zero_grad → forward → backward → step), and beside every step run the
    re-implementation from its own state; record both per group and how far apart they are."""
    if not isinstance(config, Config):
        config = parse_config(config)
    name = config.optimizer.name
    if name not in LESSON_OPTIMIZERS:
        raise ConfigError("optimizer.name", f"the step-by-step view covers {', '.join(LESSON_OPTIMIZERS)}; got {name}")
    if config.steps > MAX_WALK_STEPS:
        raise ConfigError("steps", f"the step-by-step view keeps every line of every step: at most {MAX_WALK_STEPS} steps")
    if config.problem.starts is not None or config.scheduler is not None or config.problem.noise:
        raise ConfigError("problem", "the step-by-step view runs one start, no noise, no scheduler")
    surface = surface_of(config)
    params, opt = make_optimizer(config, torch.as_tensor(starts_of(config), dtype=DTYPE))
    names = config.group_names
    reimpl = STEPS.get(name)
    mine_p = [p.detach().numpy().reshape(-1).copy() for p in params]
    mine_state: list[dict] = [{} for _ in params]
    calls: list[tuple[float, float]] = []

    def point() -> tuple[float, float]:
        flat = torch.cat([p.detach().reshape(-1) for p in params]).tolist()
        return float(flat[0]), float(flat[1])

    def forward():
        x, y = (params[0].reshape(-1)[0], params[0].reshape(-1)[1]) if len(params) == 1 else (params[0], params[1])
        return surface.value(x, y).sum()

    def closure():
        opt.zero_grad()              # 1. clear what the last backward() left in .grad
        loss = forward()             # 2. forward: the loss at the current point
        loss.backward()              # 3. backward: fills p.grad
        calls.append(point())
        return loss                  # step() reads the loss from here (LBFGS compares losses)

    positions, losses = [point()], [float(forward().detach())]
    steps: list[StepCheck] = []
    message = ""
    for t in range(1, config.steps + 1):
        hyper = [_hyper(g) for g in opt.param_groups]
        before = [_vec(p) for p in params]
        calls.clear()
        try:
            if reimpl is None:
                loss = opt.step(closure)
            else:
                loss = closure()
                grads = [p.grad.detach().numpy().reshape(-1).copy() for p in params]
                opt.step()
        except Exception as e:  # torch refused mid-run: stop with its message
            message = f"torch stopped at step {t}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            break
        loss_value = float(loss.detach())
        groups = []
        for i, p in enumerate(params):
            torch_state = _torch_state(opt.state[p])
            if reimpl is None:
                groups.append(GroupCheck(names[i], hyper[i], before[i], (), (), (), {}, _vec(p), torch_state, math.nan))
                continue
            res = reimpl(mine_p[i], grads[i], mine_state[i], opt.param_groups[i])
            mine_p[i], mine_state[i] = res.param, res.state
            mine_state_v = {k: _vec(v) for k, v in res.state.items()}
            diff = _relative_diff(mine_state_v, torch_state, _vec(res.param), _vec(p))
            groups.append(GroupCheck(names[i], hyper[i], before[i], _vec(grads[i]), res.lines, _vec(res.param),
                                     mine_state_v, _vec(p), torch_state, diff))
        steps.append(StepCheck(t, loss_value, tuple(groups), len(calls), tuple(calls)))
        x, y = point()
        if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(loss_value)):
            message = f"diverged at step {t}: the point or the loss is no longer finite"
            positions.append((x, y))
            losses.append(math.nan)
            break
        positions.append((x, y))
        losses.append(float(forward().detach()))
    if not message:
        message = f"{len(steps)} steps, final loss {losses[-1]:.6g}"
    return Walkthrough(config, tuple(steps), np.array(positions, dtype=np.float64), np.array(losses, dtype=np.float64),
                       message)


# -- the canonical loop as text ----------------------------------------------------------------------------

PHASES = ("zero_grad", "forward", "backward", "step")

LOOP = (
    ("for input, target in dataset:", None),
    ("    optimizer.zero_grad()", "zero_grad"),
    ("    output = model(input)", "forward"),
    ("    loss = loss_fn(output, target)", "forward"),
    ("    loss.backward()", "backward"),
    ("    optimizer.step()", "step"),
)

CLOSURE_LOOP = (
    ("for input, target in dataset:", None),
    ("    def closure():", None),
    ("        optimizer.zero_grad()", "zero_grad"),
    ("        output = model(input)", "forward"),
    ("        loss = loss_fn(output, target)", "forward"),
    ("        loss.backward()", "backward"),
    ("        return loss", "backward"),
    ("    optimizer.step(closure)", "step"),
)


LOOK_FOR = {
    "SGD": "The first step copies `d_p` into the buffer (dampening does not apply yet); later steps mix it in. With two "
           "groups the same lines run twice, each with its own `lr`. Turn on weight_decay or nesterov and watch a skipped "
           "line come alive.",
    "Adam": "`bc1` and `bc2` start small: in the first steps they enlarge `m` and `v`, so the first step is about `lr` "
            "long whatever the gradient's size. With weight_decay, Adam adds it to `g` (coupled L2); tick "
            "decoupled_weight_decay to get AdamW's line instead.",
    "AdamW": "The decay line shrinks `p` itself before the moments are updated (decoupled), so it never reaches `m` or "
             "`v`. Compare with Adam and weight_decay: there the decay goes through `g`.",
    "RMSprop": "`v` is a running mean of g², so `denom` tracks the gradient's size per coordinate. centered subtracts "
               "the mean of g (a variance); momentum accumulates the scaled step in a buffer.",
    "Adagrad": "`s` only grows, so the effective step `clr / std` keeps shrinking: fast at first, then slower and "
               "slower. initial_accumulator_value starts `s` above 0 and tames the first steps.",
    "LBFGS": "Many closure calls in the first steps, then one per step once the gradient is below tolerance_grad. "
             "`func_evals` and `n_iter` in the state count them across steps.",
}


def loop_lines(optimizer: str) -> tuple[tuple[str, str | None], ...]:
    """The seed's loop, each line tagged with its phase (LBFGS: the closure form)."""
    return CLOSURE_LOOP if optimizer == "LBFGS" else LOOP


# -- text views ----------------------------------------------------------------------------------------

def fmt(value: tuple[float, ...] | str | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return f"{value[0]:.6g}" if len(value) == 1 else "(" + ", ".join(f"{v:.6g}" for v in value) + ")"


HIDDEN_HYPER = ("params", "initial_lr", "maximize", "decoupled_weight_decay")


def step_listing(group: GroupCheck, optimizer: str) -> str:
    """The group's step as code, each line followed by the value it produced in this step (or why it did not run)."""
    items = [f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in group.hyper.items()
             if k not in HIDDEN_HYPER or v]
    width = max((len(line.formula) for line in group.lines), default=0) + 2
    out, row = [], f"# {optimizer}, group {group.group}:"
    for item in items:
        if len(row) + len(item) > 52:
            out.append(row.rstrip(","))
            row = "#  "
        row += f" {item},"
    out += [row.rstrip(","), f"# p = {fmt(group.before)}, grad = {fmt(group.grad)}"]
    for line in group.lines:
        value = f"# {line.symbol} = {fmt(line.value)}" if line.ran else f"# skipped: {line.note}"
        out.append(f"{line.formula:<{width}}{value}")
    return "\n".join(out)


def state_rows(group: GroupCheck) -> list[dict[str, str]]:
    """p and every state entry: torch's value after the step, the re-implementation's, and their difference."""
    rows = [("p", group.torch_param, group.param)]
    rows += [(k, v, group.state.get(k)) for k, v in group.torch_state.items()]
    rows += [(k, None, v) for k, v in group.state.items() if k not in group.torch_state]
    out = []
    for name, theirs, mine in rows:
        diff = "—"
        if isinstance(theirs, tuple) and mine is not None and len(mine) == len(theirs):
            diff = f"{max(difference(a, b, relative=False) for a, b in zip(mine, theirs, strict=True)):.1e}"
        row = {"entry": name, "torch": fmt(theirs)}
        if group.lines:
            row.update({"the lines": fmt(mine), "|Δ|": diff})
        out.append(row)
    return out
