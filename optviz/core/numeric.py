"""Number types one surface definition ``fn(x, y, m)`` is evaluated on: torch tensors, IEEE floats, duals.

A surface is written once against a math namespace ``m`` and runs on three of them:

* ``TORCH``: torch functions on float64 tensors (autograd, contour grids);
* ``FLOAT``: Python floats with torch's IEEE behaviour: nothing raises, ``log(0)`` is ``-inf``,
  ``sqrt(-1)`` is ``nan``, ``exp(1000)`` is ``inf``;
* ``DUAL``: forward-mode differentiation, ``Dual(value, dx, dy)`` carries f, ∂f/∂x and ∂f/∂y.

Each namespace also has ``div`` and ``pow``, the IEEE-safe ``/`` and ``**`` that the expression
evaluator uses, and ``sign``.
"""
from __future__ import annotations

import math
import operator
from types import SimpleNamespace
from typing import Callable

import torch

inf, nan = math.inf, math.nan
_LN10, _LN2 = math.log(10.0), math.log(2.0)
FUNCTION_NAMES = ("sin", "cos", "tan", "exp", "log", "sqrt", "abs", "tanh", "sinh", "cosh", "arctan",
                  "arcsin", "arccos", "arcsinh", "log10", "log2", "sigmoid", "minimum", "maximum")


# ---------------------------------------------------------------- floats: IEEE results, never an exception
def _is_odd_integer(b: float) -> bool:
    return math.isfinite(b) and b % 2.0 == 1.0


def _fdiv(a, b):
    """a / b; division by zero gives ±inf or nan as in IEEE 754."""
    if b:
        return a / b
    if a != a or a == 0:
        return nan
    return math.copysign(inf, a) * math.copysign(1.0, b)


def _fpow(a, b):
    """a ** b as torch.pow: overflow is ±inf, 0 ** -1 is inf, a negative base to a non-integer power is nan."""
    if b == 2.0:
        return a * a
    try:
        return math.pow(a, b)
    except OverflowError:
        return -inf if a < 0 and _is_odd_integer(b) else inf
    except ValueError:  # 0 to a negative power, or a negative base to a non-integer power
        if a == 0:
            return -inf if math.copysign(1.0, a) < 0 and _is_odd_integer(b) else inf
        return nan


def _overflow_to_inf(f: Callable, signed: bool = False) -> Callable:
    def g(a):
        try:
            return f(a)
        except OverflowError:  # |a| beyond about 710
            return math.copysign(inf, a) if signed else inf
    g.__name__ = f.__name__
    return g


_fexp = _overflow_to_inf(math.exp)


def _periodic(f: Callable) -> Callable:
    def g(a):
        return f(a) if -inf < a < inf else nan  # sin(±inf) is nan, not ValueError
    g.__name__ = f.__name__
    return g


def _positive_domain(f: Callable) -> Callable:
    def g(a):
        if a > 0:
            return f(a)
        return -inf if a == 0 else nan
    g.__name__ = f.__name__
    return g


def _unit_domain(f: Callable) -> Callable:
    def g(a):
        return f(a) if -1.0 <= a <= 1.0 else nan
    g.__name__ = f.__name__
    return g


def _fsqrt(a):
    return math.sqrt(a) if a >= 0 else nan


def _fsigmoid(a):
    if a >= 0:
        return 1.0 / (1.0 + math.exp(-a))
    z = _fexp(a)  # also the nan path
    return z / (1.0 + z)


def _fsign(a):
    return 1.0 if a > 0 else -1.0 if a < 0 else 0.0  # torch.sign: 0 and nan -> 0


def _fminimum(a, b):
    return nan if a != a or b != b else a if a <= b else b


def _fmaximum(a, b):
    return nan if a != a or b != b else a if a >= b else b


FLOAT = SimpleNamespace(
    sin=_periodic(math.sin), cos=_periodic(math.cos), tan=_periodic(math.tan), exp=_fexp, sqrt=_fsqrt,
    log=_positive_domain(math.log), log10=_positive_domain(math.log10), log2=_positive_domain(math.log2),
    sinh=_overflow_to_inf(math.sinh, signed=True), cosh=_overflow_to_inf(math.cosh), tanh=math.tanh,
    arcsin=_unit_domain(math.asin), arccos=_unit_domain(math.acos), arctan=math.atan, arcsinh=math.asinh,
    abs=math.fabs, sigmoid=_fsigmoid, minimum=_fminimum, maximum=_fmaximum, sign=_fsign,
    div=_fdiv, pow=_fpow, pi=math.pi, e=math.e,
)

# ---------------------------------------------------------------- torch tensors
def _tensor(a) -> torch.Tensor:
    return a if isinstance(a, torch.Tensor) else torch.as_tensor(a, dtype=torch.float64)


def _lift_torch(f: Callable) -> Callable:
    def g(a):
        return f(a if isinstance(a, torch.Tensor) else torch.as_tensor(a, dtype=torch.float64))
    g.__name__ = f.__name__
    return g


_TORCH_NAMES = {"arctan": "atan", "arcsin": "asin", "arccos": "acos", "arcsinh": "asinh"}
TORCH = SimpleNamespace(
    **{n: _lift_torch(getattr(torch, _TORCH_NAMES.get(n, n))) for n in FUNCTION_NAMES[:-2]},
    minimum=lambda a, b: torch.minimum(_tensor(a), _tensor(b)),
    maximum=lambda a, b: torch.maximum(_tensor(a), _tensor(b)),
    sign=_lift_torch(torch.sign),
    div=lambda a, b: a / b if isinstance(a, torch.Tensor) else _tensor(a) / b,
    pow=lambda a, b: a ** b if isinstance(a, torch.Tensor) else _tensor(a) ** b,
    pi=math.pi, e=math.e,
)


# ---------------------------------------------------------------- duals: forward-mode derivatives
class Dual:
    """``value + dx·εx + dy·εy`` with εx² = εy² = εx·εy = 0: a value and its gradient in (x, y).

    The three fields are all Python floats or all torch tensors; arithmetic takes the float path
    (IEEE-safe helpers, no exceptions) or the torch path according to the value's type.
    """

    __slots__ = ("value", "dx", "dy")

    def __init__(self, value, dx, dy):
        self.value = value
        self.dx = dx
        self.dy = dy

    def __repr__(self) -> str:
        return f"Dual({self.value!r}, {self.dx!r}, {self.dy!r})"

    def __neg__(self):
        return Dual(-self.value, -self.dx, -self.dy)

    def __pos__(self):
        return self

    def __abs__(self):
        return DUAL.abs(self)

    def __add__(self, o):
        if type(o) is Dual:
            return Dual(self.value + o.value, self.dx + o.dx, self.dy + o.dy)
        return Dual(self.value + o, self.dx, self.dy)

    def __radd__(self, o):
        return Dual(o + self.value, self.dx, self.dy)

    def __sub__(self, o):
        if type(o) is Dual:
            return Dual(self.value - o.value, self.dx - o.dx, self.dy - o.dy)
        return Dual(self.value - o, self.dx, self.dy)

    def __rsub__(self, o):
        return Dual(o - self.value, -self.dx, -self.dy)

    def __mul__(self, o):
        if type(o) is Dual:
            a, b = self.value, o.value
            return Dual(a * b, a * o.dx + b * self.dx, a * o.dy + b * self.dy)
        return Dual(self.value * o, self.dx * o, self.dy * o)

    def __rmul__(self, o):
        return Dual(o * self.value, o * self.dx, o * self.dy)

    def __truediv__(self, o):
        a = self.value
        if type(o) is Dual:
            b = o.value
            div = _fdiv if type(b) is float and not b else operator.truediv
            v = div(a, b)
            w = div(v, b)
            return Dual(v, div(self.dx, b) - w * o.dx, div(self.dy, b) - w * o.dy)
        div = _fdiv if type(a) is float and not o else operator.truediv
        return Dual(div(a, o), div(self.dx, o), div(self.dy, o))

    def __rtruediv__(self, o):
        a = self.value
        div = _fdiv if type(a) is float and not a else operator.truediv
        v = div(o, a)
        w = -div(v, a)
        return Dual(v, w * self.dx, w * self.dy)

    def __pow__(self, o):
        if type(o) is Dual:
            return _pow_dual(self, o)
        if not isinstance(o, (int, float)):
            return _pow_dual(self, Dual(o, 0.0, 0.0))
        a = self.value
        if type(a) is float:
            if o == 2:
                d = 2.0 * a
                return Dual(a * a, d * self.dx, d * self.dy)
            v = _fpow(a, o)
            d = o * _fpow(a, o - 1.0) if o else 0.0
        elif o == 2:
            v, d = a * a, 2.0 * a
        else:
            v = a ** o
            d = o * a ** (o - 1.0) if o else 0.0
        return Dual(v, d * self.dx, d * self.dy)

    def __rpow__(self, o):
        a = self.value
        if type(a) is float:
            v = _fpow(o, a)
            d = 0.0 if o == 0 and a >= 0 else v * FLOAT.log(o)
        else:
            v = o ** a
            d = torch.where(a >= 0, 0.0, v * -inf) if o == 0 else v * FLOAT.log(o)
        return Dual(v, d * self.dx, d * self.dy)


def _pow_dual(a: Dual, b: Dual) -> Dual:
    """d(a**b) = b·a**(b-1)·da + a**b·log(a)·db, with torch's zero masks where b == 0 or a == 0 ≤ b."""
    x, p = a.value, b.value
    if type(x) is float and type(p) is float:
        v = _fpow(x, p)
        da = p * _fpow(x, p - 1.0) if p else 0.0
        db = 0.0 if x == 0 and p >= 0 else v * FLOAT.log(x)
    else:
        x, p = _tensor(x), _tensor(p)
        v = x ** p
        da = torch.where(p == 0, 0.0, p * x ** (p - 1.0))
        db = torch.where((x == 0) & (p >= 0), 0.0, v * torch.log(x))
    return Dual(v, da * a.dx + db * b.dx, da * a.dy + db * b.dy)


# derivative of each function as (x, f(x), namespace) -> f'(x); mirrors torch's backward formulas
_DERIVATIVES: dict[str, Callable] = {
    "sin": lambda x, v, k: k.cos(x),
    "cos": lambda x, v, k: -k.sin(x),
    "tan": lambda x, v, k: 1.0 + v * v,
    "exp": lambda x, v, k: v,
    "log": lambda x, v, k: k.div(1.0, x),
    "log10": lambda x, v, k: k.div(1.0, x * _LN10),
    "log2": lambda x, v, k: k.div(1.0, x * _LN2),
    "sqrt": lambda x, v, k: k.div(0.5, v),
    "abs": lambda x, v, k: k.sign(x),
    "tanh": lambda x, v, k: 1.0 - v * v,
    "sinh": lambda x, v, k: k.cosh(x),
    "cosh": lambda x, v, k: k.sinh(x),
    "arctan": lambda x, v, k: k.div(1.0, 1.0 + x * x),
    "arcsin": lambda x, v, k: k.div(1.0, k.sqrt(1.0 - x * x)),
    "arccos": lambda x, v, k: -k.div(1.0, k.sqrt(1.0 - x * x)),
    "arcsinh": lambda x, v, k: k.div(1.0, k.sqrt(x * x + 1.0)),
    "sigmoid": lambda x, v, k: v * (1.0 - v),
}


def _plain(name: str) -> Callable:
    """FLOAT's or TORCH's function ``name``, chosen by the (non-dual) arguments."""
    f_float, f_torch = getattr(FLOAT, name), getattr(TORCH, name)

    def f(*args):
        return (f_float if all(isinstance(a, (int, float)) for a in args) else f_torch)(*args)
    return f


def _dual_unary(name: str) -> Callable:
    f_float, f_torch, deriv, plain = getattr(FLOAT, name), getattr(TORCH, name), _DERIVATIVES[name], _plain(name)

    def f(a):
        if type(a) is not Dual:
            return plain(a)
        x = a.value
        if type(x) is float:
            v = f_float(x)
            d = deriv(x, v, FLOAT)
        else:
            v = f_torch(x)
            d = deriv(x, v, TORCH)
        return Dual(v, d * a.dx, d * a.dy)
    f.__name__ = name
    return f


def _dual_pick(lower: bool) -> Callable:
    """minimum (lower) or maximum; at a tie each side gets half the gradient, as in torch."""
    name = "minimum" if lower else "maximum"
    plain, plain_torch = _plain(name), getattr(TORCH, name)

    def pick(a, b):
        if type(a) is not Dual and type(b) is not Dual:
            return plain(a, b)
        a = a if type(a) is Dual else Dual(a, 0.0, 0.0)
        b = b if type(b) is Dual else Dual(b, 0.0, 0.0)
        av, bv = a.value, b.value
        if isinstance(av, (int, float)) and isinstance(bv, (int, float)):
            if av != av or bv != bv:
                return Dual(nan, nan, nan)
            if av == bv:
                return Dual(av, 0.5 * (a.dx + b.dx), 0.5 * (a.dy + b.dy))
            return a if (av < bv) == lower else b
        av, bv = _tensor(av), _tensor(bv)
        wa = ((av < bv) if lower else (av > bv)).to(av.dtype)
        wa = torch.where(av == bv, 0.5, wa)
        wb = 1.0 - wa
        return Dual(plain_torch(av, bv), wa * a.dx + wb * b.dx, wa * a.dy + wb * b.dy)
    pick.__name__ = name
    return pick


def _dual_binary(name: str, op: Callable) -> Callable:
    plain = _plain(name)

    def f(a, b):
        return op(a, b) if type(a) is Dual or type(b) is Dual else plain(a, b)
    f.__name__ = name
    return f


_sign = _plain("sign")
DUAL = SimpleNamespace(
    **{n: _dual_unary(n) for n in _DERIVATIVES},
    minimum=_dual_pick(True), maximum=_dual_pick(False),
    sign=lambda a: _sign(a.value if type(a) is Dual else a),  # a step function: no derivative
    div=_dual_binary("div", operator.truediv), pow=_dual_binary("pow", operator.pow),
    pi=math.pi, e=math.e,
)


# ---------------------------------------------------------------- gradients
def value_and_grad(fn: Callable, x: float, y: float) -> tuple[float, float, float]:
    """f, ∂f/∂x, ∂f/∂y of ``fn(x, y, m)`` at one point, by forward-mode duals on floats."""
    r = fn(Dual(float(x), 1.0, 0.0), Dual(float(y), 0.0, 1.0), DUAL)
    if type(r) is Dual:
        return float(r.value), float(r.dx), float(r.dy)
    return float(r), 0.0, 0.0


def value_and_grad_batch(fn: Callable, X, Y) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """F, ∂F/∂X, ∂F/∂Y elementwise (float64 tensors shaped like the broadcast of X and Y)."""
    X, Y = torch.broadcast_tensors(torch.as_tensor(X, dtype=torch.float64), torch.as_tensor(Y, dtype=torch.float64))
    one, zero = torch.ones_like(X), torch.zeros_like(X)
    r = fn(Dual(X, one, zero), Dual(Y, zero, one), DUAL)
    parts = (r.value, r.dx, r.dy) if type(r) is Dual else (r, 0.0, 0.0)
    out = []
    for p in parts:
        t = torch.as_tensor(p, dtype=torch.float64)
        if t.shape != X.shape or t is X or t is Y or t is one or t is zero:
            t = t.expand(X.shape).clone()
        out.append(t)
    return out[0], out[1], out[2]
