"""Small things a learner reads on the pages: step counts, plurals, limits, labels."""
import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from optviz.figures import FONT

PAGES = Path(__file__).resolve().parent.parent / "pages"


def page(name: str, **query) -> AppTest:
    at = AppTest.from_file(str(PAGES / name), default_timeout=30)
    for k, v in query.items():
        at.query_params[k] = v
    return at.run()


def test_inside_step_opens_another_optimizer_on_step_one_and_counts_calls_in_good_english():
    at = page("inside_step.py")
    for _ in range(3):
        at.button(key="inside.next").click().run()
    assert at.session_state["inside.step"] == 4
    at.selectbox(key="inside.optimizer").set_value("LBFGS").run()
    assert not at.exception
    assert at.session_state["inside.step"] == 1 and at.query_params["step"] == "1"
    assert at.subheader[0].value.endswith("closure calls inside step 1")
    at.button(key="inside.next").click().run()            # LBFGS's second step on the quadratic: one call
    assert at.subheader[0].value == "`step(closure)`: 1 closure call inside step 2"
    assert "called the closure **1** time in this one step" in at.info[0].value
    at.button(key="inside.next").click().run()            # same optimizer: moving on keeps the step
    assert at.session_state["inside.step"] == 3


def _axes(spec: dict) -> dict:
    return {k: v for k, v in spec["layout"].items() if k.startswith(("xaxis", "yaxis"))}


@pytest.mark.parametrize("name", ["inside_step.py", "scheduler_lab.py", "pitfalls.py", "small_nets.py", "explorer.py"])
def test_every_chart_sets_tick_labels_to_the_app_font(name):
    # Streamlit's chart theme draws ticks at 12 px unless an axis sets its own tick font
    at = page(name)
    assert not at.exception
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert charts
    for spec in charts:
        axes = _axes(spec)
        assert axes, spec["layout"].get("title")
        for key, axis in axes.items():
            assert axis.get("tickfont", {}).get("size") == FONT["size"], (name, key, spec["layout"].get("title"))


def log_axes(spec: dict) -> dict:
    return {k: v for k, v in _axes(spec).items() if v.get("type") == "log"}


def labelled_without_bare_digits(axis: dict) -> bool:
    """plotly labels 0.2 and 0.5 on a short log axis as a bare "2" and "5" unless ticks are decades or formatted."""
    if axis.get("tickvals"):      # explicit round values, each labelled with its full number
        return [float(t) for t in axis["ticktext"]] == [float(v) for v in axis["tickvals"]]
    return isinstance(axis.get("dtick"), int) or bool(axis.get("tickformat"))


@pytest.mark.parametrize("name", ["explorer.py", "pitfalls.py", "quadratic_lab.py", "race.py"])
def test_every_log_axis_on_a_page_shows_decades_or_full_values(name):
    at = page(name)
    assert not at.exception
    found = 0
    for c in at.get("plotly_chart"):
        spec = json.loads(c.proto.spec)
        for key, axis in log_axes(spec).items():
            found += 1
            assert labelled_without_bare_digits(axis), (name, key, spec["layout"].get("title"))
    assert found


def test_formula_box_holds_what_the_parser_accepts_and_says_when_it_is_full():
    from optviz.core.expr import MAX_EXPRESSION_LENGTH

    long = "x**2 + 10*y**2 + " + "0.000000000001*x + " * 18 + "y"       # 357 characters, valid
    at = page("explorer.py", v="1", cfg=json.dumps({"problem": {"expression": long}}))
    assert not at.exception and not at.warning
    box = at.text_input(key="ex.problem.expression")
    assert box.proto.max_chars == MAX_EXPRESSION_LENGTH and box.value == long
    assert json.loads(at.query_params["cfg"])["problem"]["expression"] == long        # the run is the link's formula
    full = "x**2 + y**2" + " " * (MAX_EXPRESSION_LENGTH - 11)
    at = page("explorer.py", v="1", cfg=json.dumps({"problem": {"expression": full}}))
    assert not at.exception
    assert any(f"{MAX_EXPRESSION_LENGTH} characters" in w.value and "dropped" in w.value for w in at.warning)


def test_scheduler_lambda_box_holds_what_the_parser_accepts_and_says_when_it_is_full():
    from optviz.core.expr import MAX_EXPRESSION_LENGTH

    at = page("scheduler_lab.py")
    at.selectbox(key="lab.scheduler").select("LambdaLR").run()
    box = at.text_input(key="lab.LambdaLR.lr_lambda")
    assert box.proto.max_chars == MAX_EXPRESSION_LENGTH and not at.warning
    box.input("0.95**epoch".ljust(MAX_EXPRESSION_LENGTH)).run()
    assert not at.exception and not at.error
    assert any("box is full" in w.value and str(MAX_EXPRESSION_LENGTH) in w.value for w in at.warning)
