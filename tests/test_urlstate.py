"""URL state round trips: what differs from a page's default, including fields switched off."""
import pytest

from optviz import parse_config
from optviz.ui.urlstate import config_from_query, config_to_query

DEFAULTS = [
    parse_config({}),
    parse_config({"problem": {"surface": "quadratic", "options": {"eigenvalues": [1, 10], "angle": 0}},
                  "optimizer": {"name": "SGD", "options": {"lr": 0.01, "momentum": 0.9}, "groups": {"x": {}, "y": {"lr": 0.001}}},
                  "scheduler": {"name": "StepLR"}}),
]
CONFIGS = [
    {},
    {"optimizer": {"name": "Adam", "options": {"lr": 0.05}}},
    {"optimizer": {"name": "SGD", "options": {"lr": 0.002}}},
    {"optimizer": {"name": "SGD", "options": {"lr": 0.01}, "groups": {"x": {"lr": 0.5}, "y": {}}}},
    {"problem": {"surface": "beale", "start": [1, 1]}, "scheduler": None},
    {"problem": {"expression": "x**2 + y**2", "domain": [[-1, 1], [-2, 2]]}, "steps": 50},
    {"problem": {"surface": "quadratic", "options": {"eigenvalues": [2, 3], "angle": 45}},
     "scheduler": {"name": "OneCycleLR", "interval": "step"}},
]


@pytest.mark.parametrize("default", DEFAULTS, ids=["plain-default", "grouped-default"])
@pytest.mark.parametrize("data", CONFIGS)
def test_a_link_restores_the_exact_config(default, data):
    config = parse_config(data)
    text = config_to_query(config, default)
    back, warning = config_from_query(text, default)
    assert warning is None
    assert back.key() == config.key()


def test_the_default_needs_no_settings_in_the_link():
    for default in DEFAULTS:
        assert config_to_query(default, default) == "{}"


# -- within a session: pages picked in the menu start where the session left off; a URL always wins -----------------

def _app():
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=30)
    at.run()
    return at


def _open(at, page: str, **query):
    """Pick a page in the menu: the browser drops the query string (unless a link is given)."""
    at.query_params.clear()
    at.query_params.update(query)
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_explorer_race_explorer_keeps_the_explorers_settings_and_carries_the_surface():
    at = _open(_app(), "explorer")
    at.selectbox(key="ex.problem.surface").set_value("beale").run()
    at.selectbox(key="ex.optimizer.name").set_value("Adam").run()
    at.select_slider(key="ex.optimizer.Adam.lr").set_value(0.1).run()
    at.slider(key="ex.steps").set_value(50).run()
    explorer_query = dict(at.query_params)
    _open(at, "race")
    assert at.selectbox(key="race.problem.surface").value == "beale"       # the surface carried over
    assert "beale" in at.query_params["cfg"]
    _open(at, "explorer")
    assert dict(at.query_params) == explorer_query                          # the Explorer's own last state, whole
    assert at.selectbox(key="ex.optimizer.name").value == "Adam" and at.slider(key="ex.steps").value == 50
    assert at.select_slider(key="ex.optimizer.Adam.lr").value == 0.1


def test_a_surface_chosen_on_the_race_reaches_the_explorers_last_state():
    at = _open(_app(), "explorer")
    at.selectbox(key="ex.optimizer.name").set_value("Adam").run()
    _open(at, "race")
    at.selectbox(key="race.problem.surface").set_value("booth").run()
    _open(at, "explorer")
    assert at.selectbox(key="ex.problem.surface").value == "booth"         # newer than the Explorer's own state
    assert at.selectbox(key="ex.optimizer.name").value == "Adam"           # the rest of its own state


def test_the_optimizer_chosen_on_the_explorer_opens_on_home_and_home_back():
    at = _open(_app(), "explorer")
    at.selectbox(key="ex.optimizer.name").set_value("RMSprop").run()
    _open(at, "home")
    assert at.selectbox(key="home.optimizer").value == "RMSprop"
    at.selectbox(key="home.optimizer").set_value("NAdam").run()
    _open(at, "explorer")
    assert at.selectbox(key="ex.optimizer.name").value == "NAdam"


def test_a_link_always_wins_over_the_sessions_memory():
    at = _open(_app(), "explorer")
    at.selectbox(key="ex.optimizer.name").set_value("RMSprop").run()
    _open(at, "race")
    _open(at, "explorer", v="1", cfg='{"optimizer":{"name":"Adagrad"}}')
    assert at.selectbox(key="ex.optimizer.name").value == "Adagrad"


def test_a_default_choice_is_not_pushed_to_other_pages():
    at = _open(_app(), "home")                     # Home's default optimizer (Adam) is not a choice
    _open(at, "explorer")
    assert at.selectbox(key="ex.optimizer.name").value == "SGD" and "cfg" not in at.query_params


def test_quadratic_lab_keeps_its_settings_after_another_page():
    at = _open(_app(), "quadratic_lab")
    at.number_input(key="ql.alpha").set_value(0.05).run()
    query = dict(at.query_params)
    _open(at, "explorer")
    _open(at, "quadratic_lab")
    assert at.number_input(key="ql.alpha").value == 0.05 and dict(at.query_params) == query
