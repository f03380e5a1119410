"""Closed forms for gradient descent and heavy-ball momentum on a quadratic, and the rates real runs show.

For f(w) = ½ (w − c)ᵀ A (w − c) and torch's SGD (lr α, momentum β, dampening 0), every eigen-direction i
evolves by (y, x)_{k+1} = R (y, x)_k with R = [[β, λᵢ], [−αβ, 1 − αλᵢ]] (y: the momentum buffer, x: the
error along that direction). The rate is max |σ| over the eigenvalues σ of R, the largest over all i.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

# -- per-direction and overall rates ---------------------------------------------------------------


def momentum_roots(alpha, beta, lam) -> tuple[np.ndarray, np.ndarray]:
    """σ₁,₂ = ½ (1 − αλ + β ± √((1 − αλ + β)² − 4β)), the eigenvalues of R (complex arrays, broadcast)."""
    a = 1.0 - np.asarray(alpha, dtype=np.float64) * np.asarray(lam, dtype=np.float64) + np.asarray(beta, dtype=np.float64)
    root = np.sqrt((a * a - 4.0 * np.asarray(beta, dtype=np.float64)).astype(np.complex128))
    return (a + root) / 2.0, (a - root) / 2.0


def direction_rate(alpha, beta, lam) -> np.ndarray:
    """max |σ| for one eigen-direction: |1 − αλ| when β = 0, exactly √β when the roots are complex."""
    alpha, beta, lam = (np.asarray(v, dtype=np.float64) for v in (alpha, beta, lam))
    a = 1.0 - alpha * lam + beta
    disc = a * a - 4.0 * beta
    real = (np.abs(a) + np.sqrt(np.maximum(disc, 0.0))) / 2.0
    return np.where(disc < 0, np.sqrt(np.maximum(beta, 0.0)), real)


def rate(alpha, beta, eigenvalues) -> np.ndarray:
    """The convergence rate of the whole quadratic: the slowest eigen-direction's max |σ|."""
    lams = np.asarray(eigenvalues, dtype=np.float64)
    a, b = np.asarray(alpha, dtype=np.float64)[..., None], np.asarray(beta, dtype=np.float64)[..., None]
    return direction_rate(a, b, lams).max(axis=-1)


def rate_map(alphas, betas, eigenvalues) -> np.ndarray:
    """rate over an (α, β) grid: array (len(betas), len(alphas)), one vectorised evaluation."""
    a = np.asarray(alphas, dtype=np.float64)[None, :]
    b = np.asarray(betas, dtype=np.float64)[:, None]
    return rate(a, b, eigenvalues)


def stable(alpha, beta, lam) -> np.ndarray:
    """The heavy-ball iteration converges along λ iff 0 < αλ < 2 + 2β (with 0 ≤ β < 1)."""
    alpha, beta, lam = (np.asarray(v, dtype=np.float64) for v in (alpha, beta, lam))
    return (alpha * lam > 0) & (alpha * lam < 2.0 + 2.0 * beta) & (beta >= 0) & (beta < 1)


def max_stable_lr(beta, lam_max: float):
    """The stability boundary: α < (2 + 2β) / λmax; momentum allows up to twice the step size."""
    return (2.0 + 2.0 * np.asarray(beta, dtype=np.float64)) / lam_max


def critical_beta(alpha, lam) -> np.ndarray:
    """Critical damping along λ: β = (1 − √(αλ))², where the two roots meet (rate |1 − √(αλ)|); NaN if αλ ∉ (0, 4)."""
    al = np.asarray(alpha, dtype=np.float64) * np.asarray(lam, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.where((al > 0) & (al < 4), (1.0 - np.sqrt(np.maximum(al, 0.0))) ** 2, np.nan)


@dataclass(frozen=True)
class Optimum:
    """The best setting and the rate it gives (β = 0 for plain gradient descent)."""

    alpha: float
    beta: float
    rate: float


def best_gd(l1: float, ln: float) -> Optimum:
    """Gradient descent: α = 2/(λ₁ + λₙ), rate (κ − 1)/(κ + 1)."""
    _check_positive(l1, ln)
    kappa = ln / l1
    return Optimum(2.0 / (l1 + ln), 0.0, (kappa - 1.0) / (kappa + 1.0))


def best_momentum(l1: float, ln: float) -> Optimum:
    """Heavy ball: α* = (2/(√λ₁ + √λₙ))², β* = ((√λₙ − √λ₁)/(√λₙ + √λ₁))², rate (√κ − 1)/(√κ + 1)."""
    _check_positive(l1, ln)
    s1, sn = math.sqrt(l1), math.sqrt(ln)
    sk = sn / s1
    return Optimum((2.0 / (s1 + sn)) ** 2, ((sn - s1) / (sn + s1)) ** 2, (sk - 1.0) / (sk + 1.0))


def _check_positive(l1: float, ln: float) -> None:
    if not (l1 > 0 and ln > 0 and math.isfinite(l1) and math.isfinite(ln)):
        raise ValueError(f"the rate formulas need two positive eigenvalues (a bowl), got {l1:g} and {ln:g}")


# -- the prediction, step by step ------------------------------------------------------------------


def predict_errors(alpha: float, beta: float, eigenvalues, e0, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """The linear theory iterated: errors x (steps+1, d) and buffers y (steps, d) per eigen-direction,
    from error e0 and an empty buffer (torch's first buffer is the first gradient, b₁ = g₁)."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    x = np.empty((steps + 1, lam.size))
    y = np.empty((steps, lam.size))
    x[0] = np.asarray(e0, dtype=np.float64)
    b = np.zeros(lam.size)
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(steps):
            b = beta * b + lam * x[k]         # y_{k+1} = β y_k + λ x_k
            y[k] = b
            x[k + 1] = x[k] - alpha * b       # x_{k+1} = x_k − α y_{k+1}
    return x, y


# -- what a run shows ------------------------------------------------------------------------------


def observed_rate(distances, floor: float | None = None) -> float:
    """The per-step factor a run actually shows, from its distances to the minimum.

    Uses the run up to where it reaches ``floor`` (default 1e-11 × the first distance; below that,
    rounding dominates), drops the first third (the faster directions' transient) and takes the slope
    between the highest point of the first and of the last window of that tail, so oscillations
    (complex roots) do not bias it. NaN when there is too little to fit.
    """
    d = np.abs(np.asarray(distances, dtype=np.float64))
    if d.size < 2 or not np.isfinite(d[0]) or d[0] <= 0:
        return math.nan
    floor = d[0] * 1e-11 if floor is None else floor
    finite = np.isfinite(d)
    end = int(np.argmin(finite)) if not finite.all() else d.size   # a diverged run: up to its last finite point
    above = np.nonzero(d[:end] > floor)[0]
    m = int(above[-1]) + 1 if above.size else 0                     # after this, the run sits at rounding level
    if m < 2:
        return 0.0 if end > 1 else math.nan
    if m < 6:
        return float((d[m - 1] / d[0]) ** (1.0 / (m - 1)))
    with np.errstate(divide="ignore"):
        tail = np.log(np.where(d[m // 3: m] > floor, d[m // 3: m], 0.0))
    w = max(1, len(tail) // 8)
    idx, peaks = [], []
    for s in range(0, len(tail) - w + 1, w):
        j = s + int(np.argmax(tail[s: s + w]))
        if np.isfinite(tail[j]):
            idx.append(j)
            peaks.append(tail[j])
    if len(idx) < 2:
        return math.nan
    slope = np.polyfit(np.asarray(idx, dtype=np.float64), np.asarray(peaks), 1)[0]
    return float(math.exp(slope))


def eigenvectors(angle_deg: float) -> np.ndarray:
    """Columns q₁, q₂ of the quadratic's rotation: λ₁'s eigenvector points at ``angle_deg`` (as quadratic_matrix)."""
    t = math.radians(angle_deg)
    return np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])


def to_eigenbasis(points, center, angle_deg: float) -> np.ndarray:
    """Coordinates of points (…, 2) as errors along (q₁, q₂): (w − c) Q."""
    return (np.asarray(points, dtype=np.float64) - np.asarray(center, dtype=np.float64)) @ eigenvectors(angle_deg)


def vectors_in_eigenbasis(vectors, angle_deg: float) -> np.ndarray:
    """A gradient-like vector (the momentum buffer) along (q₁, q₂)."""
    return np.asarray(vectors, dtype=np.float64) @ eigenvectors(angle_deg)


@dataclass(frozen=True)
class QuadraticRun:
    """A run on a quadratic seen through the theory: errors and buffers per eigen-direction, predicted and observed."""

    eigenvalues: tuple[float, float]
    alpha: float
    beta: float
    errors: np.ndarray            # (n+1, 2) torch's path as errors along q₁, q₂
    buffers: np.ndarray | None    # (n, 2) torch's momentum_buffer along q₁, q₂ (after each step), None without momentum
    predicted_errors: np.ndarray  # (n+1, 2) the linear theory from the same start
    predicted_buffers: np.ndarray  # (n, 2)
    distances: np.ndarray         # (n+1,) ‖w_k − c‖
    predicted_rate: float
    direction_rates: tuple[float, float]
    observed: float
    observed_directions: tuple[float, float]


def analyse_run(trace, eigenvalues, angle_deg: float, center) -> QuadraticRun:
    """Project a Trace of SGD on the quadratic into its eigenbasis and set the theory beside it."""
    opts = trace.config.optimizer.options
    alpha, beta = float(opts["lr"]), float(opts.get("momentum", 0.0))
    lam = tuple(float(v) for v in eigenvalues)
    errors = to_eigenbasis(trace.positions, center, angle_deg)
    buf = trace.state.get("momentum_buffer")
    buffers = None if buf is None else vectors_in_eigenbasis(buf, angle_deg)
    px, py = predict_errors(alpha, beta, lam, errors[0], trace.steps)
    dist = np.hypot(*(np.asarray(trace.positions) - np.asarray(center, dtype=np.float64)).T)
    scale = float(np.max(np.abs(center))) if len(center) else 0.0
    floor = max(dist[0] * 1e-11, 1e-13 * scale) if dist.size else None
    dir_floor = [max(abs(e) * 1e-11, 1e-13 * scale) for e in errors[0]]
    return QuadraticRun(
        eigenvalues=lam, alpha=alpha, beta=beta, errors=errors, buffers=buffers, predicted_errors=px,
        predicted_buffers=py, distances=dist, predicted_rate=float(rate(alpha, beta, lam)),
        direction_rates=tuple(float(direction_rate(alpha, beta, v)) for v in lam),
        observed=observed_rate(dist, floor),
        observed_directions=tuple(observed_rate(errors[:, i], dir_floor[i]) for i in range(2)),
    )


# -- the local quadratic of any surface ------------------------------------------------------------


@dataclass(frozen=True)
class LocalQuadratic:
    """The second-order model of a surface at a point: f(p) + gᵀ(w − p) + ½ (w − p)ᵀ H (w − p)."""

    point: tuple[float, float]
    value: float
    gradient: tuple[float, float]
    hessian: tuple[tuple[float, float], tuple[float, float]]
    eigenvalues: tuple[float, float]   # ascending
    angle: float                       # degrees in (−90, 90]: direction of λ₁'s eigenvector
    center: tuple[float, float]        # the model's stationary point p − H⁻¹ g

    @property
    def kappa(self) -> float:
        return abs(self.eigenvalues[1]) / abs(self.eigenvalues[0])

    @property
    def is_bowl(self) -> bool:
        return self.eigenvalues[0] > 0

    def options(self) -> dict:
        return {"eigenvalues": list(self.eigenvalues), "angle": self.angle, "center": list(self.center)}

    def problem(self) -> dict:
        """The problem block of a config for this quadratic (surface 'quadratic' with its options)."""
        return {"surface": "quadratic", "options": self.options()}


def local_quadratic(surface, point) -> LocalQuadratic:
    """Hessian (torch autograd) and gradient of ``surface`` at ``point``, as a quadratic_surface's options.
    ValueError when the Hessian is not finite or has a (near) zero eigenvalue, or is a maximum."""
    p = torch.tensor([float(point[0]), float(point[1])], dtype=torch.float64)
    if not torch.isfinite(p).all():
        raise ValueError(f"the point must be finite, got {tuple(point)}")

    def f(v):
        return surface.value(v[0], v[1])

    w = p.clone().requires_grad_(True)
    value = f(w)
    (g,) = torch.autograd.grad(value, w)
    value = value.detach()
    H = torch.autograd.functional.hessian(f, p)
    if not (torch.isfinite(H).all() and torch.isfinite(g).all() and torch.isfinite(value)):
        raise ValueError(f"the surface has no finite second derivatives at ({p[0]:g}, {p[1]:g})")
    H = (H + H.T) / 2
    lam, vec = torch.linalg.eigh(H)
    l1, l2 = float(lam[0]), float(lam[1])
    top = max(abs(l1), abs(l2))
    if top == 0 or min(abs(l1), abs(l2)) <= 1e-10 * top:
        raise ValueError(f"the Hessian at ({p[0]:g}, {p[1]:g}) has a zero eigenvalue ({l1:.3g}, {l2:.3g}): "
                         "the local model is a flat valley with no single minimum")
    if l2 < 0:
        raise ValueError(f"the Hessian at ({p[0]:g}, {p[1]:g}) has two negative eigenvalues ({l1:.3g}, {l2:.3g}): "
                         "the point is near a maximum")
    angle = math.degrees(math.atan2(float(vec[1, 0]), float(vec[0, 0])))
    angle = angle - 180.0 if angle > 90 else angle + 180.0 if angle <= -90 else angle
    center = p - torch.linalg.solve(H, g)
    return LocalQuadratic(
        point=(float(p[0]), float(p[1])), value=float(value), gradient=(float(g[0]), float(g[1])),
        hessian=((float(H[0, 0]), float(H[0, 1])), (float(H[1, 0]), float(H[1, 1]))), eigenvalues=(l1, l2),
        angle=angle, center=(float(center[0]), float(center[1])))


# -- the (α, β) plane ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RatePlane:
    """The predicted rate over an (α, β) grid with what to mark on it: the current setting, α*, β*, GD's best α,
    the stability boundary α = (2 + 2β)/λmax and the critical-damping curves β = (1 − √(αλᵢ))²."""

    eigenvalues: tuple[float, float]
    alphas: np.ndarray            # (na,) log-spaced
    betas: np.ndarray             # (nb,)
    rates: np.ndarray             # (nb, na)
    current: tuple[float, float, float]   # α, β, rate
    optimum: Optimum
    gd: Optimum
    boundary: np.ndarray          # (nb,) largest stable α for each β
    critical: tuple[np.ndarray, np.ndarray]   # β_c(α) for λ₁ and λ₂ over ``alphas``


def rate_plane(eigenvalues, alpha: float, beta: float, n_alpha: int = 160, n_beta: int = 120) -> RatePlane:
    """Everything the (α, β) figure shows, for a bowl (two positive eigenvalues)."""
    l1, l2 = sorted(float(v) for v in eigenvalues)
    opt, gd = best_momentum(l1, l2), best_gd(l1, l2)
    lo = min(opt.alpha, gd.alpha) / 100.0
    hi = 4.4 / l2                                   # past the widest stable step, 4/λmax as β → 1
    if alpha > 0:
        lo, hi = min(lo, alpha / 1.5), max(hi, alpha * 1.5)
    alphas = np.logspace(math.log10(lo), math.log10(hi), n_alpha)
    betas = np.linspace(0.0, 0.999, n_beta)
    return RatePlane(
        eigenvalues=(l1, l2), alphas=alphas, betas=betas, rates=rate_map(alphas, betas, (l1, l2)),
        current=(float(alpha), float(beta), float(rate(alpha, beta, (l1, l2)))), optimum=opt, gd=gd,
        boundary=max_stable_lr(betas, l2), critical=(critical_beta(alphas, l1), critical_beta(alphas, l2)))
