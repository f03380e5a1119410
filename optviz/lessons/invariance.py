"""The Invariance Lab's computations: a rotated quadratic's configs, the eigen-coordinate transform, steps-to-tolerance vs angle.

SGD is rotation-equivariant (w ← w − αAw commutes with rotating A and w together), so in the surface's own eigen-coordinates
its path is the same at every angle. Adam, RMSprop, Adagrad and Lion scale each *coordinate* of the gradient separately,
so rotating the surface changes which mixture of eigen-directions each coordinate sees, and their paths change shape.
Every path here is a real torch run (Lion: optviz's Custom optimizer running the Lion template, as torch has no Lion).
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from optviz.core.config import Config, parse_config
from optviz.core.engine import run
from optviz.core.specs import ConfigError, from_link
from optviz.core.trace import Trace
from optviz.lessons.custom_step import TEMPLATES, custom_config

LION = "Lion"
# the lab's optimizers and the lr each starts with (SGD: below 2/λmax = 0.1 for the default λ = 1, 20)
LRS = {"SGD": 0.05, "Adam": 0.05, "RMSprop": 0.01, "Adagrad": 0.5, LION: 0.01}
NAMES = tuple(LRS)
ANGLES = tuple(float(a) for a in range(0, 91, 5))       # the sweep: 19 angles, 0° … 90°
MAX_QUERY_TEXT = 2000
MAX_STEPS = 1000
SCALES = (1e-6, 1e-3, 1.0, 1e3)                       # Adam's first step at the bowl's gradient times each of these


@dataclass(frozen=True)
class InvarianceSetup:
    """One experiment: the bowl ½ wᵀR diag(λ₁, λ₂)Rᵀw (minimum at 0), its rotation, the start in eigen-coordinates, the runs."""

    eigenvalues: tuple[float, float] = (1.0, 20.0)
    angle: float = 30.0                                   # degrees: λ₁'s eigenvector
    start: tuple[float, float] = (-2.0, 1.0)              # in eigen-coordinates: the start turns with the surface
    optimizers: tuple[str, ...] = ("SGD", "Adam")
    lrs: dict = field(default_factory=lambda: dict(LRS))
    steps: int = 500
    tol: float = 1e-3                                     # steps-to-tolerance: first step with loss ≤ tol

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(eigenvalues=list(self.eigenvalues), start=list(self.start), optimizers=list(self.optimizers))
        return d

    def key(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


def _number(value, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(name, f"must be a number, got {value!r}")
    if not low <= value <= high:
        raise ConfigError(name, f"must be between {low:g} and {high:g}, got {value:g}")
    return float(value)


def _pair(value, name: str, low: float, high: float) -> tuple[float, float]:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ConfigError(name, f"must be two numbers, got {value!r}")
    return _number(value[0], name, low, high), _number(value[1], name, low, high)


def parse_setup(data: dict) -> InvarianceSetup:
    """A checked setup from plain values (raises ConfigError naming the field)."""
    if not isinstance(data, dict):
        raise ConfigError("", "expected an object")
    unknown = set(data) - set(InvarianceSetup().to_dict())
    if unknown:
        raise ConfigError(", ".join(sorted(unknown)), "unknown setting")
    d = {**InvarianceSetup().to_dict(), **data}
    names = d["optimizers"]
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names) or len(set(names)) != len(names):
        raise ConfigError("optimizers", f"must be a list of distinct names from {', '.join(NAMES)}")
    if bad := [n for n in names if n not in NAMES]:
        raise ConfigError("optimizers", f"unknown optimizer {bad[0]!r}; the lab has {', '.join(NAMES)}")
    lrs = d["lrs"]
    if not isinstance(lrs, dict) or set(lrs) - set(NAMES):
        raise ConfigError("lrs", f"must map names from {', '.join(NAMES)} to learning rates")
    lrs = {**LRS, **{n: _number(v, f"lrs.{n}", 1e-8, 1e3) for n, v in lrs.items()}}
    steps = d["steps"]
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
        raise ConfigError("steps", f"must be a whole number from 1 to {MAX_STEPS}, got {steps!r}")
    return InvarianceSetup(eigenvalues=_pair(d["eigenvalues"], "eigenvalues", 1e-3, 1e3), angle=_number(d["angle"], "angle", 0, 90),
                           start=_pair(d["start"], "start", -100, 100), optimizers=tuple(names), lrs=lrs, steps=steps,
                           tol=_number(d["tol"], "tol", 1e-15, 1.0))


def setup_to_query(setup: InvarianceSetup, default: InvarianceSetup) -> str:
    """Compact JSON of the fields that differ from the page's default ('' when none do)."""
    d, base = setup.to_dict(), default.to_dict()
    diff = {k: v for k, v in d.items() if v != base[k]}
    return json.dumps(diff, separators=(",", ":"), sort_keys=True) if diff else ""


def setup_from_query(text: str | None, default: InvarianceSetup) -> tuple[InvarianceSetup, str | None]:
    """The experiment a link describes, or the default and a sentence on what was wrong. Never raises."""
    return from_link(text, default, parse_setup, MAX_QUERY_TEXT)


# -- geometry ---------------------------------------------------------------------------------------------------------

def rotation(angle_deg: float) -> np.ndarray:
    """R(θ): turns a vector by θ degrees counter-clockwise (the surface's Q = [q₁ q₂])."""
    c, s = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
    return np.array([[c, -s], [s, c]])


def to_eigen(points, angle_deg: float, center=(0.0, 0.0)) -> np.ndarray:
    """Points (…, 2) in the surface's eigen-coordinates: Rᵀ(w − c), i.e. turned by −θ about the minimum."""
    p = np.asarray(points, dtype=np.float64) - np.asarray(center, dtype=np.float64)
    return p @ rotation(angle_deg)          # row vectors: (Rᵀ pᵀ)ᵀ = p R


def from_eigen(points, angle_deg: float, center=(0.0, 0.0)) -> np.ndarray:
    """The inverse of to_eigen: c + R u."""
    return np.asarray(points, dtype=np.float64) @ rotation(angle_deg).T + np.asarray(center, dtype=np.float64)


# -- runs -------------------------------------------------------------------------------------------------------------

def config_at(setup: InvarianceSetup, name: str, angle: float | None = None) -> Config:
    """The real run of one optimizer on the surface turned by ``angle`` (default: the setup's), the start turned with it."""
    angle = setup.angle if angle is None else float(angle)
    start = from_eigen(setup.start, angle)
    problem = {"surface": "quadratic", "start": [float(start[0]), float(start[1])],
               "options": {"eigenvalues": list(setup.eigenvalues), "angle": angle, "center": [0.0, 0.0]}}
    lr = setup.lrs[name]
    if name == LION:
        template = TEMPLATES["lion"]
        return custom_config(template.program, {**template.options, "lr": lr}, problem, setup.steps)
    return parse_config({"problem": problem, "optimizer": {"name": name, "options": {"lr": lr}}, "steps": setup.steps})


def eigen_path(trace: Trace, angle: float) -> np.ndarray:
    """A run's positions in its surface's eigen-coordinates."""
    return to_eigen(trace.positions, angle)


def steps_to_tol(trace: Trace, tol: float) -> int | None:
    """The first step whose loss is ≤ tol (0: the start already is), None if the run never gets there (or diverged)."""
    hit = np.flatnonzero(np.asarray(trace.losses) <= tol)
    return int(hit[0]) if hit.size else None


@dataclass(frozen=True)
class AngleCurve:
    """Steps-to-tolerance of one optimizer at each angle of the sweep (None: not reached within the run)."""

    name: str
    angles: tuple[float, ...]
    steps: tuple[int | None, ...]


def angle_curve(setup: InvarianceSetup, name: str, angles=ANGLES) -> AngleCurve:
    """One real torch run per angle."""
    return AngleCurve(name, tuple(float(a) for a in angles), tuple(steps_to_tol(run(config_at(setup, name, a)), setup.tol)
                                                                   for a in angles))


def sweep_setup(setup: InvarianceSetup) -> InvarianceSetup:
    """What a sweep's result depends on (not the angle, nor which optimizers are shown): one cache entry per optimizer."""
    return InvarianceSetup(setup.eigenvalues, 0.0, setup.start, (), dict(setup.lrs), setup.steps, setup.tol)


# -- sign-like steps: Adam's first step and Lion's every step ---------------------------------------------------------

@dataclass(frozen=True)
class FirstStep:
    """Adam's first step from the start on the bowl scaled by ``scale`` (so its gradient is ``scale`` times the bowl's).

    With m₁ = (1−β₁)g, v₁ = (1−β₂)g² and both bias corrections, torch's first step is −lr·g/(|g| + ε): −lr·sign(g)
    up to ε/(|g| + ε), whatever the size of g."""

    scale: float
    grad: tuple[float, float]           # g at the start (the run's own gradient)
    step: tuple[float, float]           # θ₁ − θ₀ of the real torch.optim.Adam run
    sign_step: tuple[float, float]      # −lr·sign(g)
    gap: float                          # max over coordinates of |step + lr·sign(g)| / lr, measured
    eps_gap: float                      # max over coordinates of ε/(|g| + ε): what ε alone explains
    lr: float
    eps: float
    weight_decay: float


def scaled(setup: InvarianceSetup, scale: float, steps: int | None = None) -> InvarianceSetup:
    """The same bowl times ``scale`` (both eigenvalues, so every gradient is ``scale`` times as large), same start."""
    l1, l2 = setup.eigenvalues
    return replace(setup, eigenvalues=(l1 * scale, l2 * scale), steps=setup.steps if steps is None else steps)


def first_step(trace: Trace, scale: float) -> FirstStep:
    """What a one-step (or longer) Adam run did on its first step, beside −lr·sign(g)."""
    options = trace.config.optimizer.options
    lr, eps = float(options["lr"]), float(options["eps"])
    g = np.asarray(trace.grads[0], dtype=np.float64)
    step = trace.positions[1] - trace.positions[0]
    sign_step = -lr * np.sign(g)
    return FirstStep(scale, (float(g[0]), float(g[1])), (float(step[0]), float(step[1])),
                     (float(sign_step[0]), float(sign_step[1])), float(np.abs(step - sign_step).max() / lr),
                     float((eps / (np.abs(g) + eps)).max()), lr, eps, float(options.get("weight_decay", 0.0)))


def first_step_configs(setup: InvarianceSetup, scales=SCALES) -> dict[float, Config]:
    """scale → a one-step torch.optim.Adam run from the lab's start on the lab's bowl (at its angle) times that scale."""
    return {float(c): config_at(scaled(setup, c, steps=1), "Adam") for c in scales}


def coordinate_steps(trace: Trace) -> np.ndarray:
    """|Δθᵢ| per step and coordinate, shape (n, 2): how far each of x and y moved on each step."""
    return np.abs(np.diff(np.asarray(trace.positions, dtype=np.float64), axis=0))


@dataclass(frozen=True)
class LionSteps:
    """The smallest and largest |Δθᵢ| over every step and coordinate of a Lion run, and its lr and weight decay.

    Lion's update is lr·(sign(c) + weight_decay·θ): with weight decay 0 every coordinate moves by exactly lr."""

    steps: int
    smallest: float
    largest: float
    lr: float
    weight_decay: float

    @property
    def gap(self) -> float:
        """The largest |(|Δθᵢ| − lr)| ÷ lr over the run: 0 up to float64 rounding when weight decay is 0."""
        return max(abs(self.largest - self.lr), abs(self.smallest - self.lr)) / self.lr


def lion_steps(trace: Trace) -> LionSteps:
    d = coordinate_steps(trace)
    options = trace.config.optimizer.options
    return LionSteps(len(d), float(d.min()), float(d.max()), float(options["lr"]), float(options.get("weight_decay", 0.0)))
