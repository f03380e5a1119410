"""Every ± / next / back / step button of every page pressed at both ends of its range, and links that ask for values
past a widget's range: no exception, and the value the page runs stays valid (AppTest)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from optviz.core.config import MAX_STEPS, parse_config
from optviz.lessons.race import MAX_ENTRIES, MIN_ENTRIES
from optviz.ui.urlstate import config_from_query

PAGES = Path(__file__).resolve().parents[1] / "pages"
EXPLORER_DEFAULT = parse_config({"problem": {"surface": "rosenbrock"},
                                 "optimizer": {"name": "SGD", "options": {"lr": 1e-3, "momentum": 0.9}}, "steps": 200})


def page(name: str, **query) -> AppTest:
    at = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=30)
    for k, v in query.items():
        at.query_params[k] = v if isinstance(v, str) else json.dumps(v)
    return ok(at.run())


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def qp(at: AppTest, name: str) -> str | None:
    v = at.query_params.get(name)
    return v[0] if isinstance(v, list) else v


def explorer_steps(at: AppTest) -> int:
    config, warning = config_from_query(qp(at, "cfg"), EXPLORER_DEFAULT)
    assert warning is None
    return config.steps


# -- Trajectory Explorer: "One more step" / "One step back" ---------------------------------------------------------

@pytest.mark.parametrize("start, button, after", [
    (1000, "ex.step_plus", 1001),      # the slider's own end: one more step is allowed (a run may take 10,000)
    (MAX_STEPS - 1, "ex.step_plus", MAX_STEPS),
    (2, "ex.step_minus", 1),
    (1001, "ex.step_minus", 1000),
])
def test_explorer_step_buttons_next_to_a_bound(start, button, after):
    at = page("explorer", v="1", cfg={"steps": start})
    at.button(key=button).click()
    ok(at.run())
    assert explorer_steps(at) == after and at.slider(key="ex.steps").value == after
    assert any(f"Step {after} in numbers" in e.label for e in at.expander)


@pytest.mark.parametrize("start, button, other", [(MAX_STEPS, "ex.step_plus", "ex.step_minus"),
                                                  (1, "ex.step_minus", "ex.step_plus")])
def test_explorer_step_button_at_its_bound_is_disabled_with_a_reason(start, button, other):
    at = page("explorer", v="1", cfg={"steps": start})
    assert at.button(key=button).disabled and at.button(key=button).help
    assert not at.button(key=other).disabled
    assert explorer_steps(at) == start and at.slider(key="ex.steps").value == start


def test_explorer_slider_moved_back_after_stepping_past_its_end():
    at = page("explorer", v="1", cfg={"steps": 1000})
    for _ in range(2):
        at.button(key="ex.step_plus").click()
        ok(at.run())
    assert explorer_steps(at) == 1002
    at.slider(key="ex.steps").set_value(10)
    ok(at.run())
    assert explorer_steps(at) == 10


# -- Inside optimizer.step(): « first, ‹ back, next ›, last » ---------------------------------------------------------

@pytest.mark.parametrize("step, button, expected", [
    ("1", "inside.back", 1), ("1", "inside.first", 1), ("60", "inside.next", 60), ("60", "inside.last", 60),
    ("2", "inside.back", 1), ("59", "inside.next", 60),
])
def test_inside_buttons_at_the_ends(step, button, expected):
    at = page("inside_step", step=step)
    at.button(key=button).click()
    ok(at.run())
    assert at.session_state["inside.step"] == expected and qp(at, "step") == str(expected)


@pytest.mark.parametrize("steps", [1, 5, 201, 400])
def test_inside_link_with_steps_outside_the_slider(steps):
    cfg = parse_config({"problem": {"surface": "quadratic", "options": {"eigenvalues": [1, 10], "angle": 0}},
                        "optimizer": {"name": "SGD", "options": {"lr": 0.01}}, "steps": steps}).to_json()
    at = page("inside_step", cfg=cfg, step="9999")
    at.button(key="inside.next").click()
    ok(at.run())
    n = at.session_state["inside.step"]
    assert 1 <= n <= steps
    at.button(key="inside.first").click()
    ok(at.run())
    assert at.session_state["inside.step"] == 1


# -- Optimizer Race: add / remove a racer at the ends, steps at the ends ----------------------------------------------

def _racers(n: int) -> str:
    return json.dumps([{"name": "SGD", "options": {"lr": 1e-3 * (i + 1)}} for i in range(n)])


def test_race_add_up_to_the_most_racers():
    at = page("race", v="1", cfg={"steps": 20}, race=_racers(MAX_ENTRIES - 1))
    at.button(key="race.add").click()
    ok(at.run())
    assert len(json.loads(qp(at, "race"))) == MAX_ENTRIES
    assert "race.add" not in {b.key for b in at.button}          # no "add" past the most


def test_race_remove_down_to_the_fewest_racers():
    at = page("race", v="1", cfg={"steps": 20}, race=_racers(MIN_ENTRIES + 1))
    at.button(key="race.e0.remove").click()
    ok(at.run())
    assert len(json.loads(qp(at, "race"))) == MIN_ENTRIES
    assert not [b for b in at.button if b.key and b.key.endswith(".remove")]   # no "remove" below the fewest


@pytest.mark.parametrize("steps", [1, 1000, 1001])
def test_race_steps_at_and_past_the_sliders_end(steps):
    at = page("race", v="1", cfg={"steps": steps})
    assert at.slider(key="race.steps").value == steps


def test_race_tuning_at_the_grids_top_where_everything_diverges():
    at = page("race", v="1", cfg={"steps": 30}, tune={"low": 1, "high": 10, "per_decade": 1})
    at.button(key="race.tune.run").click()
    ok(at.run())
    tuned = next(t.value for t in at.table if "best lr" in t.value.columns)
    assert "all diverged" in set(tuned["best lr"])
    at.button(key="race.tune.use").click()
    ok(at.run())
    assert not at.error and len(json.loads(qp(at, "race"))) == 3


# -- Quadratic Lab: jump buttons at extreme eigenvalues, α and β steppers at their ends --------------------------------

@pytest.mark.parametrize("eigenvalues", [[1e-6, 1e6], [1e-6, 1e-6], [1e6, 1e6]])
@pytest.mark.parametrize("button", ["ql.jump", "ql.gd"])
def test_quadratic_lab_jumps_at_extreme_eigenvalues(eigenvalues, button):
    cfg = {"problem": {"options": {"eigenvalues": eigenvalues}}, "steps": 10}
    at = page("quadratic_lab", v="1", cfg=cfg)
    at.button(key=button).click()
    ok(at.run())
    assert 1e-8 <= at.session_state["ql.alpha"] <= 1e7 and 0 <= at.session_state["ql.beta"] <= 0.999999


@pytest.mark.parametrize("key, value, move", [("ql.alpha", 1e7, "increment"), ("ql.alpha", 1e-8, "decrement"),
                                              ("ql.beta", 0.999999, "increment"), ("ql.beta", 0.0, "decrement")])
def test_quadratic_lab_steppers_at_their_ends(key, value, move):
    options = {"lr": value if key == "ql.alpha" else 0.1, "momentum": value if key == "ql.beta" else 0.5}
    at = page("quadratic_lab", v="1", cfg={"optimizer": {"options": options}, "steps": 10})
    widget = at.number_input(key=key)
    assert widget.value == value
    getattr(widget, move)()
    ok(at.run())
    assert widget.proto.min <= at.number_input(key=key).value <= widget.proto.max


# -- links past a widget's range on the other pages: no exception -----------------------------------------------------

@pytest.mark.parametrize("name, query", [
    ("scheduler_lab", {"lab": {"scheduler": "ReduceLROnPlateau", "loss": {"seed": 2**31 - 1}}}),
    ("scheduler_lab", {"lab": {"epochs": 1000, "steps_per_epoch": 10}}),
    ("scheduler_lab", {"lab": {"epochs": 10, "steps_per_epoch": 1000}}),
    ("explorer", {"v": "1", "cfg": {"seed": 2**31 - 1, "problem": {"noise": 1.0}, "steps": 5}}),
    ("explorer", {"v": "1", "cfg": {"scheduler": {"name": "StepLR", "steps_per_epoch": 10000}, "steps": 5}}),
    ("sweeps", {"v": "1", "cfg": {"steps": 10}}),
    ("sweeps", {"map": "basins", "view": {"n": 20}, "v": "1", "cfg": {"steps": 10}}),
])
def test_a_link_at_a_widgets_end_does_not_crash(name, query):
    page(name, **query)


# -- the ± steppers of number inputs whose value comes from a link, pressed at their ends ---------------------------

NOISY = {"problem": {"noise": 1.0}, "steps": 5}


@pytest.mark.parametrize("name, query, key, move", [
    ("explorer", {"v": "1", "cfg": {"scheduler": {"name": "StepLR", "steps_per_epoch": 10000}, "steps": 5}},
     "ex.scheduler.steps_per_epoch", "increment"),
    ("explorer", {"v": "1", "cfg": {"scheduler": {"name": "StepLR", "steps_per_epoch": 1}, "steps": 5}},
     "ex.scheduler.steps_per_epoch", "decrement"),
    ("explorer", {"v": "1", "cfg": {**NOISY, "seed": 2**31 - 1}}, "ex.seed", "increment"),
    ("explorer", {"v": "1", "cfg": NOISY}, "ex.seed", "decrement"),
    ("scheduler_lab", {"lab": {"scheduler": "ReduceLROnPlateau", "loss": {"seed": 2**31 - 1}}}, "lab.seed", "increment"),
    ("scheduler_lab", {"lab": {"scheduler": "ReduceLROnPlateau"}}, "lab.seed", "decrement"),
    ("sweeps", {"view": {"tol": 1000.0}}, "sw.tol", "increment"),
    ("sweeps", {"view": {"x": {"param": "lr", "low": 1e-3, "high": 10.0, "n": 8, "log": True}}}, "sw.lr_hi", "increment"),
])
def test_number_steppers_at_their_ends(name, query, key, move):
    at = page(name, **query)
    widget = at.number_input(key=key)
    assert widget.value in (widget.proto.min, widget.proto.max)
    getattr(widget, move)()
    ok(at.run())
    assert widget.proto.min <= at.number_input(key=key).value <= widget.proto.max


@pytest.mark.parametrize("steps", [1, 10, 2000, 2001, MAX_STEPS])
def test_home_link_with_steps_at_and_past_the_sliders_ends(steps):
    at = page("home", v="1", cfg={"steps": steps})
    assert at.slider(key="home.steps").value == steps
    at.slider(key="home.steps").set_value(at.slider(key="home.steps").max)
    ok(at.run())
