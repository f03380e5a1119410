"""The surface registry, held to the independent reference table (shared/reference/test-functions.md)."""
import ast
import math

import numpy as np
import pytest
import torch
from torch.autograd.functional import hessian

from optviz.core.expr import FUNCTIONS, ExpressionError
from optviz.core.numeric import DUAL, TORCH, Dual
from optviz.core.surfaces import SURFACES, Minimum, expression_surface, get_surface, quadratic_matrix, quadratic_surface

T = torch.float64

# key -> (global minimisers, f*, plot domain), copied from the reference table
REFERENCE = {
    "rosenbrock": ([(1, 1)], 0.0, ((-2, 2), (-1, 3))),
    "beale": ([(3, 0.5)], 0.0, ((-4.5, 4.5), (-4.5, 4.5))),
    "himmelblau": ([(3, 2), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848126)], 0.0,
                   ((-5, 5), (-5, 5))),
    "booth": ([(1, 3)], 0.0, ((-10, 10), (-10, 10))),
    "matyas": ([(0, 0)], 0.0, ((-10, 10), (-10, 10))),
    "three_hump_camel": ([(0, 0)], 0.0, ((-2, 2), (-2, 2))),
    "six_hump_camel": ([(0.089842, -0.712656), (-0.089842, 0.712656)], -1.031628, ((-3, 3), (-2, 2))),
    "rastrigin": ([(0, 0)], 0.0, ((-5.12, 5.12), (-5.12, 5.12))),
    "ackley": ([(0, 0)], 0.0, ((-5, 5), (-5, 5))),
    "goldstein_price": ([(0, -1)], 3.0, ((-2, 2), (-2, 2))),
    "styblinski_tang": ([(-2.903534, -2.903534)], -78.332331, ((-5, 5), (-5, 5))),
    "branin": ([(-math.pi, 12.275), (math.pi, 2.275), (9.42478, 2.475)], 0.397887, ((-5, 10), (0, 15))),
    "goh_banana": ([(1, 1 / 3)], 0.0, ((-2, 2), (-0.3, 1.1))),
}
THREE_HUMP_LOCAL = ([(1.747552, -0.873776), (-1.747552, 0.873776)], 0.298638)
KINKED = {"ackley"}  # not differentiable at its minimum (the tip of a cone)
KEYS = list(SURFACES)


def _near(p, q, tol):
    return abs(p[0] - q[0]) <= tol and abs(p[1] - q[1]) <= tol


def _grad(surface, x, y):
    p = torch.tensor([x, y], dtype=T, requires_grad=True)
    (g,) = torch.autograd.grad(surface.value(p[0], p[1]), p)
    return g


def test_registry_has_the_reference_keys_and_the_quadratic():
    assert set(SURFACES) == set(REFERENCE) | {"saddle", "quadratic"}
    assert all(key == s.key for key, s in SURFACES.items())


@pytest.mark.parametrize("key", list(REFERENCE))
def test_global_minima_match_the_reference(key):
    points, f_star, domain = REFERENCE[key]
    s = SURFACES[key]
    globals_ = [m for m in s.minima if m.kind == "global"]
    assert len(globals_) == len(points)
    for p in points:
        assert any(_near(m.point, p, 1e-5) for m in globals_), p
    for m in globals_:
        assert m.value == pytest.approx(f_star, abs=1e-6)
        assert s.value(*m.point).item() == pytest.approx(f_star, abs=1e-6)
    assert s.domain == domain
    assert s.bounded_below


def test_three_hump_camel_local_minima():
    points, f_local = THREE_HUMP_LOCAL
    local = [m for m in SURFACES["three_hump_camel"].minima if m.kind == "local"]
    assert len(local) == 2
    for p in points:
        assert any(_near(m.point, p, 1e-6) for m in local)
    for m in local:
        assert m.value == pytest.approx(f_local, abs=1e-6)


def test_saddle():
    s = SURFACES["saddle"]
    assert s.minima == (Minimum((0.0, 0.0), 0.0, "saddle"),) and not s.bounded_below
    H = hessian(lambda p: s.value(p[0], p[1]), torch.zeros(2, dtype=T))
    torch.testing.assert_close(torch.linalg.eigvalsh(H), torch.tensor([-2.0, 2.0], dtype=T))


@pytest.mark.parametrize("key", KEYS)
def test_listed_values_and_zero_gradients(key):
    s = SURFACES[key]
    assert s.minima
    for m in s.minima:
        assert s.value(*m.point).item() == pytest.approx(m.value, abs=1e-9)
        if key in KINKED:  # a strict minimum on every small circle around it instead
            t = torch.linspace(0, 2 * math.pi, 64, dtype=T)
            for r in (1e-6, 1e-3, 0.1):
                ring = s.value(m.point[0] + r * torch.cos(t), m.point[1] + r * torch.sin(t))
                assert (ring > m.value).all()
            continue
        assert _grad(s, *m.point).abs().max().item() <= 1e-5, m


@pytest.mark.parametrize("key", KEYS)
def test_start_and_minima_inside_domain(key):
    s = SURFACES[key]
    (x0, x1), (y0, y1) = s.domain
    for p in (s.start, *(m.point for m in s.minima)):
        assert x0 <= p[0] <= x1 and y0 <= p[1] <= y1, p
    assert all(m.kind in ("global", "local", "saddle") for m in s.minima)
    assert s.label and s.latex and s.watch.strip()


@pytest.mark.parametrize("key", KEYS)
def test_expression_is_plain_python_over_torch_names(key):
    tree = ast.parse(SURFACES[key].expression, mode="eval")
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert names <= {"x", "y", "pi", "e"} | {f for f in FUNCTIONS if hasattr(torch, f)}


@pytest.mark.parametrize("key", KEYS)
def test_grid(key):
    s = SURFACES[key]
    xs, ys, Z = s.grid(61)
    (x0, x1), (y0, y1) = s.domain
    assert xs.shape == ys.shape == (61,) and Z.shape == (61, 61) and Z.dtype == np.float64
    assert (xs[0], xs[-1], ys[0], ys[-1]) == (x0, x1, y0, y1)
    assert np.isfinite(Z).all()
    for i, j in ((0, 0), (5, 40), (60, 13), (30, 30)):
        assert Z[i, j] == pytest.approx(s.value_and_grad(xs[j], ys[i])[0], rel=1e-12, abs=1e-12)
    xs2, ys2, Z2 = s.grid(5, domain=((0, 1), (2, 3)))
    assert Z2.shape == (5, 5) and xs2[-1] == 1 and ys2[0] == 2


@pytest.mark.parametrize("key", KEYS)
def test_dual_gradient_equals_autograd(key):
    s = SURFACES[key]
    (x0, x1), (y0, y1) = s.domain
    g = torch.Generator().manual_seed(sum(map(ord, key)))
    X = x0 + (x1 - x0) * torch.rand(6, generator=g, dtype=T)
    Y = y0 + (y1 - y0) * torch.rand(6, generator=g, dtype=T)
    x, y = X.clone().requires_grad_(), Y.clone().requires_grad_()
    f = s.fn(x, y, TORCH)
    gx, gy = torch.autograd.grad(f.sum(), (x, y))
    F, GX, GY = s.value_and_grad_batch(X, Y)
    for got, want in ((F, f.detach()), (GX, gx), (GY, gy)):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    for i in range(len(X)):
        got = torch.tensor(s.value_and_grad(float(X[i]), float(Y[i])), dtype=T)
        torch.testing.assert_close(got, torch.stack([f[i].detach(), gx[i], gy[i]]), rtol=1e-12, atol=1e-12)
    d = s.fn(Dual(float(X[0]), 1.0, 0.0), Dual(float(Y[0]), 0.0, 1.0), DUAL)
    assert isinstance(d.value, float) and isinstance(d.dx, float)


def test_rosenbrock_hessian_at_minimum():
    s = SURFACES["rosenbrock"]
    H = hessian(lambda p: s.value(p[0], p[1]), torch.ones(2, dtype=T))
    torch.testing.assert_close(H, torch.tensor([[802.0, -400.0], [-400.0, 200.0]], dtype=T), rtol=0, atol=1e-10)


@pytest.mark.parametrize("eigenvalues, angle, center", [
    ((1.0, 10.0), 30.0, (0.0, 0.0)), ((1.0, 10.0), 0.0, (1.5, -2.0)), ((0.5, 200.0), -75.0, (-1.0, 0.25)),
    ((3.0, 3.0), 45.0, (0.0, 0.0)), ((2.0, -1.0), 20.0, (0.5, 0.5)),
])
def test_quadratic_factory(eigenvalues, angle, center):
    s = quadratic_surface(eigenvalues, angle, center)
    A = quadratic_matrix(eigenvalues, angle)
    H = hessian(lambda p: s.value(p[0], p[1]), torch.tensor([0.3, -0.7], dtype=T))
    torch.testing.assert_close(H, torch.from_numpy(A), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.linalg.eigvalsh(A), sorted(eigenvalues), rtol=1e-12)
    (m,) = s.minima
    assert m.point == center and m.value == 0.0
    assert s.value(*center).item() == pytest.approx(0.0, abs=1e-12)
    assert _grad(s, *center).abs().max().item() <= 1e-12
    saddle = min(eigenvalues) < 0
    assert (m.kind == "saddle") == saddle and s.bounded_below == (not saddle)
    kappa = max(map(abs, eigenvalues)) / min(map(abs, eigenvalues))
    assert f"κ = {kappa:g}" in s.watch


def test_quadratic_rotation_and_default_entry():
    c, sn = math.cos(math.radians(30)), math.sin(math.radians(30))
    np.testing.assert_allclose(quadratic_matrix((1, 10), 30) @ [c, sn], [c, sn], rtol=1e-12)
    assert SURFACES["quadratic"] == quadratic_surface((1.0, 10.0), 30.0, (0.0, 0.0))
    assert "condition number" in SURFACES["quadratic"].watch.lower()


@pytest.mark.parametrize("eigenvalues", [(0.0, 1.0), (-1.0, -2.0), (math.nan, 1.0), (math.inf, 1.0), (1.0,), "ab"])
def test_quadratic_rejects_bad_eigenvalues(eigenvalues):
    with pytest.raises(ValueError, match="eigenvalue"):
        quadratic_surface(eigenvalues)


def test_expression_surface():
    s = expression_surface("x**2 + 10*y**2")
    assert (s.key, s.label, s.minima, s.log_contours) == ("custom", "f(x, y) = x**2 + 10*y**2", (), False)
    assert s.start == (-1.5, 1.5) and s.domain == ((-3.0, 3.0), (-3.0, 3.0))
    assert s.value_and_grad(1.0, 1.0) == (11.0, 2.0, 20.0)
    assert expression_surface("x", domain=((0, 4), (0, 8))).start == (1.0, 6.0)
    assert s.nearest_minimum((0, 0)) is None
    c = expression_surface("3")
    x = torch.tensor(1.0, dtype=T, requires_grad=True)
    c.value(x, torch.tensor(2.0, dtype=T)).backward()
    assert x.grad.item() == 0.0 and c.grid(4)[2].tolist() == [[3.0] * 4] * 4


@pytest.mark.parametrize("text", ["__import__('os')", "x^2", "", "x +", "sin(x"])
def test_expression_surface_rejects_bad_formulas(text):
    with pytest.raises(ExpressionError):
        expression_surface(text)


@pytest.mark.parametrize("domain", [((0, math.inf), (0, 1)), ((1, 0), (0, 1)), ((0, 1), (2, 2)),
                                    ((-1e6, 1e6), (0, 1)), ((0, 1),), "square", ((0, 1), (0, math.nan))])
def test_expression_surface_rejects_bad_domains(domain):
    with pytest.raises(ValueError, match="domain") as info:
        expression_surface("x*y", domain=domain)
    assert not isinstance(info.value, ExpressionError)


def test_get_surface():
    assert get_surface("rosenbrock") is SURFACES["rosenbrock"]
    with pytest.raises(ValueError, match=r"unknown surface 'foo'; choose one of: rosenbrock, beale"):
        get_surface("foo")
    with pytest.raises(ValueError, match="takes no options"):
        get_surface("rosenbrock", scale=2)
    q = get_surface("quadratic", eigenvalues=[2, 8], angle=10, center=[1, 1])
    assert q == quadratic_surface((2.0, 8.0), 10.0, (1.0, 1.0))
    with pytest.raises(ValueError, match="options are"):
        get_surface("quadratic", tilt=3)
    assert get_surface("custom", text="x*y").expression == "x*y"


def test_nearest_minimum():
    s = SURFACES["himmelblau"]
    assert _near(s.nearest_minimum((3.5, -2.0)).point, (3.584428, -1.848126), 1e-6)
    assert s.nearest_minimum((2.9, 2.1)).point == (3.0, 2.0)
