"""The home page: a real trajectory on Rosenbrock with a working optimizer picker."""
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]


def test_home_shows_a_trajectory_and_the_picker_works():
    at = AppTest.from_file(str(ROOT / "pages/home.py"), default_timeout=30)
    at.run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 2
    caption = " ".join(c.value for c in at.caption)
    assert "steps, final loss" in caption or "diverged" in caption
    at.selectbox(key="home.optimizer").set_value("RMSprop").run()
    assert not at.exception
    assert "RMSprop" in at.selectbox(key="home.optimizer").value
    at.selectbox(key="home.optimizer").set_value("LBFGS").run()
    assert not at.exception


def test_app_routes_to_the_pages():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.run()
    assert not at.exception
    assert at.title[0].value.startswith("optviz")
