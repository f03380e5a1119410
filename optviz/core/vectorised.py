"""torch.optim's single-tensor update rules over a (K, 2) batch in which every row has its own hyperparameters.

A hyperparameter sweep needs a different lr (and momentum, β₁, …) in every cell. torch.optim can only do
that with one parameter group per cell, which steps cell by cell (≈ 10 µs each). Here each rule below is
torch's own ``_single_tensor_<name>`` (torch 2.13, the path it takes on CPU) with the same operations in
the same order, but every float hyperparameter is a (K, 1) tensor. Expressions torch evaluates in Python
floats with powers (bias corrections such as 1 − β₁ᵗ) are evaluated in Python floats here too, once per
distinct value. tests/test_sweeps.py proves each rule equals torch.optim run cell by cell (float64, 1e-12).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

DTYPE = torch.float64


class Cells:
    """Every float hyperparameter of every cell: ``h.lr`` is a (K, 1) float64 tensor, and
    ``h.py(fn, "beta1")`` evaluates ``fn`` in Python floats once per distinct value and spreads it over the cells."""

    def __init__(self, values: dict[str, np.ndarray], flags: dict):
        self.k = len(next(iter(values.values())))
        self._np = {n: np.asarray(v, dtype=np.float64) for n, v in values.items()}
        self._t = {n: torch.from_numpy(v.copy()).reshape(-1, 1) for n, v in self._np.items()}
        self._inverse: dict[tuple, tuple[list, torch.Tensor]] = {}
        self.flags = flags

    def __getattr__(self, name: str) -> torch.Tensor:
        try:
            return self.__dict__["_t"][name]
        except KeyError:
            raise AttributeError(name) from None

    def py(self, fn: Callable[..., float], *names: str) -> torch.Tensor:
        if names not in self._inverse:
            cols = np.stack([self._np[n] for n in names], axis=1)
            uniq, inv = np.unique(cols, axis=0, return_inverse=True)
            self._inverse[names] = ([tuple(map(float, row)) for row in uniq], torch.from_numpy(inv.reshape(-1)))
        rows, inv = self._inverse[names]
        vals = torch.tensor([float(fn(*r)) for r in rows], dtype=DTYPE)
        return vals[inv].reshape(-1, 1)


def _grad(g: torch.Tensor, h: Cells) -> torch.Tensor:
    return -g if h.flags.get("maximize") else g


def _l2(grad: torch.Tensor, p: torch.Tensor, h: Cells) -> torch.Tensor:
    # grad.add(param, alpha=weight_decay) per cell; a zero weight decay adds exactly 0·param
    return grad.addcmul(p, h.weight_decay)


# -- the rules: init(p, h) -> state; step(p, g, state, h, t) updates p in place (t = the step, from 1) --

def _sgd_init(p, h):
    return {"buf": None}


def _sgd_step(p, g, s, h, t):
    grad = _l2(_grad(g, h), p, h)
    if s["buf"] is None:
        s["buf"] = grad.detach().clone()                      # b₁ = g₁ (dampening not applied)
    else:
        s["buf"].mul_(h.momentum).addcmul_(grad, 1 - h.dampening)
    buf = s["buf"]
    # momentum 0: torch keeps no buffer and steps along g; β·b + g with β = 0 is exactly g
    grad = grad.addcmul(buf, h.momentum) if h.flags.get("nesterov") else buf
    p.addcmul_(grad, -h.lr)


def _weight_decay(grad, p, h):
    """Adam's family: decoupled decay shrinks p itself (AdamW), otherwise L2 adds weight_decay·p to the gradient."""
    if h.flags.get("decoupled_weight_decay"):
        p.mul_(1 - h.lr * h.weight_decay)
        return grad
    return _l2(grad, p, h)


def _moments(s, grad, h):
    """Adam's first and second moments: m ← lerp(m, g, 1 − β₁), v ← β₂·v + (1 − β₂)·g²."""
    s["exp_avg"].lerp_(grad, 1 - h.beta1)
    s["exp_avg_sq"].mul_(h.beta2).addcmul_(grad * (1 - h.beta2), grad)


def _adam_init(p, h):
    s = {"exp_avg": torch.zeros_like(p), "exp_avg_sq": torch.zeros_like(p)}
    if h.flags.get("amsgrad"):
        s["max_exp_avg_sq"] = torch.zeros_like(p)
    return s


def _adam_step(p, g, s, h, t):
    grad = _grad(g, h)
    grad = _weight_decay(grad, p, h)
    _moments(s, grad, h)
    bc1 = h.py(lambda b1: 1 - b1**t, "beta1")
    bc2_sqrt = h.py(lambda b2: (1 - b2**t) ** 0.5, "beta2")
    step_size = h.lr / bc1
    v = s["exp_avg_sq"]
    if "max_exp_avg_sq" in s:
        torch.maximum(s["max_exp_avg_sq"], v, out=s["max_exp_avg_sq"])
        v = s["max_exp_avg_sq"]
    denom = (v.sqrt() / bc2_sqrt).add_(h.eps)
    p.addcdiv_(-step_size * s["exp_avg"], denom)


def _adagrad_init(p, h):
    return {"sum": torch.zeros_like(p).add_(h.initial_accumulator_value)}


def _adagrad_step(p, g, s, h, t):
    grad = _l2(_grad(g, h), p, h)
    clr = h.lr / (1 + (t - 1) * h.lr_decay)
    s["sum"].addcmul_(grad, grad, value=1)
    std = s["sum"].sqrt().add_(h.eps)
    p.addcdiv_(-clr * grad, std)


def _adamax_init(p, h):
    return {"exp_avg": torch.zeros_like(p), "exp_inf": torch.zeros_like(p)}


def _adamax_step(p, g, s, h, t):
    grad = _l2(_grad(g, h), p, h)
    s["exp_avg"].lerp_(grad, 1 - h.beta1)
    torch.maximum(s["exp_inf"].mul_(h.beta2), grad.abs().add_(h.eps), out=s["exp_inf"])
    clr = h.lr / h.py(lambda b1: 1 - b1**t, "beta1")
    p.addcdiv_(-clr * s["exp_avg"], s["exp_inf"])


def _nadam_init(p, h):
    # torch keeps mu_product as a float32 scalar tensor (the default scalar dtype)
    return {"exp_avg": torch.zeros_like(p), "exp_avg_sq": torch.zeros_like(p),
            "mu_product": torch.ones((p.shape[0], 1), dtype=torch.float32)}


def _nadam_step(p, g, s, h, t):
    grad = _grad(g, h)
    bc2 = h.py(lambda b2: 1 - b2**t, "beta2")
    grad = _weight_decay(grad, p, h)
    mu = h.py(lambda b1, md: b1 * (1.0 - 0.5 * (0.96 ** (t * md))), "beta1", "momentum_decay")
    mu_next = h.py(lambda b1, md: b1 * (1.0 - 0.5 * (0.96 ** ((t + 1) * md))), "beta1", "momentum_decay")
    s["mu_product"].mul_(mu.to(torch.float32))
    mu_product = s["mu_product"].to(DTYPE)
    mu_product_next = mu_product * mu_next
    _moments(s, grad, h)
    denom = s["exp_avg_sq"].div(bc2).sqrt().add_(h.eps)
    p.addcdiv_(grad * (-h.lr * (1.0 - mu) / (1.0 - mu_product)), denom)
    p.addcdiv_(s["exp_avg"] * ((-h.lr * mu_next) / (1.0 - mu_product_next)), denom)


def _radam_init(p, h):
    return {"exp_avg": torch.zeros_like(p), "exp_avg_sq": torch.zeros_like(p)}


def _radam_rect(b2: float, t: int) -> float:
    """The variance rectification r_t, or 0 while ρ_t ≤ 5 (then RAdam takes a plain momentum step)."""
    rho_inf = 2 / (1 - b2) - 1
    rho_t = rho_inf - 2 * t * (b2**t) / (1 - b2**t)
    if rho_t <= 5.0:
        return 0.0
    return ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5


def _radam_step(p, g, s, h, t):
    grad = _grad(g, h)
    grad = _weight_decay(grad, p, h)
    _moments(s, grad, h)
    corrected = s["exp_avg"] / h.py(lambda b1: 1 - b1**t, "beta1")
    rect = h.py(lambda b2: _radam_rect(b2, t), "beta2")
    adaptive = h.py(lambda b2: (1 - b2**t) ** 0.5, "beta2") / s["exp_avg_sq"].sqrt().add_(h.eps)
    update = torch.where(rect > 0, corrected * h.lr * adaptive * rect, corrected * h.lr)
    p.sub_(update)


def _rmsprop_init(p, h):
    s = {"square_avg": torch.zeros_like(p), "buf": torch.zeros_like(p)}
    if h.flags.get("centered"):
        s["grad_avg"] = torch.zeros_like(p)
    return s


def _rmsprop_step(p, g, s, h, t):
    grad = _l2(_grad(g, h), p, h)
    s["square_avg"].mul_(h.alpha).addcmul_(grad * (1 - h.alpha), grad)
    if "grad_avg" in s:
        s["grad_avg"].lerp_(grad, 1 - h.alpha)
        avg = s["square_avg"].addcmul(s["grad_avg"], s["grad_avg"], value=-1).sqrt_()
    else:
        avg = s["square_avg"].sqrt()
    avg = avg.add_(h.eps)
    s["buf"].mul_(h.momentum).addcdiv_(grad, avg)
    # torch: momentum > 0 steps along the buffer, momentum 0 along g/avg (a different rounding)
    with_momentum = p.addcmul(s["buf"], -h.lr)
    plain = p.addcdiv(-h.lr * grad, avg)
    p.copy_(torch.where(h.momentum > 0, with_momentum, plain))


def _adadelta_init(p, h):
    return {"square_avg": torch.zeros_like(p), "acc_delta": torch.zeros_like(p)}


def _adadelta_step(p, g, s, h, t):
    grad = _l2(_grad(g, h), p, h)
    s["square_avg"].mul_(h.rho).addcmul_(grad * (1 - h.rho), grad)
    std = s["square_avg"].add(h.eps).sqrt_()
    delta = s["acc_delta"].add(h.eps).sqrt_()
    delta.div_(std).mul_(grad)
    s["acc_delta"].mul_(h.rho).addcmul_(delta * (1 - h.rho), delta)
    p.addcmul_(delta, -h.lr)


def _rprop_init(p, h):
    return {"prev": torch.zeros_like(p), "step_size": torch.zeros_like(p).add_(h.lr)}


def _rprop_step(p, g, s, h, t):
    grad = _grad(g, h)
    sign = grad.mul(s["prev"]).sign()
    factor = torch.where(sign > 0, h.eta_plus, torch.where(sign < 0, h.eta_minus, torch.ones_like(sign)))
    s["step_size"].mul_(factor)
    s["step_size"].copy_(torch.minimum(torch.maximum(s["step_size"], h.step_min), h.step_max))
    grad = torch.where(factor == h.eta_minus, torch.zeros_like(grad), grad)
    p.addcmul_(grad.sign(), s["step_size"], value=-1)
    s["prev"].copy_(grad)


Rule = tuple[Callable, Callable]

# torch class name → (init, step); hyperparameters by torch keyword, pairs split as betas → beta1, beta2
RULES: dict[str, Rule] = {
    "SGD": (_sgd_init, _sgd_step),
    "Adam": (_adam_init, _adam_step),
    "AdamW": (_adam_init, _adam_step),
    "Adagrad": (_adagrad_init, _adagrad_step),
    "Adamax": (_adamax_init, _adamax_step),
    "NAdam": (_nadam_init, _nadam_step),
    "RAdam": (_radam_init, _radam_step),
    "RMSprop": (_rmsprop_init, _rmsprop_step),
    "Adadelta": (_adadelta_init, _adadelta_step),
    "Rprop": (_rprop_init, _rprop_step),
}
_PAIRS = {"betas": ("beta1", "beta2"), "etas": ("eta_minus", "eta_plus"), "step_sizes": ("step_min", "step_max")}


def cells_of(name: str, options: list[dict]) -> Cells:
    """Per-cell hyperparameters from one torch options dict per cell (all with the same flags)."""
    first = options[0]
    values: dict[str, list[float]] = {}
    flags = {}
    for key, v in first.items():
        if isinstance(v, bool) or v is None or isinstance(v, str):
            flags[key] = v
        elif key in _PAIRS:
            for i, sub in enumerate(_PAIRS[key]):
                values[sub] = [float(o[key][i]) for o in options]
        else:
            values[key] = [float(o[key]) for o in options]
    if name == "AdamW":
        flags["decoupled_weight_decay"] = True
    return Cells({k: np.asarray(v) for k, v in values.items()}, flags)
