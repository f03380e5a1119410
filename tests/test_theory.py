"""Momentum theory on quadratics: closed forms, the worked example, and predictions checked against real torch runs."""
import math

import numpy as np
import pytest

from optviz.core.engine import run
from optviz.core.surfaces import SURFACES, expression_surface, get_surface
from optviz.lessons.theory import (
    analyse_run,
    best_gd,
    best_momentum,
    critical_beta,
    direction_rate,
    local_quadratic,
    momentum_roots,
    observed_rate,
    rate,
    rate_map,
    rate_plane,
    stable,
)


def sgd_on_quadratic(eigenvalues, angle, alpha, beta, steps, start=(-2.5, 2.0), center=(0.0, 0.0)):
    config = {"problem": {"surface": "quadratic", "start": list(start),
                          "options": {"eigenvalues": list(eigenvalues), "angle": angle, "center": list(center)}},
              "optimizer": {"name": "SGD", "options": {"lr": alpha, "momentum": beta}}, "steps": steps}
    trace = run(config)
    return trace, analyse_run(trace, eigenvalues, angle, center)


# -- the worked example of the reference -----------------------------------------------------------

def test_rosenbrock_at_its_minimum_gives_the_reference_numbers():
    lq = local_quadratic(SURFACES["rosenbrock"], (1.0, 1.0))
    assert lq.hessian == ((802.0, -400.0), (-400.0, 200.0))
    assert lq.kappa == pytest.approx(2508, rel=1e-3)
    assert lq.center == pytest.approx((1.0, 1.0), abs=1e-12)
    gd, hb = best_gd(*lq.eigenvalues), best_momentum(*lq.eigenvalues)
    assert gd.alpha == pytest.approx(1.996e-3, abs=5e-7)
    assert round(gd.rate, 5) == 0.99920
    assert hb.alpha == pytest.approx(3.839e-3, abs=5e-7)
    assert round(hb.beta, 5) == 0.92322
    assert round(hb.rate, 5) == 0.96085


def test_local_quadratic_options_rebuild_the_same_hessian():
    lq = local_quadratic(SURFACES["himmelblau"], (3.2, 1.7))
    quad = get_surface("quadratic", **lq.options())
    again = local_quadratic(quad, (0.3, -0.4))
    assert again.eigenvalues == pytest.approx(lq.eigenvalues, rel=1e-9)
    assert np.allclose(again.hessian, lq.hessian, rtol=1e-9, atol=1e-9)
    assert again.center == pytest.approx(lq.center, abs=1e-9)
    assert lq.problem()["surface"] == "quadratic"


def test_local_quadratic_refuses_flat_and_maximum_points_and_flags_saddles():
    with pytest.raises(ValueError, match="zero eigenvalue"):
        local_quadratic(expression_surface("x**2"), (0.5, 0.5))
    with pytest.raises(ValueError, match="maximum"):
        local_quadratic(expression_surface("-(x**2) - 2*y**2"), (0.1, 0.1))
    saddle = local_quadratic(SURFACES["saddle"], (0.0, 0.0))
    assert not saddle.is_bowl and saddle.eigenvalues == pytest.approx((-2.0, 2.0))


# -- closed forms ----------------------------------------------------------------------------------

@pytest.mark.parametrize("l1, ln", [(1.0, 10.0), (0.3, 50.0), (2.0, 2.0 * 2508), (1.0, 1.0)])
def test_optimal_pair_formulas(l1, ln):
    hb, gd = best_momentum(l1, ln), best_gd(l1, ln)
    k = ln / l1
    assert hb.rate == pytest.approx((math.sqrt(k) - 1) / (math.sqrt(k) + 1), abs=1e-12)
    assert float(rate(hb.alpha, hb.beta, (l1, ln))) == pytest.approx(hb.rate, abs=1e-7)
    # at α*, β* both ends of the spectrum are critically damped
    assert float(critical_beta(hb.alpha, l1)) == pytest.approx(hb.beta, abs=1e-12)
    assert float(critical_beta(hb.alpha, ln)) == pytest.approx(hb.beta, abs=1e-12)
    assert abs(1 - gd.alpha * l1) == pytest.approx(abs(1 - gd.alpha * ln), abs=1e-12)
    assert gd.rate == pytest.approx((k - 1) / (k + 1), abs=1e-12)
    # no setting on a fine grid beats them
    alphas = np.geomspace(hb.alpha / 3, hb.alpha * 1.9, 301)
    assert rate_map(alphas, np.linspace(0, 0.999, 301), (l1, ln)).min() >= hb.rate - 1e-3
    assert rate(alphas, 0.0, (l1, ln)).min() >= gd.rate - 1e-12


def test_complex_roots_have_modulus_sqrt_beta_not_twice_it():
    rng = np.random.default_rng(1)
    alpha, beta, lam = rng.uniform(0.01, 0.3, 200), rng.uniform(0.2, 0.99, 200), rng.uniform(0.5, 10, 200)
    a = 1 - alpha * lam + beta
    complex_ = a * a < 4 * beta
    assert complex_.sum() > 50
    s1, s2 = momentum_roots(alpha, beta, lam)
    assert np.allclose(np.abs(s1[complex_]), np.sqrt(beta[complex_]), rtol=1e-12)
    assert np.allclose(np.abs(s2[complex_]), np.sqrt(beta[complex_]), rtol=1e-12)
    assert np.allclose(direction_rate(alpha, beta, lam), np.maximum(np.abs(s1), np.abs(s2)), rtol=1e-12)


def test_rate_is_below_one_exactly_where_stable():
    lam = (1.0, 10.0)
    plane = rate_plane(lam, 0.1, 0.5, n_alpha=90, n_beta=70)
    a, b = np.meshgrid(plane.alphas, plane.betas)
    inside = stable(a, b, lam[1])
    # away from the boundary itself (where the rate is 1 up to rounding)
    margin = np.abs(a * lam[1] - (2 + 2 * b)) > 1e-6
    assert np.array_equal((plane.rates < 1)[margin], inside[margin])
    assert np.allclose(plane.boundary, (2 + 2 * plane.betas) / lam[1])


# -- predictions against torch ---------------------------------------------------------------------

CASES = [  # eigenvalues, angle, α, β
    ((1.0, 10.0), 30.0, 0.05, 0.0),           # gradient descent
    ((1.0, 100.0), 20.0, 0.019, 0.0),
    ((1.0, 100.0), 20.0, 0.03, 0.6),          # real roots along λ₁, complex along λ₂
    ((1.0, 50.0), 10.0, 0.01, 0.1),
    ((1.0, 10.0), 30.0, 0.1, 0.5),            # complex roots in both directions: rate √β
    ((2.0, 20.0), -45.0, 0.05, 0.81),         # complex in both: rate 0.9
    ((1.0, 10.0), 30.0, 0.25, 0.3),
]


@pytest.mark.parametrize("eigenvalues, angle, alpha, beta", CASES)
def test_observed_rate_of_torch_matches_prediction(eigenvalues, angle, alpha, beta):
    trace, qr = sgd_on_quadratic(eigenvalues, angle, alpha, beta, 1500)
    assert trace.diverged_at is None
    assert qr.observed == pytest.approx(qr.predicted_rate, rel=0.012)
    # the theory's recurrence reproduces torch's path and momentum buffer along each eigenvector
    scale = np.abs(qr.errors).max()
    assert np.abs(qr.errors - qr.predicted_errors).max() <= 1e-9 * scale
    if beta > 0:
        assert np.abs(qr.buffers - qr.predicted_buffers).max() <= 1e-9 * np.abs(qr.buffers).max()
    for i, lam in enumerate(eigenvalues):
        c = (1 - alpha * lam + beta) ** 2 < 4 * beta
        if c:
            assert qr.direction_rates[i] == pytest.approx(math.sqrt(beta), abs=1e-12)


def test_rosenbrock_local_quadratic_at_the_optimum_runs_at_the_predicted_rate():
    lq = local_quadratic(SURFACES["rosenbrock"], (1.0, 1.0))
    hb = best_momentum(*lq.eigenvalues)
    trace, qr = sgd_on_quadratic(lq.eigenvalues, lq.angle, hb.alpha, hb.beta, 1200, start=(0.5, 0.8), center=lq.center)
    assert trace.diverged_at is None
    # a double root adds a factor k to σ^k, so the fitted rate is a little above the prediction, never below
    assert hb.rate - 1e-4 <= qr.observed <= hb.rate + 0.006


@pytest.mark.parametrize("beta", [0.0, 0.5, 0.9])
def test_stability_boundary_just_inside_converges_just_outside_diverges(beta):
    lam = (1.0, 10.0)
    edge = (2 + 2 * beta) / lam[1]
    _, inside = sgd_on_quadratic(lam, 30.0, 0.97 * edge, beta, 1500)
    trace, outside = sgd_on_quadratic(lam, 30.0, 1.03 * edge, beta, 1500)
    assert inside.predicted_rate < 1 < outside.predicted_rate
    assert inside.distances[-1] < 1e-6 * inside.distances[0]
    assert outside.observed > 1
    assert trace.diverged_at is not None or outside.distances[-1] > 1e3 * outside.distances[0]


# -- the fit itself --------------------------------------------------------------------------------

def test_observed_rate_is_robust():
    k = np.arange(400)
    assert observed_rate(0.9 ** k) == pytest.approx(0.9, rel=1e-9)
    floored = np.maximum(3.0 * 0.7 ** k, 1e-16 * (1 + 0.3 * np.sin(k)))   # sits at rounding level after ~100 steps
    assert observed_rate(floored) == pytest.approx(0.7, rel=1e-6)
    exact = np.where(k < 30, 0.5 ** k, 0.0)                                # reaches exactly zero
    assert observed_rate(exact) == pytest.approx(0.5, rel=1e-9)
    spiral = 0.95 ** k * np.abs(np.cos(0.4 * k + 0.3))
    assert observed_rate(spiral) == pytest.approx(0.95, rel=5e-3)
    growing = np.concatenate([1.2 ** k[:60], [np.inf, np.nan]])
    assert observed_rate(growing) == pytest.approx(1.2, rel=1e-9)
    assert observed_rate([1.0, 0.0]) == 0.0
    assert math.isnan(observed_rate([0.0, 1.0]))
