"""Presentation mode (?present=1) on every page: the intro text goes, the exit button comes, the main figure is sized
for 1280 × 720 without touching the cached figure, and the switch survives reruns, page switches, presets and ?hide=."""
import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from optviz.ui import present

ROOT = Path(__file__).resolve().parent.parent

# a phrase of each page's intro text (the markdown under its title)
INTROS = {
    "home.py": "Every path below is computed by",
    "explorer.py": "optimizer steps a point `(x, y)` downhill",
    "race.py": "optimizers start from the same point on the same surface",
    "inside_step.py": "reads the `.grad` that `backward()` left",
    "scheduler_lab.py": "changes the learning rate that the **next**",
    "pitfalls.py": "The training loop has few lines",
    "small_nets.py": "The seed's own example, made real",
    "quadratic_lab.py": "acts on each eigen-direction of A separately",
    "sweeps.py": "One run shows one setting; a map shows thousands",
    "invariance_lab.py": "Turn a quadratic bowl",
    "zoo.py": "Any set of optimizers",
    "gallery.py": "Every optimizer optviz can run",
}


def page(name: str, **query) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / name), default_timeout=30)
    for k, v in query.items():
        at.query_params[k] = v
    return at.run()


def shows_intro(at: AppTest, name: str) -> bool:
    return any(INTROS[name] in m.value for m in at.markdown)


def main_figure(at: AppTest) -> dict:
    """The page's first chart, which is its main figure on every page."""
    return json.loads(at.get("plotly_chart")[0].proto.spec)


def param(at: AppTest, name: str) -> str | None:
    """One value of the page's URL query (AppTest keeps what the page wrote as a string or a list of strings)."""
    v = at.query_params[name] if name in at.query_params else None
    return v[-1] if isinstance(v, list) else v


def exit_shown(at: AppTest) -> bool:
    return any(b.key == "present.leave" for b in at.button)


@pytest.mark.parametrize("name", list(INTROS))
def test_every_page_presents_without_intro_with_an_exit_and_a_figure_for_the_screen(name):
    normal = page(name)
    assert not normal.exception, [e.value for e in normal.exception]
    assert shows_intro(normal, name) and not exit_shown(normal)
    assert normal.toggle(key=present.TOGGLE).value is False
    before = main_figure(normal)["layout"]

    at = page(name, present="1")
    assert not at.exception, [e.value for e in at.exception]
    assert not shows_intro(at, name)
    assert exit_shown(at) and at.toggle(key=present.TOGGLE).value is True
    assert param(at, "present") == "1"
    layout = main_figure(at)["layout"]
    assert present.MIN_HEIGHT <= layout["height"] <= present.SCREEN_HEIGHT - present.TITLE
    assert layout["font"]["size"] == present.FONT_SIZE > before["font"]["size"]

    again = page(name)          # the same cached figure, drawn again outside presentation mode: unchanged
    assert main_figure(again)["layout"] == before


def test_the_toggle_sets_the_switch_in_the_url_and_exit_drops_it():
    at = page("explorer.py", v="1", hide="steps")
    at.toggle(key=present.TOGGLE).set_value(True).run()
    assert not at.exception
    assert param(at, "present") == "1" and param(at, "hide") == "steps"
    assert not shows_intro(at, "explorer.py") and exit_shown(at)
    at.slider(key="ex.optimizer.SGD.momentum").set_value(0.5).run()   # a rerun that rewrites the URL keeps it
    assert param(at, "present") == "1" and not shows_intro(at, "explorer.py")
    at.button(key="present.leave").click().run()
    assert not at.exception
    assert "present" not in at.query_params and param(at, "hide") == "steps"
    assert shows_intro(at, "explorer.py") and not exit_shown(at) and at.toggle(key=present.TOGGLE).value is False
    assert at.slider(key="ex.optimizer.SGD.momentum").value == 0.5


def test_present_zero_is_off():
    at = page("home.py", present="0")
    assert shows_intro(at, "home.py") and not exit_shown(at)


def test_it_composes_with_a_preset_and_hide():
    at = page("explorer.py", present="1", preset="lr_too_large", hide="steps")
    assert not at.exception
    assert param(at, "present") == "1" and param(at, "lesson") == "lr_too_large" and "preset" not in at.query_params
    assert set(param(at, "hide").split(",")) == {"optimizer", "steps"}
    assert "lr_too_large" not in [e.label for e in at.expander] and not any("Lesson presets" in e.label for e in at.expander)
    assert any("A learning rate too large diverges" in i.value for i in at.info)        # the lesson's note stays
    # the lesson's note and the divergence warning sit above the figure: it is shorter by two boxes
    assert main_figure(at)["layout"]["height"] == present.SCREEN_HEIGHT - present.TITLE - 2 * present.NOTE


@pytest.mark.parametrize("name,act", [
    ("inside_step.py", lambda at: at.button(key="inside.next").click()),          # writes the URL whole
    ("small_nets.py", lambda at: at.slider(key="nets.train.epochs").set_value(20)),
    ("pitfalls.py", lambda at: at.selectbox(key="pitfalls.which").set_value("order")),
    ("scheduler_lab.py", lambda at: at.slider(key="lab.epochs").set_value(12)),
    ("sweeps.py", lambda at: at.slider(key="sw.sweep.steps").set_value(50)),
    ("quadratic_lab.py", lambda at: at.number_input(key="ql.alpha").set_value(0.05)),
])
def test_a_change_on_the_page_keeps_presentation_mode(name, act):
    at = page(name, present="1")
    act(at).run()
    assert not at.exception, [e.value for e in at.exception]
    assert param(at, "present") == "1" and not shows_intro(at, name) and exit_shown(at)


# -- across pages (the app with its menu; a page picked in the menu arrives without a query) -----------------------

def _open(at, page_name: str, **query):
    at.query_params.clear()
    at.query_params.update(query)
    at.switch_page(f"pages/{page_name}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_mode_survives_page_switches_and_each_page_keeps_its_own_state():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    _open(at, "explorer", present="1")
    at.selectbox(key="ex.optimizer.name").set_value("Adam").run()
    _open(at, "race")
    assert param(at, "present") == "1" and not shows_intro(at, "race.py") and exit_shown(at)
    _open(at, "explorer")
    assert param(at, "present") == "1" and not shows_intro(at, "explorer.py")
    assert at.selectbox(key="ex.optimizer.name").value == "Adam"            # its own last state, in presentation
    at.button(key="present.leave").click().run()
    _open(at, "scheduler_lab")
    assert "present" not in at.query_params and shows_intro(at, "scheduler_lab.py")
