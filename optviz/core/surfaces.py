"""The surface registry: classic 2-D test functions, each defined once by a formula in x and y."""
from __future__ import annotations

import inspect
import math
import re
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from .expr import compile_expression
from .numeric import TORCH, value_and_grad, value_and_grad_batch

MAX_DOMAIN_WIDTH = 1e6
MAX_GRID = 4000


@dataclass(frozen=True)
class Minimum:
    point: tuple[float, float]
    value: float
    kind: str = "global"  # "global" | "local" | "saddle"


@dataclass(frozen=True)
class Surface:
    """A loss surface f(x, y). ``expression`` is the single definition; ``fn(x, y, m)`` is compiled from it."""

    key: str              # lowercase snake, e.g. "rosenbrock"
    label: str            # "Rosenbrock"
    expression: str       # Python/torch formula in x and y, e.g. "(1 - x)**2 + 100*(y - x**2)**2"
    domain: tuple[tuple[float, float], tuple[float, float]]  # ((xmin, xmax), (ymin, ymax)) for plots
    start: tuple[float, float]   # default start point
    minima: tuple[Minimum, ...]
    latex: str
    log_contours: bool    # contours read best on a log scale
    watch: str            # one sentence: what to look for on this surface
    bounded_below: bool = True
    fn: Callable = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if not re.fullmatch(r"[a-z][a-z0-9_]*", self.key):
            raise ValueError(f"surface key must be lowercase snake case, got {self.key!r}")
        object.__setattr__(self, "domain", _check_domain(self.domain))
        object.__setattr__(self, "start", _check_point(self.start, "start"))
        object.__setattr__(self, "fn", compile_expression(self.expression).surface_fn())

    def value(self, x, y) -> torch.Tensor:
        """f(x, y) on torch tensors (float64 when given numbers), differentiable by autograd."""
        x = x if isinstance(x, torch.Tensor) else torch.as_tensor(x, dtype=torch.float64)
        y = y if isinstance(y, torch.Tensor) else torch.as_tensor(y, dtype=torch.float64)
        r = self.fn(x, y, TORCH)
        if not isinstance(r, torch.Tensor):  # a formula in neither x nor y
            r = r + 0.0 * x + 0.0 * y
        return r

    def value_and_grad(self, x: float, y: float) -> tuple[float, float, float]:
        """f, ∂f/∂x, ∂f/∂y at one point (forward-mode duals on floats: a few µs)."""
        return value_and_grad(self.fn, x, y)

    def value_and_grad_batch(self, X, Y) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return value_and_grad_batch(self.fn, X, Y)

    def grid(self, n: int = 300, domain=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """xs (n,), ys (n,) and Z (n, n) with ``Z[i, j] = f(xs[j], ys[i])``, in one vectorised call."""
        if not isinstance(n, int) or not 2 <= n <= MAX_GRID:
            raise ValueError(f"grid size must be an integer from 2 to {MAX_GRID}, got {n!r}")
        (x0, x1), (y0, y1) = self.domain if domain is None else _check_domain(domain)
        xs, ys = np.linspace(x0, x1, n), np.linspace(y0, y1, n)
        with torch.no_grad():
            Z = self.fn(torch.from_numpy(xs).view(1, n), torch.from_numpy(ys).view(n, 1), TORCH)
        Z = torch.as_tensor(Z, dtype=torch.float64)
        if Z.shape != (n, n):  # a formula without y, without x, or constant
            Z = Z.expand(n, n).clone()
        return xs, ys, Z.numpy()

    def nearest_minimum(self, point) -> Minimum | None:
        """The listed minimum (or saddle) closest to ``point``; None when none is known."""
        if not self.minima:
            return None
        px, py = float(point[0]), float(point[1])
        return min(self.minima, key=lambda m: math.hypot(m.point[0] - px, m.point[1] - py))


def _check_point(p, what: str) -> tuple[float, float]:
    try:
        x, y = (float(v) for v in p)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a pair of numbers (x, y), got {p!r}") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ValueError(f"{what} must be finite, got ({x}, {y})")
    return (x, y)


def _check_domain(domain) -> tuple[tuple[float, float], tuple[float, float]]:
    try:
        (x0, x1), (y0, y1) = ((float(a), float(b)) for a, b in domain)
    except (TypeError, ValueError):
        raise ValueError(f"domain must be ((xmin, xmax), (ymin, ymax)), got {domain!r}") from None
    for axis, lo, hi in (("x", x0, x1), ("y", y0, y1)):
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise ValueError(f"domain {axis} range must be finite, got ({lo}, {hi})")
        if not lo < hi:
            raise ValueError(f"domain {axis} range needs min < max, got ({lo}, {hi})")
        if hi - lo > MAX_DOMAIN_WIDTH:
            raise ValueError(f"domain {axis} range is wider than {MAX_DOMAIN_WIDTH:g}: ({lo}, {hi})")
    return ((x0, x1), (y0, y1))


# ---------------------------------------------------------------- quadratics ½ (w - c)ᵀ A (w - c)
def _eigenvalues(eigenvalues) -> tuple[float, float]:
    try:
        l1, l2 = (float(v) for v in eigenvalues)
    except (TypeError, ValueError):
        raise ValueError(f"eigenvalues must be two numbers, got {eigenvalues!r}") from None
    if not (math.isfinite(l1) and math.isfinite(l2)):
        raise ValueError(f"eigenvalues must be finite, got ({l1}, {l2})")
    if l1 == 0 or l2 == 0:
        raise ValueError("eigenvalues must be non-zero (a zero eigenvalue is a flat valley with no single minimum)")
    if l1 < 0 and l2 < 0:
        raise ValueError("at least one eigenvalue must be positive (both negative make a maximum, not a minimum)")
    return l1, l2


def quadratic_matrix(eigenvalues=(1.0, 10.0), angle_deg: float = 0.0) -> np.ndarray:
    """A = R diag(λ₁, λ₂) Rᵀ with R the rotation by ``angle_deg`` (λ₁'s eigenvector is at that angle)."""
    l1, l2 = _eigenvalues(eigenvalues)
    angle = float(angle_deg)
    if not math.isfinite(angle):
        raise ValueError(f"angle must be finite, got {angle}")
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    R = np.array([[c, -s], [s, c]])
    A = R @ np.diag([l1, l2]) @ R.T
    A[np.abs(A) < 1e-15 * max(abs(l1), abs(l2))] = 0.0  # rounding noise, e.g. off-diagonals when λ₁ = λ₂
    return (A + A.T) / 2


def _shifted(name: str, c: float) -> str:
    if c == 0:
        return name
    return f"({name} - {c!r})" if c > 0 else f"({name} + {-c!r})"


def _signed(coef: float, term: str) -> str:
    return f" - {-coef!r}*{term}" if coef < 0 else f" + {coef!r}*{term}"


def quadratic_surface(eigenvalues=(1.0, 10.0), angle_deg: float = 0.0, center=(0.0, 0.0)) -> Surface:
    """½ (w − c)ᵀ A (w − c), A = R diag(λ₁, λ₂) Rᵀ.

    Both eigenvalues positive: a bowl with its minimum 0 at ``center``. One negative eigenvalue is
    allowed and makes ``center`` a saddle (``bounded_below`` False); zero or two negative are rejected.
    """
    l1, l2 = _eigenvalues(eigenvalues)
    angle = float(angle_deg)
    A = quadratic_matrix((l1, l2), angle)
    cx, cy = _check_point(center, "center")
    u, v = _shifted("x", cx), _shifted("y", cy)
    a, b, d = float(A[0, 0]), float(A[0, 1]), float(A[1, 1])
    body = f"{a!r}*{u}**2" + (_signed(2 * b, f"{u}*{v}") if b else "") + _signed(d, f"{v}**2")
    saddle = l1 < 0 or l2 < 0
    kappa = max(abs(l1), abs(l2)) / min(abs(l1), abs(l2))
    if saddle:
        watch = (f"One eigenvalue is negative, so the centre is a saddle and f falls without bound: watch how "
                 f"fast each optimizer escapes along the downhill direction (|λ| ratio κ = {kappa:g}).")
    else:
        watch = (f"Condition number κ = {kappa:g} (λmax/λmin): watch plain gradient descent zig-zag across the "
                 f"steep direction while momentum and Adam make progress along the shallow one.")
    return Surface(
        key="quadratic", label=f"Quadratic (λ = {l1:g}, {l2:g}; {angle:g}°)", expression=f"0.5*({body})",
        domain=((cx - 3.0, cx + 3.0), (cy - 3.0, cy + 3.0)), start=(cx - 2.5, cy + 2.0),
        minima=(Minimum((cx, cy), 0.0, "saddle" if saddle else "global"),),
        latex=(rf"\tfrac12 (w-c)^\top A\,(w-c),\quad A = R_{{{angle:g}^\circ}}\,"
               rf"\mathrm{{diag}}({l1:g}, {l2:g})\,R_{{{angle:g}^\circ}}^\top,\quad c = ({cx:g}, {cy:g})"),
        log_contours=not saddle, watch=watch, bounded_below=not saddle)


def expression_surface(text: str, domain=((-3.0, 3.0), (-3.0, 3.0)), start=None) -> Surface:
    """A user-typed surface; ExpressionError for a bad formula, ValueError for a bad domain or start."""
    compile_expression(text)
    (x0, x1), (y0, y1) = _check_domain(domain)
    start = (x0 + 0.25 * (x1 - x0), y0 + 0.75 * (y1 - y0)) if start is None else start
    body = text.strip()
    return Surface(
        key="custom", label=f"f(x, y) = {body}", expression=body, domain=((x0, x1), (y0, y1)), start=start,
        minima=(), latex=rf"f(x, y) = \texttt{{{body.replace('_', chr(92) + '_')}}}", log_contours=False,
        watch="Your own formula: watch where each optimizer settles, and whether it diverges.")


# ---------------------------------------------------------------- the registry
_PI = math.pi
_HIMMELBLAU = ((3.0, 2.0), (-2.805118086952745, 3.131312518250573),
               (-3.779310253377747, -3.2831859912861696), (3.5844283403304917, -1.8481265269644034))
_CAMEL3_LOCAL = (1.7475523458302888, -0.8737761729151444)
_CAMEL6 = (0.08984201310031806, -0.7126564030207396)
_STYBLINSKI = -2.9035340277711774

_ENTRIES = (
    Surface("rosenbrock", "Rosenbrock", "(1 - x)**2 + 100*(y - x**2)**2", ((-2, 2), (-1, 3)), (-1.5, 2.0),
            (Minimum((1.0, 1.0), 0.0),), r"(1-x)^2 + 100\,(y-x^2)^2", True,
            "A curved, flat-bottomed valley: reaching it is quick, following it to (1, 1) is slow; momentum overshoots "
            "the bends, and the Hessian at the minimum has condition number ≈ 2508."),
    Surface("beale", "Beale", "(1.5 - x + x*y)**2 + (2.25 - x + x*y**2)**2 + (2.625 - x + x*y**3)**2",
            ((-4.5, 4.5), (-4.5, 4.5)), (1.0, 1.5), (Minimum((3.0, 0.5), 0.0),),
            r"(1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2", True,
            "Sharp ridges around flat plateaus: watch the step size matter, and start at (3, 4) to see heavy "
            "momentum overshoot the curved valley to (3, 0.5)."),
    Surface("himmelblau", "Himmelblau", "(x**2 + y - 11)**2 + (x + y**2 - 7)**2", ((-5, 5), (-5, 5)), (-0.5, -0.5),
            tuple(Minimum(p, 0.0) for p in _HIMMELBLAU), r"(x^2 + y - 11)^2 + (x + y^2 - 7)^2", True,
            "Four equal minima around a local maximum near (−0.27, −0.92), f ≈ 181.6: watch which basin each "
            "optimizer ends up in from nearly the same start."),
    Surface("booth", "Booth", "(x + 2*y - 7)**2 + (2*x + y - 5)**2", ((-10, 10), (-10, 10)), (-7.0, -8.0),
            (Minimum((1.0, 3.0), 0.0),), r"(x + 2y - 7)^2 + (2x + y - 5)^2", True,
            "A tilted quadratic bowl (Hessian eigenvalues 2 and 18): watch gradient descent zig-zag along the "
            "narrow axis while adaptive methods go nearly straight."),
    Surface("matyas", "Matyas", "0.26*(x**2 + y**2) - 0.48*x*y", ((-10, 10), (-10, 10)), (-9.0, -5.0),
            (Minimum((0.0, 0.0), 0.0),), r"0.26\,(x^2 + y^2) - 0.48\,xy", True,
            "A nearly flat valley along x = y (curvatures 0.04 and 1): watch optimizers drop into the valley fast "
            "and then crawl along it."),
    Surface("three_hump_camel", "Three-hump camel", "2*x**2 - 1.05*x**4 + x**6/6 + x*y + y**2",
            ((-2, 2), (-2, 2)), (-1.9, 1.6),
            (Minimum((0.0, 0.0), 0.0), Minimum(_CAMEL3_LOCAL, 0.29863844223686076, "local"),
             Minimum((-_CAMEL3_LOCAL[0], -_CAMEL3_LOCAL[1]), 0.29863844223686076, "local")),
            r"2x^2 - 1.05\,x^4 + \tfrac{x^6}{6} + xy + y^2", True,
            "Two local minima flank the global one at (0, 0): watch whether momentum carries an optimizer over "
            "the hump or leaves it in a side basin."),
    Surface("six_hump_camel", "Six-hump camel", "(4 - 2.1*x**2 + x**4/3)*x**2 + x*y + (-4 + 4*y**2)*y**2",
            ((-3, 3), (-2, 2)), (-1.5, 1.5),
            (Minimum(_CAMEL6, -1.0316284534898774), Minimum((-_CAMEL6[0], -_CAMEL6[1]), -1.0316284534898774)),
            r"\left(4 - 2.1\,x^2 + \tfrac{x^4}{3}\right)x^2 + xy + (-4 + 4y^2)\,y^2", False,
            "Two mirror-image global minima and four local ones: watch the start decide which one is reached."),
    Surface("rastrigin", "Rastrigin", "20 + x**2 - 10*cos(2*pi*x) + y**2 - 10*cos(2*pi*y)",
            ((-5.12, 5.12), (-5.12, 5.12)), (-2.0, 3.5), (Minimum((0.0, 0.0), 0.0),),
            r"20 + \sum_{u \in \{x, y\}} \left(u^2 - 10\cos 2\pi u\right)", False,
            "A grid of local minima on a bowl: watch small steps get trapped in the nearest dip while large steps "
            "or momentum skip over them."),
    Surface("ackley", "Ackley",
            "-20*exp(-0.2*sqrt((x**2 + y**2)/2)) - exp((cos(2*pi*x) + cos(2*pi*y))/2) + 20 + e",
            ((-5, 5), (-5, 5)), (-4.2, 3.3), (Minimum((0.0, 0.0), 0.0),),
            r"-20\,e^{-0.2\sqrt{(x^2+y^2)/2}} - e^{(\cos 2\pi x + \cos 2\pi y)/2} + 20 + e", False,
            "A nearly flat, bumpy plain around a deep funnel whose tip (0, 0) is a kink: watch optimizers stall "
            "in the bumps, and jitter once they reach the tip."),
    Surface("goldstein_price", "Goldstein–Price",
            "(1 + (x + y + 1)**2*(19 - 14*x + 3*x**2 - 14*y + 6*x*y + 3*y**2))"
            "*(30 + (2*x - 3*y)**2*(18 - 32*x + 12*x**2 + 48*y - 36*x*y + 27*y**2))",
            ((-2, 2), (-2, 2)), (-1.0, 0.0), (Minimum((0.0, -1.0), 3.0),),
            r"\left[1 + (x+y+1)^2(19 - 14x + 3x^2 - 14y + 6xy + 3y^2)\right]"
            r"\left[30 + (2x-3y)^2(18 - 32x + 12x^2 + 48y - 36xy + 27y^2)\right]", True,
            "Values span six orders of magnitude, with local minima at f = 30, 84 and 840: fixed-step methods need "
            "lr ≈ 1e-4 to survive the steep walls; watch which of them settles at f = 30 instead of 3."),
    Surface("styblinski_tang", "Styblinski–Tang", "(x**4 - 16*x**2 + 5*x + y**4 - 16*y**2 + 5*y)/2",
            ((-5, 5), (-5, 5)), (4.5, 4.0),
            (Minimum((_STYBLINSKI, _STYBLINSKI), -78.33233140754282),),
            r"\tfrac12 \sum_{u \in \{x, y\}} \left(u^4 - 16u^2 + 5u\right)", False,
            "Four basins of different depth: from the default start, watch most optimizers settle in the shallow "
            "local minimum near (2.75, 2.75) instead of the global one near (−2.90, −2.90)."),
    Surface("saddle", "Saddle", "x**2 - y**2", ((-2, 2), (-2, 2)), (-1.8, 0.01),
            (Minimum((0.0, 0.0), 0.0, "saddle"),), r"x^2 - y^2", False,
            "Not a minimum but a saddle (Hessian eigenvalues +2 and −2), unbounded below: watch plain gradient "
            "descent slow down near (0, 0) and momentum escape faster along y.", bounded_below=False),
    Surface("branin", "Branin",
            "(y - 5.1*x**2/(4*pi**2) + 5*x/pi - 6)**2 + 10*(1 - 1/(8*pi))*cos(x) + 10",
            ((-5, 10), (0, 15)), (6.0, 12.0),
            tuple(Minimum(p, 5 / (4 * _PI)) for p in ((-_PI, 12.275), (_PI, 2.275), (3 * _PI, 2.475))),
            r"\left(y - \tfrac{5.1}{4\pi^2}x^2 + \tfrac{5}{\pi}x - 6\right)^2 + 10\left(1 - \tfrac{1}{8\pi}\right)"
            r"\cos x + 10", True,
            "Three equal minima along a curved valley: watch which one each optimizer reaches, and how the long "
            "flat valley floor slows plain gradient descent."),
    Surface("goh_banana", "Goh's banana", "(1 - x)**2 + 20*(3*y - x**2)**2", ((-2, 2), (-0.3, 1.1)), (-1.5, 0.9),
            (Minimum((1.0, 1 / 3), 0.0),), r"(1-x)^2 + 20\,(3y - x^2)^2", True,
            "The banana-shaped valley of the interactive momentum article: watch momentum speed up along the "
            "valley, and oscillate across it when β is too large."),
    quadratic_surface((1.0, 10.0), 30.0, (0.0, 0.0)),
)
SURFACES: dict[str, Surface] = {s.key: s for s in _ENTRIES}
_FACTORIES: dict[str, Callable[..., Surface]] = {"quadratic": quadratic_surface, "custom": expression_surface}
_OPTION_ALIASES = {"angle": "angle_deg", "expression": "text"}


def get_surface(key: str, **options) -> Surface:
    """A registry surface; the quadratic and custom ones also accept their factory's options."""
    if key not in SURFACES and key not in _FACTORIES:
        raise ValueError(f"unknown surface {key!r}; choose one of: {', '.join(SURFACES)}")
    if not options and key in SURFACES:
        return SURFACES[key]
    factory = _FACTORIES.get(key)
    if factory is None:
        raise ValueError(f"surface {key!r} takes no options, got: {', '.join(options)}")
    options = {_OPTION_ALIASES.get(k, k): v for k, v in options.items()}
    try:
        inspect.signature(factory).bind(**options)
    except TypeError as e:
        names = ", ".join(inspect.signature(factory).parameters)
        raise ValueError(f"surface {key!r}: {e}; its options are: {names}") from None
    return factory(**options)
