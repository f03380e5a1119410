"""AppTest of the seed's three lessons: defaults, every optimizer / scheduler / pitfall, navigation, bad inputs."""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from optviz.core.schedulers import SCHEDULERS
from optviz.lessons.inside import LESSON_OPTIMIZERS, PHASES
from optviz.lessons.pitfalls import PITFALLS

PAGES = Path(__file__).resolve().parents[1] / "pages"


def page(name: str, **query) -> AppTest:
    at = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=60)
    for k, v in query.items():
        at.query_params[k] = v
    return at.run()


def ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


# -- Inside optimizer.step() -----------------------------------------------------------------------------

def test_inside_defaults_show_the_seed_example_agreeing_with_torch():
    at = page("inside_step")
    ok(at)
    assert at.success and at.success[0].value.startswith("✓ Step 1")
    listings = [c.value for c in at.code]
    assert len(listings) == 2                                   # two groups: x with lr 0.01, y with its own 0.001
    assert "group x" in listings[0] and "lr=0.01" in listings[0] and "lr=0.001" in listings[1]
    assert "buf = d_p.clone()" in listings[0]
    assert at.query_params["step"] == "1"


def test_inside_navigation_and_url_step():
    at = page("inside_step")
    at.button(key="inside.next").click().run()
    ok(at)
    assert at.session_state["inside.step"] == 2 and at.query_params["step"] == "2"
    assert "buf = momentum * buf + (1 - dampening) * d_p" in at.code[0].value
    at.button(key="inside.last").click().run()
    assert at.session_state["inside.step"] == 60
    at.button(key="inside.next").click().run()                 # past the end stays at the end
    assert at.session_state["inside.step"] == 60
    at.slider(key="inside.step").set_value(7).run()
    assert at.query_params["step"] == "7" and "Step 7" in at.success[0].value
    linked = page("inside_step", step="12")
    ok(linked)
    assert linked.session_state["inside.step"] == 12
    for bad in ("abc", "-3", "99999"):
        ok(page("inside_step", step=bad))


def test_inside_each_phase():
    at = page("inside_step")
    for phase in PHASES:
        at.session_state["inside.phase"] = phase
        at.run()
        ok(at)
        assert at.query_params["phase"] == phase
        assert at.info and "Step 1 · " in at.info[0].value


@pytest.mark.parametrize("name", LESSON_OPTIMIZERS)
def test_inside_each_optimizer(name):
    at = page("inside_step")
    at.selectbox(key="inside.optimizer").select(name).run()
    ok(at)
    if name == "LBFGS":
        assert "closure calls inside step 1" in at.subheader[0].value
        assert not at.success
    else:
        assert at.success and "✓" in at.success[0].value
        assert f"# {name}, group x" in at.code[0].value


def test_inside_bad_url_falls_back_with_a_warning():
    at = page("inside_step", cfg='{"optimizer": {"name": "SGD", "options": {"lr": -1}}}')
    ok(at)
    assert at.warning and "not valid" in at.warning[0].value
    assert at.success


# -- Scheduler Lab ------------------------------------------------------------------------------------

def test_lab_defaults():
    at = page("scheduler_lab")
    ok(at)
    assert not at.error
    assert "ticks 10× faster" in at.markdown[1].value or any("10× faster" in m.value for m in at.markdown)
    assert len(at.code) == 2 and "scheduler.step()  # once per epoch" in at.code[0].value
    assert "scheduler.step()  # every batch" in at.code[1].value


def test_lab_each_scheduler():
    at = page("scheduler_lab")
    for name in SCHEDULERS:
        at.selectbox(key="lab.scheduler").select(name).run()
        ok(at)
        assert not at.error, (name, [e.value for e in at.error])
        assert f"lr_scheduler.{name}(" in at.code[0].value
    at.selectbox(key="lab.scheduler").select("OneCycleLR").run()
    assert any("changed momentum from 0 to 0.95" in w.value for w in at.warning)


def test_lab_bad_lambda_is_a_message():
    at = page("scheduler_lab")
    at.selectbox(key="lab.scheduler").select("LambdaLR").run()
    at.text_input(key="lab.LambdaLR.lr_lambda").input("epoch +* 2").run()
    ok(at)
    assert at.error and "can't run" in at.error[0].value and "lr_lambda" in at.error[0].value
    at.text_input(key="lab.LambdaLR.lr_lambda").input("open('x')").run()
    ok(at)
    assert at.error


def test_lab_per_group_lambdas_three_groups_and_overlay():
    at = page("scheduler_lab")
    at.selectbox(key="lab.scheduler").select("LambdaLR").run()
    at.slider(key="lab.groups").set_value(3).run()
    at.checkbox(key="lab.per_group").check().run()
    ok(at)
    at.text_input(key="lab.LambdaLR.lr_lambda.2").input("1/(epoch + 1)").run()
    ok(at)
    assert not at.error and '"1/(epoch + 1)"' not in at.code[0].value and "1/(epoch + 1)" in at.code[0].value
    at.multiselect(key="lab.overlays").select("StepLR").select("CosineAnnealingLR").run()
    ok(at)
    assert not at.error


def test_lab_plateau_on_a_surface_and_wrong_order():
    at = page("scheduler_lab")
    at.selectbox(key="lab.scheduler").select("ReduceLROnPlateau").run()
    at.radio(key="lab.source").set_value("surface").run()
    ok(at)
    assert not at.error and "def f(x, y)" in at.code[0].value
    at.selectbox(key="lab.scheduler").select("StepLR").run()
    at.radio(key="lab.order").set_value("scheduler_first").run()
    ok(at)
    assert any("Detected call of `lr_scheduler.step()` before `optimizer.step()`" in w.value for w in at.warning)


def test_lab_bad_composition_and_url():
    at = page("scheduler_lab")
    at.selectbox(key="lab.scheduler").select("SequentialLR").run()
    at.text_area(key="lab.SequentialLR.schedulers").input('[{"name": "NoSuchLR"}]').run()
    ok(at)
    assert at.error and "unknown scheduler" in at.error[0].value
    at.text_area(key="lab.SequentialLR.schedulers").input("[{not json").run()
    ok(at)
    linked = page("scheduler_lab", lab='{"epochs": "many"}')
    ok(linked)
    assert linked.warning and "not valid" in linked.warning[0].value


# -- Pitfalls Lab ----------------------------------------------------------------------------------

def test_pitfalls_each():
    at = page("pitfalls")
    ok(at)
    for key, pit in PITFALLS.items():
        at.selectbox(key="pitfalls.which").select(key).run()
        ok(at)
        assert at.query_params["pitfall"] == key
        assert at.subheader[0].value == pit.title
        assert at.info and at.info[0].value
    at.selectbox(key="pitfalls.which").select("lbfgs").run()
    assert any("missing 1 required positional argument: 'closure'" in w.value for w in at.warning)
    at.selectbox(key="pitfalls.which").select("order").run()
    assert any("Detected call of `lr_scheduler.step()`" in w.value for w in at.warning)


def test_pitfalls_url_and_bad_url():
    at = page("pitfalls", pitfall="adamw")
    ok(at)
    assert at.subheader[0].value == PITFALLS["adamw"].title
    at = page("pitfalls", pitfall="nonsense")
    ok(at)
    assert at.subheader[0].value == PITFALLS["zero_grad"].title


def test_unknown_pitfall_in_the_link_warns():
    at = page("pitfalls", pitfall="no_such_pitfall")
    assert not at.exception
    assert any("unknown pitfall" in w.value for w in at.warning)
