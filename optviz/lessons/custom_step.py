"""Write your own step(): templates and exercises as data, and the comparison of a Custom run with a torch optimizer's.

The learner's program runs as ``optviz.core.custom.CustomOptimizer``; the same config with a torch.optim class (its
hyperparameters mapped by name: ``lr``, ``momentum``, ``eps``…, and ``beta1``/``beta2`` into ``betas``) runs beside it.
``compare`` measures, after every step, the largest difference between the two runs over the point and every state
entry the two keep under the same name, and says in one sentence whether they are equal.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from optviz.core.config import Config, parse_config
from optviz.core.custom import CUSTOM, MAX_HYPERPARAMETERS
from optviz.core.engine import run
from optviz.core.optimizers import OPTIMIZERS
from optviz.core.specs import ConfigError
from optviz.core.trace import Trace

TOLERANCE = 1e-9        # equal: every difference at most this (relative to the value where it is above 1)
COMPARABLE = ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adamax", "NAdam", "RAdam", "Adadelta", "ASGD", "Rprop")
DEFAULT_PROBLEM = {"surface": "rosenbrock", "start": [-1.5, 2.0]}
DEFAULT_STEPS = 200


@dataclass(frozen=True)
class Template:
    """A program to start from, its hyperparameters, and the torch optimizer it is held against."""

    key: str
    label: str
    program: str
    options: dict
    compare: str                                    # a torch.optim class name
    fixed: dict = field(default_factory=dict)       # torch options the program has no number for (nesterov=True)
    note: str = ""


@dataclass(frozen=True)
class Exercise:
    """A task checked by the comparison: from ``start``, make the program equal ``compare`` (``solution`` does)."""

    key: str
    title: str
    task: str
    start: str
    options: dict
    compare: str
    solution: str
    hint: str
    fixed: dict = field(default_factory=dict)


SGD_MOMENTUM = ("# torch.optim.SGD with momentum: the first buffer is the gradient itself\n"
                "momentum_buffer = g if t == 1 else momentum * momentum_buffer + (1 - dampening) * g\n"
                "p = p - lr * momentum_buffer\n")
NESTEROV = ("# SGD with Nesterov momentum: step along the gradient plus momentum times the new buffer\n"
            "momentum_buffer = g if t == 1 else momentum * momentum_buffer + g\n"
            "p = p - lr * (g + momentum * momentum_buffer)\n")
ADAM = ("# torch.optim.Adam: moving averages of g and g*g, corrected for starting at 0\n"
        "# (torch writes the first line as exp_avg.lerp_(g, 1 - beta1): equal up to rounding)\n"
        "exp_avg = beta1 * exp_avg + (1 - beta1) * g\n"
        "exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * g * g\n"
        "p = p - lr / (1 - beta1 ** t) * exp_avg / (sqrt(exp_avg_sq) / sqrt(1 - beta2 ** t) + eps)\n")
RMSPROP = ("# torch.optim.RMSprop: divide by the root of a moving average of g*g\n"
           "square_avg = alpha * square_avg + (1 - alpha) * g * g\n"
           "p = p - lr * g / (sqrt(square_avg) + eps)\n")
ADAGRAD = ("# torch.optim.Adagrad: divide by the root of the sum of every g*g so far\n"
           "sum = sum + g * g\n"
           "p = p - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(sum) + eps)\n")
LION = ("# Lion (Chen et al., 2023): the sign of a mix of momentum and gradient; torch has no Lion\n"
        "update = sign(beta1 * exp_avg + (1 - beta1) * g)\n"
        "exp_avg = beta2 * exp_avg + (1 - beta2) * g\n"
        "p = p - lr * (update + weight_decay * p)\n")
BLANK = ("# p: the parameter, g: its gradient, t: the step (from 1), lr: the learning rate\n"
         "# one assignment per line; any other name you assign is state (it starts at 0)\n"
         "p = p - lr * g\n")

TEMPLATES: dict[str, Template] = {t.key: t for t in [
    Template("sgd", "SGD with momentum", SGD_MOMENTUM, {"lr": 1e-3, "momentum": 0.9, "dampening": 0.0}, "SGD"),
    Template("nesterov", "SGD with Nesterov momentum", NESTEROV, {"lr": 1e-3, "momentum": 0.9}, "SGD", {"nesterov": True}),
    Template("adam", "Adam", ADAM, {"lr": 0.05, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}, "Adam"),
    Template("rmsprop", "RMSprop", RMSPROP, {"lr": 0.01, "alpha": 0.99, "eps": 1e-8}, "RMSprop"),
    Template("adagrad", "Adagrad", ADAGRAD, {"lr": 0.5, "lr_decay": 0.0, "eps": 1e-10}, "Adagrad"),
    Template("lion", "Lion", LION, {"lr": 0.01, "beta1": 0.9, "beta2": 0.99, "weight_decay": 0.0}, "Adam",
             note="torch has no Lion: held against Adam, it shows where sign steps and Adam part ways."),
    Template("blank", "gradient descent (blank)", BLANK, {"lr": 1e-3}, "SGD"),
]}

EXERCISES: dict[str, Exercise] = {e.key: e for e in [
    Exercise("first_step", "SGD's first step",
             "This momentum buffer starts at 0 and is damped from the first step. Make it equal `torch.optim.SGD` with "
             "momentum 0.9 and dampening 0.5.",
             "momentum_buffer = momentum * momentum_buffer + (1 - dampening) * g\np = p - lr * momentum_buffer\n",
             {"lr": 1e-3, "momentum": 0.9, "dampening": 0.5}, "SGD", SGD_MOMENTUM,
             "torch keeps the gradient itself, undamped, as the first buffer: `g if t == 1 else …`."),
    Exercise("nesterov", "Add Nesterov momentum",
             "Turn this SGD with momentum into `torch.optim.SGD(..., nesterov=True)`.",
             "momentum_buffer = g if t == 1 else momentum * momentum_buffer + g\np = p - lr * momentum_buffer\n",
             {"lr": 1e-3, "momentum": 0.9}, "SGD", NESTEROV,
             "Nesterov steps along `g + momentum * momentum_buffer` (the new buffer), not along the buffer.",
             {"nesterov": True}),
    Exercise("weight_decay", "Add weight decay",
             "Make it equal `torch.optim.SGD` with `weight_decay` 0.1 (an L2 penalty added to the gradient).",
             SGD_MOMENTUM, {"lr": 1e-3, "momentum": 0.9, "dampening": 0.0, "weight_decay": 0.1}, "SGD",
             "d_p = g + weight_decay * p\n"
             "momentum_buffer = d_p if t == 1 else momentum * momentum_buffer + (1 - dampening) * d_p\n"
             "p = p - lr * momentum_buffer\n",
             "torch adds `weight_decay * p` to the gradient first; the momentum buffer then averages that sum."),
    Exercise("adam_bias", "Make it equal torch's Adam",
             "This Adam forgets that its moving averages start at 0. Make it equal `torch.optim.Adam`.",
             "exp_avg = beta1 * exp_avg + (1 - beta1) * g\nexp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * g * g\n"
             "p = p - lr * exp_avg / (sqrt(exp_avg_sq) + eps)\n",
             {"lr": 0.05, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}, "Adam", ADAM,
             "Divide `exp_avg` by `1 - beta1 ** t` and `exp_avg_sq` by `1 - beta2 ** t` (in the root: "
             "`sqrt(exp_avg_sq) / sqrt(1 - beta2 ** t)`), then add `eps`."),
    Exercise("adamw", "Decoupled weight decay (AdamW)",
             "Add `weight_decay` the AdamW way and make it equal `torch.optim.AdamW` with weight decay 0.1.",
             ADAM, {"lr": 0.05, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.1}, "AdamW",
             "p = p * (1 - lr * weight_decay)\n" + ADAM.split("\n", 1)[1],
             "AdamW shrinks `p` by `(1 - lr * weight_decay)` before the Adam step; the decay never enters the moments."),
    Exercise("amsgrad", "AMSGrad",
             "Make it equal `torch.optim.Adam(..., amsgrad=True)`: the denominator uses the largest `exp_avg_sq` so far.",
             ADAM, {"lr": 0.05, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}, "Adam",
             ADAM.replace("p = p - lr", "max_exp_avg_sq = max(max_exp_avg_sq, exp_avg_sq)\np = p - lr")
                 .replace("sqrt(exp_avg_sq) /", "sqrt(max_exp_avg_sq) /"),
             "Keep `max_exp_avg_sq = max(max_exp_avg_sq, exp_avg_sq)` and take its root in the denominator.",
             {"amsgrad": True}),
    Exercise("rmsprop", "Write RMSprop",
             "Write `torch.optim.RMSprop`: keep `square_avg`, a moving average of `g * g` that keeps `alpha` of its old "
             "value, and divide the step by its root plus `eps`.",
             BLANK, {"lr": 0.01, "alpha": 0.99, "eps": 1e-8}, "RMSprop", RMSPROP,
             "`square_avg = alpha * square_avg + (1 - alpha) * g * g`, then `p = p - lr * g / (sqrt(square_avg) + eps)`."),
    Exercise("adagrad", "Write Adagrad",
             "Write `torch.optim.Adagrad`: divide each coordinate's step by the root of the sum of all its `g * g` so "
             "far, plus `eps`; the lr decays as `lr / (1 + (t - 1) * lr_decay)`.",
             BLANK, {"lr": 0.5, "lr_decay": 0.01, "eps": 1e-10}, "Adagrad", ADAGRAD,
             "Keep `sum = sum + g * g` (torch's state is called `sum`) and divide by `sqrt(sum) + eps`."),
]}


# -- the two runs ---------------------------------------------------------------------------------------------------

def custom_config(program: str, options: dict, problem: dict | None = None, steps: int = DEFAULT_STEPS,
                  groups: dict | None = None, scheduler: dict | None = None) -> Config:
    """The Custom optimizer's config (raises ConfigError, whose message names the program's line and column)."""
    return parse_config({"problem": problem or DEFAULT_PROBLEM, "steps": steps, "scheduler": scheduler,
                         "optimizer": {"name": CUSTOM, "program": program, "options": options, "groups": groups}})


def torch_options(name: str, numbers: dict) -> dict:
    """The hyperparameters of the torch optimizer ``name`` that a program's numbers give, by name (beta1 and beta2 as
    betas); the others keep torch's defaults."""
    out = {}
    for p in OPTIMIZERS[name].params:
        if p.name in numbers:
            out[p.name] = numbers[p.name]
        elif p.name == "betas" and "beta1" in numbers and "beta2" in numbers:
            out["betas"] = [numbers["beta1"], numbers["beta2"]]
    return out


def torch_config(config: Config, name: str, fixed: dict | None = None) -> Config:
    """The same run with torch.optim's ``name`` instead of the program (same problem, groups, scheduler, steps)."""
    base = {**torch_options(name, config.optimizer.options), **(fixed or {})}
    groups = None
    if config.optimizer.groups is not None:
        groups = {}
        for g, own in config.optimizer.groups.items():
            mapped = torch_options(name, {**config.optimizer.options, **own})
            groups[g] = {k: v for k, v in mapped.items() if base.get(k) != v}
    data = config.to_dict()
    data["optimizer"] = {"name": name, "options": base, "groups": groups}
    return parse_config(data)


# -- the comparison -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Mismatch:
    """Where the two runs first differ by more than the tolerance."""

    step: int
    name: str            # "p" or a state entry
    coordinate: str      # "x" or "y"
    yours: float
    torchs: float


@dataclass(frozen=True)
class Comparison:
    """Step by step, the largest difference between a Custom run and a torch run (see ``difference``)."""

    label: str                       # "your SGD with momentum"
    reference: str                   # "torch.optim.SGD"
    steps: int                       # steps both runs made
    largest: np.ndarray              # (steps,): the largest difference after each step, over everything compared
    parts: dict                      # "p" and each shared state name -> (steps,) largest difference
    compared: tuple[str, ...]        # the state entries compared (kept under the same name by both)
    first: Mismatch | None
    verdict: str

    @property
    def equal(self) -> bool:
        return self.steps > 0 and self.first is None

    @property
    def worst(self) -> float:
        return float(self.largest.max()) if self.steps else math.nan


def difference(yours: np.ndarray, torchs: np.ndarray) -> np.ndarray:
    """|yours − torch's| / max(1, |torch's|): absolute below 1, relative above; equal non-finite values count as 0, a
    non-finite value against a finite one as inf."""
    a, b = np.asarray(yours, dtype=np.float64), np.asarray(torchs, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        d = np.abs(a - b) / np.maximum(1.0, np.abs(b))
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    return np.where(same, 0.0, np.where(np.isnan(d), np.inf, d))


def compare(custom: Trace, reference: Trace, label: str = "program") -> Comparison:
    """The two runs after every step both made: the point and each state entry both keep under one name."""
    ref_name = f"torch.optim.{reference.config.optimizer.name}"
    n = min(custom.steps, reference.steps)
    compared = tuple(sorted(k for k in set(custom.state) & set(reference.state) if k != "step"))
    series = {"p": (custom.positions[1:n + 1], reference.positions[1:n + 1])}
    series.update({k: (custom.state[k][:n], reference.state[k][:n]) for k in compared})
    diffs = {k: difference(a, b).reshape(n, -1) for k, (a, b) in series.items()}
    parts = {k: d.max(axis=1) if n else np.zeros(0) for k, d in diffs.items()}
    largest = np.max(np.stack(list(parts.values())), axis=0) if n else np.zeros(0)
    first = None
    over = np.flatnonzero(largest > TOLERANCE)
    if over.size:
        i = int(over[0])
        name = next(k for k in series if parts[k][i] > TOLERANCE)
        c = int(np.argmax(diffs[name][i]))
        first = Mismatch(i + 1, name, "xy"[c], float(series[name][0][i].reshape(-1)[c]), float(series[name][1][i].reshape(-1)[c]))
    verdict = _verdict(label, ref_name, n, largest, first, custom, reference)
    return Comparison(label, ref_name, n, largest, parts, compared, first, verdict)


def _verdict(label: str, ref: str, n: int, largest: np.ndarray, first: Mismatch | None, custom: Trace, reference: Trace) -> str:
    if n == 0:
        why = custom.message if custom.steps == 0 else reference.message
        return f"nothing to compare: {why}"
    if first is not None:
        what = "the point p" if first.name == "p" else first.name
        text = (f"first differs at step {first.step} in {what}[{first.coordinate}]: yours is {first.yours:.6g}, "
                f"{ref}'s is {first.torchs:.6g}")
    else:
        worst = float(largest.max())
        text = f"your {label} equals {ref} " + ("bit for bit" if worst == 0 else f"to {worst:.0e}") + f" over {n} steps"
    if custom.steps != reference.steps:
        short, other = (("yours", custom), ("torch's", reference)) if custom.steps < reference.steps else (("torch's", reference), ("yours", custom))
        text += f"; {short[0]} stopped after {short[1].steps} steps ({short[1].message}), {other[0]} ran {other[1].steps}"
    return text


def comparison(config: Config, compare_with: str, fixed: dict | None = None, label: str = "program") -> tuple[Trace, Trace, Comparison]:
    """Run the program and torch's ``compare_with`` on the same problem and compare them."""
    mine = run(config)
    theirs = run(torch_config(config, compare_with, fixed))
    return mine, theirs, compare(mine, theirs, label)


def check_exercise(exercise: Exercise, program: str, options: dict | None = None, steps: int = DEFAULT_STEPS) -> Comparison:
    """Is ``program`` a solution? Its run against the exercise's torch optimizer (raises ConfigError for a bad program)."""
    config = custom_config(program, options if options is not None else exercise.options, steps=steps)
    return comparison(config, exercise.compare, exercise.fixed)[2]


def numbers_text(options: dict) -> str:
    """Hyperparameters as the page's one-line field: ``lr = 0.001, momentum = 0.9``."""
    return ", ".join(f"{k} = {v:g}" for k, v in options.items())


def parse_numbers(text: str) -> dict:
    """``lr = 0.001, momentum = 0.9`` (commas or line breaks) as {name: number}; ConfigError names what is wrong."""
    out: dict = {}
    items = [t.strip() for t in str(text)[:1000].replace("\n", ",").split(",") if t.strip()]
    if len(items) > MAX_HYPERPARAMETERS:
        raise ConfigError("hyperparameters", f"at most {MAX_HYPERPARAMETERS} numbers")
    for item in items:
        name, eq, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not eq or not name or not value:
            raise ConfigError("hyperparameters", f"write each as name = number, e.g. lr = 0.01 (got {item[:40]!r})")
        try:
            number = float(value)
        except ValueError:
            raise ConfigError("hyperparameters", f"{name[:40]} = {value[:40]} is not a number") from None
        if not math.isfinite(number):
            raise ConfigError("hyperparameters", f"{name[:40]} must be a finite number")
        out[name] = number
    return out


def template_of(program: str) -> Template | None:
    """The template a program is (its text, ignoring blank space at the ends), if any."""
    return next((t for t in TEMPLATES.values() if t.program.strip() == program.strip()), None)


__all__ = ["COMPARABLE", "Comparison", "DEFAULT_PROBLEM", "DEFAULT_STEPS", "EXERCISES", "Exercise", "Mismatch",
           "TEMPLATES", "TOLERANCE", "Template", "check_exercise", "compare", "comparison", "custom_config", "difference",
           "numbers_text", "parse_numbers", "template_of", "torch_config", "torch_options"]
