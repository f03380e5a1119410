"""The Invariance Lab: SGD is rotation-equivariant on a quadratic and the per-coordinate optimizers are not (real torch runs)."""
import base64
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from optviz.core.engine import run, surface_of
from optviz.core.specs import ConfigError
from optviz.figures.invariance import angle_figure, eigen_figure, first_step_table, paths_figure, step_size_figure
from optviz.lessons.invariance import (
    LION,
    SCALES,
    InvarianceSetup,
    angle_curve,
    config_at,
    coordinate_steps,
    eigen_path,
    first_step,
    first_step_configs,
    from_eigen,
    lion_steps,
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


# -- sign steps: Adam's first step, Lion's every step --------------------------------------------------------------------

def torch_adam_first_step(setup, scale):
    """The oracle: torch.optim.Adam's first step on scale·½wᵀAw from the lab's start, built here without the engine."""
    c, s = np.cos(np.radians(setup.angle)), np.sin(np.radians(setup.angle))
    R = np.array([[c, -s], [s, c]])
    A = torch.tensor(scale * R @ np.diag(setup.eigenvalues) @ R.T)
    w = torch.tensor(R @ np.array(setup.start), requires_grad=True)
    opt = torch.optim.Adam([w], lr=setup.lrs["Adam"])
    (0.5 * w @ A @ w).backward()
    g, before = w.grad.detach().numpy().copy(), w.detach().numpy().copy()
    opt.step()
    return g, w.detach().numpy() - before


@pytest.mark.parametrize("angle", [30.0, 45.0])
def test_adam_first_step_is_minus_lr_sign_g_for_any_gradient_scale(angle):
    setup = InvarianceSetup(angle=angle, lrs={"Adam": 0.02})
    configs = first_step_configs(setup)
    assert list(configs) == list(SCALES) and min(SCALES) <= 1e-3 and max(SCALES) >= 1e3
    for scale, config in configs.items():
        got = first_step(run(config), scale)
        g, step = torch_adam_first_step(setup, scale)
        assert np.allclose(got.grad, g, rtol=1e-12, atol=0) and np.allclose(got.step, step, rtol=1e-12, atol=0), scale
        assert got.lr == 0.02 and got.weight_decay == 0.0 and got.eps == 1e-8
        assert np.array_equal(got.sign_step, -0.02 * np.sign(g))
        # lr·g/(|g|+ε): the gap to −lr·sign(g) is what ε explains, and it shrinks as the gradient grows
        assert got.gap == pytest.approx(got.eps_gap, rel=1e-2, abs=1e-13)
        assert np.allclose(got.step, got.sign_step, rtol=2 * got.eps_gap + 1e-12, atol=0)
    gaps = [first_step(run(c), k).gap for k, c in configs.items()]
    assert gaps[0] > 1e-4 and gaps == sorted(gaps, reverse=True)


def test_lion_steps_measure_every_coordinate_of_every_step():
    for lr in (0.01, 0.003):
        setup = InvarianceSetup(steps=80, lrs={LION: lr})
        got = lion_steps(run(config_at(setup, LION, 45.0)))
        assert got.steps == 80 and got.lr == lr and got.weight_decay == 0.0
        assert got.smallest == pytest.approx(lr, rel=1e-12) and got.largest == pytest.approx(lr, rel=1e-12) and got.gap < 1e-12
    adam = lion_steps(run(config_at(SMALL, "Adam")))
    assert adam.smallest < 0.5 * adam.largest and adam.gap > 0.1     # Adam's step sizes vary


def test_first_step_table_and_step_size_figure_show_the_runs():
    setup = InvarianceSetup()
    steps = [first_step(run(c), k) for k, c in first_step_configs(setup).items()]
    rows = first_step_table(steps)
    assert [float(r["gradient ×"]) for r in rows] == list(SCALES)
    for r, s in zip(rows, steps):
        assert np.allclose(parse_pair(r["Adam's first step θ₁ − θ₀"]), s.step, rtol=1e-6)
        assert np.allclose(parse_pair(r["g at the start (x, y)"]), s.grad, rtol=1e-3)
    runs = {"Adam": run(config_at(SMALL, "Adam")), LION: run(config_at(SMALL, LION))}
    fig = step_size_figure(runs)
    assert [t.name for t in fig.data] == ["Adam |Δx|", "Adam |Δy|", "Lion |Δx|", "Lion |Δy|"]
    assert np.allclose(fig.data[2].y, SMALL.lrs[LION], rtol=1e-6) and np.allclose(fig.data[3].y, SMALL.lrs[LION], rtol=1e-6)
    assert np.allclose(fig.data[0].y, coordinate_steps(runs["Adam"])[:, 0], rtol=1e-6)
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis.title.text and fig.layout.xaxis.title.text


def parse_pair(text: str) -> tuple[float, float]:
    x, y = text.strip("()").split(",")
    return float(x), float(y)


# -- the page ----------------------------------------------------------------------------------------------------------

def page(**query) -> AppTest:
    at = AppTest.from_file(str(PAGE), default_timeout=30)
    for k, v in query.items():
        at.query_params[k] = v if isinstance(v, str) else json.dumps(v)
    return at.run()


def test_page_loads_and_the_slider_turns_the_bowl():
    at = page()
    assert not at.exception and not at.error and not at.warning
    assert len(at.get("plotly_chart")) == 4
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


def sign_step_text(at) -> str:
    return next(m.value for m in at.markdown if "every |Δθᵢ| lay between" in m.value)


def test_page_shows_adams_first_step_from_real_runs():
    at = page(lab={"angle": 45.0, "lrs": {"Adam": 0.02}})
    assert not at.exception and not at.error
    table = at.table[0].value
    assert [float(v) for v in table["gradient ×"]] == list(SCALES)
    setup = InvarianceSetup(angle=45.0, lrs={"Adam": 0.02})
    for _, row in table.iterrows():
        g, step = torch_adam_first_step(setup, float(row["gradient ×"]))
        assert np.allclose(parse_pair(row["g at the start (x, y)"]), g, rtol=1e-3)
        assert np.allclose(parse_pair(row["Adam's first step θ₁ − θ₀"]), step, rtol=1e-6)
        assert np.allclose(parse_pair(row["−lr·sign(g)"]), -0.02 * np.sign(g), rtol=1e-12)
    # at 1e-6 ε shortens the step visibly; at 1e3 it is lr to the digits shown
    assert parse_pair(table.iloc[0]["Adam's first step θ₁ − θ₀"]) != parse_pair(table.iloc[0]["−lr·sign(g)"])
    assert parse_pair(table.iloc[-1]["Adam's first step θ₁ − θ₀"]) == parse_pair(table.iloc[-1]["−lr·sign(g)"])
    assert any("(weight_decay = 0, ε = 1e-08)" in m.value and "lr = 0.02" in m.value for m in at.markdown)


def test_page_reports_lions_step_size_from_its_run():
    at = page(lab={"steps": 100})
    text = sign_step_text(at)
    assert "over its 100 steps" in text and "between **0.01** and **0.01**" in text
    at.number_input(key=f"inv.lr.{LION}").set_value(0.003).run()
    text = sign_step_text(at)
    assert "between **0.003** and **0.003**" in text and "lr = 0.003" in text
    sizes = json.loads(at.get("plotly_chart")[3].proto.spec)["data"]
    assert [t["name"] for t in sizes] == ["Adam |Δx|", "Adam |Δy|", "Lion |Δx|", "Lion |Δy|"]
    lion_x = np.frombuffer(base64.b64decode(sizes[2]["y"]["bdata"]), dtype=sizes[2]["y"]["dtype"])
    assert len(lion_x) == 100 and np.allclose(lion_x, 0.003, rtol=1e-6)
