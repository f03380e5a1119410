"""The Invariance Lab: SGD is rotation-equivariant on a quadratic and the per-coordinate optimizers are not (real torch runs)."""
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from optviz.core.engine import run, surface_of
from optviz.core.specs import ConfigError
from optviz.figures.invariance import angle_figure, eigen_figure, paths_figure
from optviz.lessons.invariance import (
    LION,
    InvarianceSetup,
    angle_curve,
    config_at,
    eigen_path,
    from_eigen,
    parse_setup,
    setup_from_query,
    setup_to_query,
    steps_to_tol,
    to_eigen,
)

PAGE = Path(__file__).resolve().parent.parent / "pages" / "invariance_lab.py"
SMALL = InvarianceSetup(steps=120, tol=1e-2)


def eigen_run(setup, name, angle):
    return eigen_path(run(config_at(setup, name, angle)), angle)


def test_eigen_transform_maps_eigenvectors_to_axes():
    a = 30.0
    q1 = np.array([np.cos(np.radians(a)), np.sin(np.radians(a))])
    q2 = np.array([-np.sin(np.radians(a)), np.cos(np.radians(a))])
    centre = (1.0, -2.0)
    got = to_eigen(np.array([centre + 2 * q1, centre + 3 * q2, centre]), a, centre)
    assert np.allclose(got, [[2, 0], [0, 3], [0, 0]], atol=1e-12)
    pts = np.random.default_rng(0).normal(size=(7, 2))
    assert np.allclose(from_eigen(to_eigen(pts, 71.0, centre), 71.0, centre), pts, atol=1e-12)


def test_eigen_coordinates_diagonalise_the_surface():
    """The run's surface, read in eigen-coordinates, is ½(λ₁u² + λ₂v²): the transform matches the surface's rotation."""
    setup = InvarianceSetup(eigenvalues=(1.0, 20.0), angle=37.0)
    surface = surface_of(config_at(setup, "SGD"))
    u = np.array([[0.7, -0.3], [-1.1, 0.4]])
    w = from_eigen(u, 37.0)
    expected = 0.5 * (1.0 * u[:, 0] ** 2 + 20.0 * u[:, 1] ** 2)
    assert np.allclose([float(surface.value(*p)) for p in w], expected, rtol=1e-12)


def test_start_turns_with_the_surface():
    for a in (0.0, 45.0, 90.0):
        assert np.allclose(to_eigen(config_at(SMALL, "Adam", a).problem.start, a), SMALL.start, atol=1e-12)


@pytest.mark.parametrize("angle", [10.0, 30.0, 45.0, 60.0, 90.0])
def test_sgd_path_in_eigen_coordinates_is_the_same_at_every_angle(angle):
    reference = eigen_run(SMALL, "SGD", 0.0)
    assert np.abs(eigen_run(SMALL, "SGD", angle) - reference).max() < 1e-10


@pytest.mark.parametrize("name", ["Adam", "RMSprop", "Adagrad", LION])
def test_per_coordinate_optimizers_change_shape_when_the_surface_turns(name):
    gap = np.abs(eigen_run(SMALL, name, 45.0) - eigen_run(SMALL, name, 0.0)).max()
    assert gap > 0.1, f"{name}'s eigen-coordinate path moved only {gap:g} between 0° and 45°"


@pytest.mark.parametrize("angle", [0.0, 30.0, 45.0])
def test_sign_steps_move_every_coordinate_by_lr(angle):
    """Lion moves each of x and y by exactly lr every step; Adam's first step is lr·sign(g), whatever the gradient's size."""
    lion = np.abs(np.diff(run(config_at(SMALL, LION, angle)).positions, axis=0))
    assert np.allclose(lion, SMALL.lrs[LION], rtol=1e-12, atol=0)
    adam = run(config_at(SMALL, "Adam", angle))
    assert np.allclose(adam.positions[1] - adam.positions[0], -SMALL.lrs["Adam"] * np.sign(adam.grads[0]), rtol=1e-6, atol=0)


def test_steps_to_tol_flat_for_sgd_and_not_for_adam():
    sgd, adam = angle_curve(SMALL, "SGD", (0, 30, 45, 90)), angle_curve(SMALL, "Adam", (0, 30, 45, 90))
    assert sgd.steps[0] is not None and len(set(sgd.steps)) == 1
    assert len(set(adam.steps)) > 1


def test_steps_to_tol_is_the_first_step_at_or_below_tol():
    trace = run(config_at(SMALL, "SGD", 0.0))
    n = steps_to_tol(trace, 1e-2)
    assert trace.losses[n] <= 1e-2 < trace.losses[n - 1]
    assert steps_to_tol(trace, 1e-300) is None


def test_setup_round_trips_the_url_and_refuses_bad_links():
    d = InvarianceSetup()
    s = parse_setup({**d.to_dict(), "angle": 60.0, "optimizers": ["Adam", LION], "lrs": {"Adam": 0.2}})
    assert setup_from_query(setup_to_query(s, d), d) == (s, None)
    assert setup_to_query(d, d) == ""
    for bad in ('{"angle": 400}', '{"optimizers": ["Nope"]}', '{"steps": 1e9}', '{"lrs": {"Adam": -1}}', "[1]", "{nope",
                '{"angle": NaN}', '{"surprise": 1}', '{"eigenvalues": [1]}'):
        setup, warning = setup_from_query(bad, d)
        assert setup == d and warning, bad
    with pytest.raises(ConfigError, match="angle"):
        parse_setup({"angle": "45"})


def test_figures_draw_every_run():
    runs = {n: run(config_at(SMALL, n)) for n in ("SGD", "Adam")}
    ref = {n: run(config_at(SMALL, n, 0.0)) for n in runs}
    names = {t.get("name") for t in paths_figure(surface_of(config_at(SMALL, "SGD")), runs, SMALL.angle).to_dict()["data"]}
    assert {"SGD", "Adam", "q₁", "q₂"} <= names
    eig = eigen_figure(runs, SMALL.angle, ref)
    assert {t.name for t in eig.data} >= {"SGD at 0°", "SGD at 30°", "Adam at 0°", "Adam at 30°"}
    curve = angle_curve(SMALL, "SGD", (0, 45))
    assert list(angle_figure([curve], 30.0, SMALL.tol, SMALL.steps).data[0].y) == list(curve.steps)


# -- the page ----------------------------------------------------------------------------------------------------------

def page(**query) -> AppTest:
    at = AppTest.from_file(str(PAGE), default_timeout=30)
    for k, v in query.items():
        at.query_params[k] = v if isinstance(v, str) else json.dumps(v)
    return at.run()


def test_page_loads_and_the_slider_turns_the_bowl():
    at = page()
    assert not at.exception and not at.error and not at.warning
    assert len(at.get("plotly_chart")) == 3
    at.slider(key="inv.angle").set_value(60.0).run()
    assert not at.exception
    assert json.loads(at.query_params["lab"])["angle"] == 60.0


def test_page_reads_its_link():
    at = page(lab={"angle": 45.0, "optimizers": ["SGD", LION]})
    assert not at.exception and not at.warning
    assert at.slider(key="inv.angle").value == 45.0
    assert at.multiselect(key="inv.optimizers").value == ["SGD", LION]


@pytest.mark.parametrize("bad", ['{"angle": 1e300}', '{"optimizers": "Adam"}', "x" * 5000, '{"steps": -3}'])
def test_hostile_link_warns_and_shows_the_defaults(bad):
    at = page(lab=bad)
    assert not at.exception
    assert at.warning and "defaults" in at.warning[0].value
    assert at.slider(key="inv.angle").value == InvarianceSetup().angle
