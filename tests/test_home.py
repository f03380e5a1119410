"""The home page: a real trajectory on Rosenbrock with a working optimizer picker, its settings in the URL."""
import json
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from optviz.core.config import parse_config
from optviz.core.engine import run

ROOT = Path(__file__).resolve().parents[1]
HOME = parse_config({"problem": {"surface": "rosenbrock", "start": [-1.5, 2.0]},
                     "optimizer": {"name": "Adam", "options": {"lr": 0.05}}, "steps": 1000})


def home(**query) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages/home.py"), default_timeout=30)
    at.query_params.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in query.items()})
    at.run()
    assert not at.exception, at.exception
    return at


def url_config(at: AppTest):
    from optviz.ui.urlstate import config_from_query

    config, warning = config_from_query(at.query_params.get("cfg"), HOME)
    assert warning is None
    return config


def test_home_shows_a_trajectory_and_the_picker_works():
    at = home()
    assert len(at.get("plotly_chart")) == 2
    caption = " ".join(c.value for c in at.caption)
    assert "steps, final loss" in caption or "diverged" in caption
    at.selectbox(key="home.optimizer").set_value("RMSprop").run()
    assert not at.exception
    assert "RMSprop" in at.selectbox(key="home.optimizer").value
    at.selectbox(key="home.optimizer").set_value("LBFGS").run()
    assert not at.exception


def test_home_keeps_its_settings_in_the_url():
    at = home()
    assert at.query_params.get("v") == "1" and "cfg" not in at.query_params     # the defaults need no settings
    at.selectbox(key="home.optimizer").set_value("RMSprop").run()
    at.select_slider(key="home.RMSprop.lr").set_value(0.001).run()
    at.slider(key="home.steps").set_value(300).run()
    config = url_config(at)
    assert (config.optimizer.name, config.optimizer.options["lr"], config.steps) == ("RMSprop", 0.001, 300)
    again = home(**{k: at.query_params[k] for k in at.query_params})
    assert again.selectbox(key="home.optimizer").value == "RMSprop"
    assert again.select_slider(key="home.RMSprop.lr").value == 0.001 and again.slider(key="home.steps").value == 300
    assert again.get("plotly_chart")[0].proto.spec == at.get("plotly_chart")[0].proto.spec


def test_home_sgd_shows_its_momentum_and_lets_you_change_it():
    at = home()
    at.selectbox(key="home.optimizer").set_value("SGD").run()
    assert at.slider(key="home.SGD.momentum").value == 0.9
    assert any("default is momentum 0" in c.value and "0.9" in c.value for c in at.caption)
    assert url_config(at).optimizer.options["momentum"] == 0.9
    at.slider(key="home.SGD.momentum").set_value(0.0).run()
    config = url_config(at)
    assert config.optimizer.options["momentum"] == 0.0
    plain = run(parse_config({"problem": HOME.to_dict()["problem"],
                              "optimizer": {"name": "SGD", "options": {"lr": config.optimizer.options["lr"]}}, "steps": 1000}))
    assert np.array_equal(run(config).positions, plain.positions)


def test_home_link_with_settings_it_does_not_show_says_so():
    at = home(v="1", cfg={"problem": {"surface": "beale"}, "optimizer": {"name": "SGD", "options": {"momentum": 0.9, "nesterov": True}}})
    assert any("Home always runs Rosenbrock" in w.value for w in at.warning)
    assert any("nesterov=True" in c.value for c in at.caption)
    config = url_config(at)
    assert config.problem == HOME.problem and config.optimizer.options["nesterov"] is True


def test_home_tampered_link_falls_back_with_a_warning():
    at = home(v="1", cfg="{bad")
    assert at.warning and url_config(at) == HOME


def test_app_routes_to_the_pages():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.run()
    assert not at.exception
    assert at.title[0].value.startswith("optviz")
