"""AppTest of the "Write your own step()" page: defaults, templates, errors in the editor, exercises by link, the URL."""
import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

from optviz.lessons.custom_step import EXERCISES, TEMPLATES

ROOT = Path(__file__).resolve().parents[1]
K = "custom"


def page(name: str = "custom_step", **query) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / f"{name}.py"), default_timeout=30)
    for k, v in query.items():
        at.query_params[k] = v
    return at.run()


def ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def test_page_loads_with_sgd_equal_to_torch_and_is_in_the_menu():
    at = page()
    ok(at)
    assert at.text_area(key=f"{K}.program").value == TEMPLATES["sgd"].program
    assert [s.value for s in at.success] == ["✓ Your SGD with momentum equals torch.optim.SGD bit for bit over 200 steps."]
    assert at.query_params["compare"] == "SGD"
    assert len(at.get("plotly_chart")) == 4          # the paths, the difference, the two states
    app = (ROOT / "app.py").read_text()
    assert '("custom_step.py", "Write your own step()", ":material/edit_note:", "The seed\'s lessons")' in app


def test_every_template_loads_and_is_held_against_its_optimizer():
    at = page()
    for key, t in TEMPLATES.items():
        at.selectbox(key=f"{K}.template").set_value(key).run()
        ok(at)
        assert at.text_area(key=f"{K}.program").value == t.program
        assert at.selectbox(key=f"{K}.compare").value == t.compare
        if key == "lion":   # torch has no Lion: held against Adam it differs, and the page says why
            assert at.error and "first differs at step 1" in at.error[0].value.lower()
            assert any("torch has no Lion" in c.value for c in at.caption)
        else:
            assert at.success and f"equals torch.optim.{t.compare}" in at.success[0].value, [e.value for e in at.error]


def test_a_broken_program_shows_where_without_an_exception():
    at = page()
    for program, where in [("p = p - lr * momentun * g", "line 1, column 14: unknown name 'momentun'"),
                           ("buf = g\np = p - lr * (buf", "line 2, column 14: cannot read this line"),
                           ("g = 0\np = p", "line 1, column 1: 'g' is the gradient"),
                           ("m = 0.9 * m + g", "line 2, column 1: the program never updates p"),
                           ("p = __import__('os')", "line 1, column 5: '__import__' is not a function here")]:
        at.text_area(key=f"{K}.program").input(program).run()
        ok(at)
        assert at.error and where in at.error[0].value.replace("\\", ""), (program, [e.value for e in at.error])
        assert "your program can't run" in at.error[0].value and not at.get("plotly_chart")
    at.text_area(key=f"{K}.program").input("p = p - lr * g").run()     # torch's SGD here has momentum 0.9
    ok(at)
    assert "first differs at step 2 in the point p" in at.error[0].value.lower().replace("\\", "")
    at.text_input(key=f"{K}.numbers").input("lr = 0.001").run()
    ok(at)
    assert at.success and "equals torch.optim.SGD" in at.success[0].value
    at.text_input(key=f"{K}.numbers").input("lr = fast").run()
    ok(at)
    assert "your numbers can't run" in at.error[0].value and "is not a number" in at.error[0].value


def test_an_exercise_link_opens_the_exercise_and_checks_it():
    at = page(exercise="nesterov")
    ok(at)
    e = EXERCISES["nesterov"]
    assert at.text_area(key=f"{K}.program").value == e.start
    assert e.title in at.info[0].value and at.selectbox(key=f"{K}.exercise").value == "nesterov"
    assert at.error and "first differs at step 1" in at.error[0].value.lower() and "Hint:" in at.error[0].value
    at.text_area(key=f"{K}.program").input(e.solution).run()
    ok(at)
    assert at.success and "Exercise solved" in at.success[0].value
    assert at.query_params["exercise"] == "nesterov"
    # the URL now holds the solution: opened again, the page shows it (and still the exercise)
    again = page(**{k: at.query_params[k] for k in at.query_params})
    ok(again)
    assert again.text_area(key=f"{K}.program").value == e.solution and "Exercise solved" in again.success[0].value
    assert json.loads(at.query_params["cfg"])["optimizer"]["program"] == e.solution


def test_the_exercise_picker_and_every_exercise_link():
    at = page()
    at.selectbox(key=f"{K}.exercise").set_value("adagrad").run()
    ok(at)
    assert at.text_area(key=f"{K}.program").value == EXERCISES["adagrad"].start
    assert at.selectbox(key=f"{K}.compare").value == "Adagrad"
    links = "\n".join(m.value for m in at.markdown)
    for key in EXERCISES:
        assert f"(?exercise={key})" in links
    bad = page(exercise="no_such_thing")
    ok(bad)
    assert bad.text_area(key=f"{K}.program").value == TEMPLATES["sgd"].program


def test_compare_with_another_optimizer_and_a_surface():
    at = page()
    at.selectbox(key=f"{K}.compare").set_value("Adam").run()
    ok(at)
    assert at.error and "torch.optim.Adam's is" in at.error[0].value.replace("\\", "")
    at.selectbox(key=f"{K}.compare").set_value("SGD").run()
    at.selectbox(key=f"{K}.surface").set_value("himmelblau").run()
    ok(at)
    assert at.success and json.loads(at.query_params["cfg"])["problem"]["surface"] == "himmelblau"


def test_links_from_elsewhere():
    sgd = json.dumps({"optimizer": {"name": "SGD", "options": {"lr": 0.01}}})
    at = page(cfg=sgd)
    ok(at)
    assert at.warning and "runs a Custom optimizer" in at.warning[0].value
    broken = json.dumps({"optimizer": {"name": "Custom", "program": "p = q"}})
    at = page(cfg=broken)
    ok(at)
    assert at.warning and "unknown name 'q'" in at.warning[0].value.replace("\\", "")


def test_the_explorer_takes_a_custom_link_with_the_optimizer_hidden():
    """A Custom optimizer has its own page: the Explorer (which lists torch's) picks a torch optimizer instead of failing."""
    cfg = json.dumps({"optimizer": {"name": "Custom", "program": "p = p - lr * g", "options": {"lr": 0.001}}})
    at = page("explorer", cfg=cfg, hide="optimizer")
    ok(at)
    assert at.selectbox(key="ex.optimizer.name").value == "SGD"


def test_the_template_picker_says_when_the_program_is_the_learners_own():
    at = page()
    first = next(iter(TEMPLATES))
    at.selectbox(key=f"{K}.template").set_value(first).run()
    ok(at)
    assert at.selectbox(key=f"{K}.template").value == first
    at.text_area(key=f"{K}.program").input(TEMPLATES[first].program + "\nq = p").run()
    ok(at)
    picker = at.selectbox(key=f"{K}.template")
    assert picker.value == "" and picker.format_func(picker.value) == "your own program (edited)"
    at.text_area(key=f"{K}.program").input(TEMPLATES[first].program).run()      # typed back: the template again
    ok(at)
    assert at.selectbox(key=f"{K}.template").value == first
    at.selectbox(key=f"{K}.template").set_value("").run()                       # choosing "your own" changes nothing
    ok(at)
    assert at.text_area(key=f"{K}.program").value == TEMPLATES[first].program


def test_a_rerun_with_the_same_program_does_not_rebuild_the_figures(monkeypatch):
    """A cached move draws the figures built for the first session that asked for this comparison (building the animated
    paths, the difference and both states on every rerun was most of the server's CPU per move); other steps build their own."""
    from optviz.figures import custom_step as figures_custom
    from optviz.ui import custom_view

    built = []

    def counting(result, *args, **kwargs):
        built.append(result.steps)
        return real(result, *args, **kwargs)

    real = figures_custom.difference_figure
    monkeypatch.setattr(figures_custom, "difference_figure", counting)
    monkeypatch.setattr(custom_view, "difference_figure", counting)
    cfg = json.dumps({"optimizer": {"name": "Custom", "program": TEMPLATES["sgd"].program, "options": TEMPLATES["sgd"].options},
                      "steps": 37})                                             # settings no other test draws
    at = page(cfg=cfg)
    ok(at)
    specs = [c.proto.spec for c in at.get("plotly_chart")]
    assert len(specs) == 4 and built == [37]
    ok(at.run())
    assert built == [37] and [c.proto.spec for c in at.get("plotly_chart")] == specs
    other = page(cfg=cfg)                                                       # another session
    assert [c.proto.spec for c in other.get("plotly_chart")] == specs and built == [37]
    ok(at.slider(key=f"{K}.steps").set_value(38).run())
    assert built == [37, 38]
    ok(at.slider(key=f"{K}.steps").set_value(37).run())
    assert built == [37, 38] and [c.proto.spec for c in at.get("plotly_chart")] == specs
