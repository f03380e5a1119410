"""The optimizer registry: every torch.optim class, its hyperparameters, and the checks made before a run."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from .custom import CUSTOM, LR, CustomOptimizer
from .formulas import UPDATE_RULES
from .specs import ConfigError, Param, Rule, shown

# -- shared hyperparameters ------------------------------------------------------------------------

def _lr(default: float, high: float = 10.0) -> Param:
    return Param("lr", "float", default, "Learning rate: how far each step moves.", 1e-6, high, log=True)


def _wd(default: float = 0.0) -> Param:
    return Param("weight_decay", "float", default, "Weight decay: pulls the parameters towards 0.", 0.0, 1.0)


def _eps(default: float) -> Param:
    return Param("eps", "float", default, "Added to the denominator for numerical stability.", 1e-12, 1.0, log=True)


BETAS = Param("betas", "pair", (0.9, 0.999), "(β₁, β₂): decay rates of the first and second moment averages.", 0.0, 0.9999)
MAXIMIZE = Param("maximize", "bool", False, "Climb the surface instead of descending it.")
AMSGRAD = Param("amsgrad", "bool", False, "Use the running maximum of the second moment (AMSGrad).")
DECOUPLED = Param("decoupled_weight_decay", "bool", False, "Decay the weights directly (AdamW-style) instead of adding L2 to the gradient.")


def _lr_rule() -> Rule:
    return Rule("lr", lambda o: o["lr"] >= 0, lambda o: f"Invalid learning rate: {o['lr']}")


def _nonneg(name: str, label: str | None = None) -> Rule:
    label = label or name
    return Rule(name, lambda o: o[name] >= 0, lambda o: f"Invalid {label} value: {o[name]}")


def _betas_rules() -> tuple[Rule, ...]:
    return tuple(
        Rule("betas", lambda o, i=i: 0.0 <= o["betas"][i] < 1.0,
             lambda o, i=i: f"Invalid beta parameter at index {i}: {o['betas'][i]}")
        for i in (0, 1)
    )


def _eps_rule() -> Rule:
    return Rule("eps", lambda o: o["eps"] >= 0, lambda o: f"Invalid epsilon value: {o['eps']}")


@dataclass(frozen=True)
class OptimizerSpec:
    """One torch.optim class: its keyword hyperparameters, checks, and what it needs to run on a point."""

    key: str
    name: str                       # torch's class name
    params: tuple[Param, ...]
    summary: str
    rules: tuple[Rule, ...] = ()
    elementwise: bool = True        # batched (K, 2) == K separate runs (verified in the catalog)
    point_shape: str = "flat"       # "flat": xy is (2,), groups (1,); "matrix": xy is (1, 2), groups (1, 1)
    sparse_grad: bool = False       # SparseAdam only takes sparse gradients
    groups_ok: bool = True
    note: str = ""
    update_rule: str = ""           # LaTeX of the update (optviz.core.formulas keeps it next to a transcription tested against torch)
    colour: str = "#1f77b4"
    own_class: type[torch.optim.Optimizer] | None = None   # optviz's own class where torch.optim has none (Custom)
    source: str = "torch"           # "torch", or the package an entry comes from ("pytorch-optimizer": optviz.core.external)
    needs_graph: bool = False       # step() differentiates the gradient again: backward(create_graph=True) in the closure
    badges: tuple[str, ...] = ()    # measured facts shown next to the name (optviz.core.external computes them)

    @property
    def cls(self) -> type[torch.optim.Optimizer]:
        return self.own_class or getattr(torch.optim, self.name)

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def defaults(self) -> dict:
        return {p.name: p.initial for p in self.params}


_TRAP = "torch accepts this without an error, but"
MAX_LBFGS_HISTORY = 1000    # LBFGS.step() allocates [None] * history_size: 1e9 would take 8 GB

OPTIMIZERS: dict[str, OptimizerSpec] = {s.name: s for s in [
    OptimizerSpec(
        "sgd", "SGD",
        (_lr(1e-3), Param("momentum", "float", 0.0, "Momentum μ: how much of the previous buffer is kept.", 0.0, 0.999),
         Param("dampening", "float", 0.0, "Dampening: the gradient enters the buffer times 1 − dampening (from step 2; the first buffer is the gradient itself).", 0.0, 1.0),
         _wd(), Param("nesterov", "bool", False, "Nesterov momentum: look ahead along the buffer."), MAXIMIZE),
        "Stochastic gradient descent, optionally with (Nesterov) momentum.",
        (_lr_rule(), _nonneg("momentum"), _nonneg("weight_decay"),
         Rule("nesterov", lambda o: not o["nesterov"] or (o["momentum"] > 0 and o["dampening"] == 0),
              lambda o: "Nesterov momentum requires a momentum and zero dampening", defaults_only=True),
         Rule("momentum", lambda o: o["momentum"] < 1, lambda o: f"{_TRAP} momentum ≥ 1 makes the buffer grow without bound (got {o['momentum']})"),
         Rule("dampening", lambda o: 0 <= o["dampening"] <= 1, lambda o: f"{_TRAP} dampening outside [0, 1] flips or inflates the gradient (got {o['dampening']})")),
        colour="#1f77b4",
        update_rule=UPDATE_RULES["SGD"].latex,
    ),
    OptimizerSpec(
        "adam", "Adam",
        (_lr(1e-3, 1.0), BETAS, _eps(1e-8), _wd(), AMSGRAD, MAXIMIZE, DECOUPLED),
        "Adaptive moments: momentum on the gradient, scaled per coordinate by the root of its running square.",
        (_lr_rule(), _eps_rule(), *_betas_rules(), _nonneg("weight_decay")),
        colour="#d62728",
        update_rule=UPDATE_RULES["Adam"].latex,
    ),
    OptimizerSpec(
        "adamw", "AdamW",
        (_lr(1e-3, 1.0), BETAS, _eps(1e-8), _wd(0.01), AMSGRAD, MAXIMIZE),
        "Adam with decoupled weight decay: the decay shrinks the weights directly, not through the gradient.",
        (_lr_rule(), _eps_rule(), *_betas_rules(), _nonneg("weight_decay")),
        colour="#ff7f0e",
        update_rule=UPDATE_RULES["AdamW"].latex,
    ),
    OptimizerSpec(
        "adagrad", "Adagrad",
        (_lr(1e-2), Param("lr_decay", "float", 0.0, "Learning-rate decay: lr / (1 + (t−1)·lr_decay).", 0.0, 1.0), _wd(),
         Param("initial_accumulator_value", "float", 0.0, "Starting value of the sum of squared gradients.", 0.0, 10.0),
         _eps(1e-10), MAXIMIZE),
        "Divides each coordinate's step by the root of the sum of all its past squared gradients.",
        (_lr_rule(), _nonneg("lr_decay"), _nonneg("weight_decay"), _nonneg("initial_accumulator_value"), _eps_rule()),
        colour="#2ca02c",
        update_rule=UPDATE_RULES["Adagrad"].latex,
    ),
    OptimizerSpec(
        "adadelta", "Adadelta",
        (_lr(1.0, 10.0), Param("rho", "float", 0.9, "Decay rate of the running averages.", 0.0, 1.0), _eps(1e-6), _wd(), MAXIMIZE),
        "Scales steps by the ratio of running RMS of past updates to running RMS of gradients.",
        (_lr_rule(), Rule("rho", lambda o: 0.0 <= o["rho"] <= 1.0, lambda o: f"Invalid rho value: {o['rho']}"),
         _eps_rule(), _nonneg("weight_decay")),
        colour="#9467bd",
        update_rule=UPDATE_RULES["Adadelta"].latex,
    ),
    OptimizerSpec(
        "adamax", "Adamax",
        (_lr(2e-3, 1.0), BETAS, _eps(1e-8), _wd(), MAXIMIZE),
        "Adam with the infinity norm: the scale is a decaying maximum of |g| instead of an average of g².",
        (_lr_rule(), _eps_rule(), *_betas_rules(), _nonneg("weight_decay")),
        colour="#8c564b",
        update_rule=UPDATE_RULES["Adamax"].latex,
    ),
    OptimizerSpec(
        "nadam", "NAdam",
        (_lr(2e-3, 1.0), BETAS, _eps(1e-8), _wd(),
         Param("momentum_decay", "float", 4e-3, "ψ: how fast the Nesterov momentum schedule warms up.", 0.0, 0.1), DECOUPLED, MAXIMIZE),
        "Adam with Nesterov momentum.",
        (_lr_rule(), _eps_rule(), *_betas_rules(), _nonneg("weight_decay"), _nonneg("momentum_decay")),
        colour="#e377c2",
        update_rule=UPDATE_RULES["NAdam"].latex,
    ),
    OptimizerSpec(
        "radam", "RAdam",
        (_lr(1e-3, 1.0), BETAS, _eps(1e-8), _wd(), DECOUPLED, MAXIMIZE),
        "Rectified Adam: plain momentum SGD until the variance estimate is reliable, then Adam.",
        (_lr_rule(), _eps_rule(), *_betas_rules(), _nonneg("weight_decay")),
        colour="#7f7f7f",
        update_rule=UPDATE_RULES["RAdam"].latex,
    ),
    OptimizerSpec(
        "rmsprop", "RMSprop",
        (_lr(1e-2, 1.0), Param("alpha", "float", 0.99, "Smoothing constant of the running average of g².", 0.0, 1.0),
         _eps(1e-8), _wd(), Param("momentum", "float", 0.0, "Momentum applied to the scaled step.", 0.0, 0.999),
         Param("centered", "bool", False, "Subtract the running mean of g (estimate the variance)."), MAXIMIZE),
        "Divides each coordinate's step by a running RMS of its gradients.",
        (_lr_rule(), _eps_rule(), _nonneg("momentum"), _nonneg("weight_decay"), _nonneg("alpha"),
         Rule("alpha", lambda o: o["alpha"] <= 1, lambda o: f"{_TRAP} alpha > 1 makes the running average negative and the first step NaN (got {o['alpha']})")),
        colour="#bcbd22",
        update_rule=UPDATE_RULES["RMSprop"].latex,
    ),
    OptimizerSpec(
        "rprop", "Rprop",
        (_lr(1e-2, 1.0), Param("etas", "pair", (0.5, 1.2), "(η⁻, η⁺): shrink / grow factors of each step size.", 0.01, 5.0),
         Param("step_sizes", "pair", (1e-6, 50.0), "(min, max) allowed step size.", 1e-9, 100.0, log=True), MAXIMIZE),
        "Uses only the sign of the gradient; each coordinate's step grows while the sign holds and shrinks when it flips.",
        (_lr_rule(),
         Rule("etas", lambda o: 0.0 < o["etas"][0] < 1.0 < o["etas"][1], lambda o: f"Invalid eta values: {o['etas'][0]}, {o['etas'][1]}"),
         Rule("step_sizes", lambda o: 0 < o["step_sizes"][0] <= o["step_sizes"][1],
              lambda o: f"{_TRAP} step_sizes must satisfy 0 < min ≤ max (got {tuple(o['step_sizes'])})")),
        colour="#17becf",
        update_rule=UPDATE_RULES["Rprop"].latex,
    ),
    OptimizerSpec(
        "asgd", "ASGD",
        (_lr(1e-2, 1.0), Param("lambd", "float", 1e-4, "Decay term.", 0.0, 1.0),
         Param("alpha", "float", 0.75, "Power for the eta update.", 0.0, 2.0),
         Param("t0", "float", 1e6, "Step at which averaging starts.", 1.0, 1e6, log=True), _wd(), MAXIMIZE),
        "Averaged SGD: SGD whose iterates are averaged (the average is the `ax` state).",
        (_lr_rule(), _nonneg("weight_decay"),
         Rule("lambd", lambda o: o["lambd"] >= 0, lambda o: f"{_TRAP} a negative lambd grows the parameters (got {o['lambd']})"),
         Rule("alpha", lambda o: o["alpha"] >= 0, lambda o: f"{_TRAP} a negative alpha makes the step size grow (got {o['alpha']})"),
         Rule("t0", lambda o: o["t0"] >= 0, lambda o: f"{_TRAP} t0 must be ≥ 0 (got {o['t0']})")),
        colour="#aec7e8",
        update_rule=UPDATE_RULES["ASGD"].latex,
    ),
    OptimizerSpec(
        "lbfgs", "LBFGS",
        (_lr(1.0, 10.0), Param("max_iter", "int", 20, "Inner iterations per step() call.", 1, 100),
         Param("max_eval", "int", None, "Closure evaluations per step (default max_iter·5/4).", 1, 200, nullable=True),
         Param("tolerance_grad", "float", 1e-7, "Stop when the gradient's max |g| falls below this.", 1e-12, 1.0, log=True),
         Param("tolerance_change", "float", 1e-9, "Stop when the loss or step changes less than this.", 1e-14, 1.0, log=True),
         Param("history_size", "int", 100, "Number of past steps kept for the curvature estimate.", 1, 200),
         Param("line_search_fn", "choice", None, "None (fixed step lr) or 'strong_wolfe' line search.", choices=(None, "strong_wolfe"), nullable=True)),
        "Quasi-Newton: builds a curvature estimate from past steps; calls the closure many times per step().",
        (_lr_rule(),
         Rule("max_iter", lambda o: o["max_iter"] >= 1, lambda o: f"{_TRAP} max_iter = {o['max_iter']} makes step() do nothing"),
         Rule("history_size", lambda o: o["history_size"] >= 1, lambda o: "history_size must be ≥ 1 (torch fails at the first step with 'IndexError: pop from empty list')"),
         Rule("history_size", lambda o: o["history_size"] <= MAX_LBFGS_HISTORY,
              lambda o: f"history_size must be ≤ {MAX_LBFGS_HISTORY:,} (torch allocates a list of history_size entries at the first step)"),
         Rule("max_eval", lambda o: o["max_eval"] is None or o["max_eval"] >= 1, lambda o: f"max_eval must be ≥ 1 (got {o['max_eval']})"),
         Rule("max_eval", lambda o: not (o["line_search_fn"] == "strong_wolfe" and (o["max_eval"] if o["max_eval"] is not None else o["max_iter"] * 5 // 4) < 2),
              lambda o: f"{_TRAP} with strong_wolfe and max_eval = {o['max_eval'] if o['max_eval'] is not None else o['max_iter'] * 5 // 4} the line search gets no evaluations and the point never moves; set max_eval ≥ 2"),
         Rule("line_search_fn", lambda o: o["line_search_fn"] in (None, "strong_wolfe"), lambda o: "only 'strong_wolfe' is supported")),
        elementwise=False, groups_ok=False,
        note="LBFGS keeps one flat vector for all parameters, so it cannot have per-group options, and batched starts are coupled.",
        colour="#000000",
        update_rule=UPDATE_RULES["LBFGS"].latex,
    ),
    OptimizerSpec(
        "adafactor", "Adafactor",
        (_lr(1e-2, 1.0), Param("beta2_decay", "float", -0.8, "Exponent of the β₂ schedule: β₂,t = 1 − t^beta2_decay.", -1.0, 0.0),
         Param("eps", "pair", (None, 1e-3), "(ε₁, ε₂): regularisers of the second moment and of the step's scale; null ε₁ = machine epsilon.", 1e-30, 1.0, log=True, nullable=True),
         Param("d", "float", 1.0, "Clipping threshold of the update's RMS.", 1.0, 10.0), _wd(), MAXIMIZE),
        "Memory-lean Adam: the step is relative to the parameter's RMS and clipped by the update's RMS.",
        (Rule("lr", lambda o: o["lr"] >= 0, lambda o: f"Learning rate should be >= 0 but is: {o['lr']}"),
         Rule("beta2_decay", lambda o: o["beta2_decay"] <= 0, lambda o: f"beta2_decay should be <= 0 but is: {o['beta2_decay']}"),
         Rule("eps", lambda o: o["eps"][0] is None or o["eps"][0] >= 0, lambda o: f"epsilon1 should be >= 0 but is: {o['eps'][0]}"),
         Rule("eps", lambda o: o["eps"][1] >= 0, lambda o: f"epsilon2 should be >= 0 but is: {o['eps'][1]}"),
         Rule("d", lambda o: o["d"] >= 1, lambda o: f"Clipping threshold d should be >= 1 but is: {o['d']}"),
         Rule("weight_decay", lambda o: o["weight_decay"] >= 0, lambda o: f"weight_decay should be >= 0 but is: {o['weight_decay']}")),
        elementwise=False,
        note="Adafactor's step depends on the whole tensor's RMS, so it is translation-dependent and batched starts are coupled.",
        colour="#98df8a",
        update_rule=UPDATE_RULES["Adafactor"].latex,
    ),
    OptimizerSpec(
        "muon", "Muon",
        (_lr(1e-3, 1.0), _wd(0.1), Param("momentum", "float", 0.95, "Momentum μ: the buffer keeps μ of itself and takes 1 − μ of the gradient.", 0.0, 0.999),
         Param("nesterov", "bool", True, "Nesterov-style look-ahead."), _eps(1e-7),
         Param("ns_steps", "int", 5, "Newton–Schulz iterations (orthogonalisation).", 1, 20),
         Param("adjust_lr_fn", "choice", None, "How the lr is scaled by the m×n shape: None/original ×√max(1, m/n), match_rms_adamw ×0.2·√max(m, n).", choices=(None, "original", "match_rms_adamw"), nullable=True)),
        "Orthogonalised momentum for weight matrices, with decoupled weight decay 0.1 by default; on a 1×2 point the update is the momentum direction with length ≈ 0.7 (Newton–Schulz's 5 steps, not exactly 1).",
        (Rule("lr", lambda o: o["lr"] >= 0, lambda o: f"Learning rate should be >= 0 but is: {o['lr']}"),
         Rule("momentum", lambda o: o["momentum"] >= 0, lambda o: f"momentum should be >= 0 but is: {o['momentum']}"),
         Rule("weight_decay", lambda o: o["weight_decay"] >= 0, lambda o: f"weight decay should be >= 0 but is: {o['weight_decay']}"),
         Rule("ns_steps", lambda o: 1 <= o["ns_steps"] < 100, lambda o: "Number of steps must be less than 100 for computational efficiency")),
        elementwise=False, point_shape="matrix",
        note="Muon only takes 2-D parameters: the point is held as a 1×2 matrix (a 1×1 matrix per group); batched starts are coupled.",
        colour="#ff9896",
        update_rule=UPDATE_RULES["Muon"].latex,
    ),
    OptimizerSpec(
        "sparse_adam", "SparseAdam",
        (Param("lr", "float", 1e-3, "Learning rate: how far each step moves.", 1e-6, 1.0, log=True), BETAS,
         Param("eps", "float", 1e-8, "Added to the denominator for numerical stability (> 0).", 1e-12, 1.0, log=True), MAXIMIZE),
        "Adam for sparse gradients (embeddings): only entries with a non-zero gradient are updated.",
        (Rule("lr", lambda o: o["lr"] > 0, lambda o: f"Invalid learning rate: {o['lr']}"),
         Rule("eps", lambda o: o["eps"] > 0, lambda o: f"Invalid epsilon value: {o['eps']}"), *_betas_rules()),
        sparse_grad=True,
        note="SparseAdam refuses dense gradients, so optviz hands it the gradient as a sparse tensor (grad.to_sparse()).",
        colour="#c5b0d5",
        update_rule=UPDATE_RULES["SparseAdam"].latex,
    ),
]}

ELEMENTWISE = tuple(k for k, s in OPTIMIZERS.items() if s.elementwise)

# The learner's own step() (optviz.core.custom): a torch.optim.Optimizer subclass, but not torch's, so it stays out of
# OPTIMIZERS (every torch.optim class, which the pickers list); its options are whatever numbers its program reads.
CUSTOM_SPEC = OptimizerSpec(
    "custom", CUSTOM, (LR,),
    "Your own step(): a program of per-coordinate assignments, run as a real torch.optim.Optimizer.",
    (_lr_rule(),), colour="#e7298a", own_class=CustomOptimizer,
    note="Its hyperparameters are the numbers given in its options; its state is every name its program assigns.",
    update_rule=r"p \leftarrow \text{your program}(p, g, t, \text{lr}, \dots)",
)


# Catalogues of other packages (optviz.core.external registers pytorch-optimizer's): each resolver returns the spec of
# a name it owns, None for a name it does not, or raises ConfigError for a name it owns but cannot offer.
RESOLVERS: list[Callable[[str], OptimizerSpec | None]] = []


def get_optimizer(name: str) -> OptimizerSpec:
    if name in OPTIMIZERS:
        return OPTIMIZERS[name]
    for spec in (*OPTIMIZERS.values(), CUSTOM_SPEC):
        if name.lower() in (spec.key, spec.name.lower()):
            return spec
    for resolve in RESOLVERS:
        if (spec := resolve(name)) is not None:
            return spec
    raise ConfigError("optimizer.name", f"unknown optimizer {shown(name)}; choose one of: {', '.join(OPTIMIZERS)}, {CUSTOM}")


def momentum_of(group: dict) -> float | None:
    """The momentum a scheduler may cycle: SGD/RMSprop/Muon's ``momentum`` or Adam-like β₁."""
    if "momentum" in group:
        return float(group["momentum"])
    if "betas" in group:
        return float(group["betas"][0])
    return None


__all__ = ["OptimizerSpec", "OPTIMIZERS", "RESOLVERS", "ELEMENTWISE", "CUSTOM_SPEC", "get_optimizer", "momentum_of"]
