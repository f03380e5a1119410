"""Trajectory Explorer (AppTest): defaults, every optimizer and scheduler, groups, divergence, typed and hostile
formulas, tampered links, presets, hidden controls, the single-step button, and the fast contour path."""
import base64
import json
from pathlib import Path

import numpy as np
import plotly.io as pio
import pytest
from streamlit.testing.v1 import AppTest

from optviz.core.codegen import generate_script
from optviz.core.config import ConfigError, parse_config
from optviz.core.engine import run, surface_of
from optviz.core.optimizers import OPTIMIZERS
from optviz.core.schedulers import SCHEDULERS
from optviz.figures import contour_base, contour_figure, contour_with_paths, loss_figure, loss_figure_fast, path_of, scalar_state
from optviz.lessons.presets import presets_for
from optviz.lessons.schedlab import config_schedule
from optviz.ui.urlstate import config_from_query

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "explorer.py")
DEFAULT = parse_config({"problem": {"surface": "rosenbrock"},
                        "optimizer": {"name": "SGD", "options": {"lr": 1e-3, "momentum": 0.9}}, "steps": 200})


def page(**query) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=30)
    for k, v in query.items():
        at.query_params[k] = v if isinstance(v, str) else json.dumps(v)
    at.run()
    assert not at.exception, at.exception
    return at


def url_config(at: AppTest):
    config, warning = config_from_query(at.query_params.get("cfg"), DEFAULT)
    assert warning is None
    return config


def specs(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def texts(elements) -> str:
    return " ".join(e.value for e in elements)


def test_defaults():
    at = page()
    assert not at.warning and not at.error
    contour, loss = specs(at)
    assert len(contour["frames"]) > 10 and contour["layout"]["sliders"] and "Rosenbrock" in contour["layout"]["title"]["text"]
    assert sum(len(c.proto.spec) for c in at.get("plotly_chart")) < 1_000_000
    assert url_config(at) == DEFAULT
    assert at.slider(key="ex.steps").value == 200 and at.selectbox(key="ex.optimizer.name").value == "SGD"
    assert "SGD" in texts(at.markdown) and at.latex


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optimizer(name):
    at = page(cfg={"optimizer": {"name": name}, "steps": 6}, tab="state")
    assert not at.error and at.selectbox(key="ex.optimizer.name").value == name
    config = url_config(at)
    assert config.optimizer.name == name and config.steps == 6
    names = {t.get("name", "") for t in specs(at)[1]["data"]}
    trace = run(config)
    scalars = scalar_state(trace)      # torch's per-parameter scalars (step, …) are drawn once, the rest per coordinate
    assert all((k in names) if k in scalars else {f"{k}[x]", f"{k}[y]"} <= names for k in trace.state)


def test_switching_optimizer_uses_the_new_optimizers_defaults():
    at = page()
    at.selectbox(key="ex.optimizer.name").set_value("RMSprop").run()
    at.select_slider(key="ex.optimizer.RMSprop.lr").set_value(0.001).run()
    assert url_config(at).optimizer.options == {**OPTIMIZERS["RMSprop"].defaults(), "lr": 0.001}


def test_groups_on():
    at = page(cfg={"steps": 20}, tab="lr")
    at.toggle(key="ex.optimizer.SGD.groups_on").set_value(True).run()
    config = url_config(at)
    assert config.optimizer.groups == {"x": {}, "y": {"lr": 1e-4}}        # a tenth of the lr: slower, never less stable
    lr_spec = specs(at)[1]
    assert {t["name"] for t in lr_spec["data"]} >= {"lr (x)", "lr (y)"}
    at.multiselect(key="ex.optimizer.SGD.group.x.names").set_value(["lr", "momentum"]).run()
    at.slider(key="ex.optimizer.SGD.group.x.momentum").set_value(0.5).run()
    assert url_config(at).optimizer.groups["x"] == {"lr": 0.001, "momentum": 0.5}
    assert run(url_config(at)).momentums[0].tolist() == [0.5, 0.9]


@pytest.mark.parametrize("name", SCHEDULERS)
def test_every_scheduler(name):
    at = page(cfg={"scheduler": {"name": name}, "steps": 12}, tab="lr")
    assert not at.error and at.selectbox(key="ex.scheduler.name").value == name
    config = url_config(at)
    assert config.scheduler.name == name
    assert specs(at)[1]["data"][0]["name"] == "lr (xy)"


@pytest.mark.parametrize("name", SCHEDULERS)
def test_every_scheduler_with_its_defaults_runs_the_default_explorer_to_the_end(name):
    """A default must show what it is for: picked on the default Explorer, no scheduler diverges (OneCycleLR's and
    CyclicLR's peaks start at the optimizer's lr), stepped per epoch (the default) or per step."""
    at = page()
    at.selectbox(key="ex.scheduler.name").set_value(name).run()
    assert not at.exception and not at.error and not at.warning, [w.value for w in at.warning]
    config = url_config(at)
    assert config.scheduler.name == name and run(config).steps == DEFAULT.steps
    at.radio(key="ex.scheduler.interval").set_value("step").run()
    assert not at.exception and not at.error and not at.warning, [w.value for w in at.warning]
    config = url_config(at)
    assert config.scheduler.interval == "step" and run(config).steps == DEFAULT.steps


@pytest.mark.parametrize("nesterov", [False, True])
def test_groups_on_with_momentum_or_nesterov_does_not_diverge(nesterov):
    at = page()
    if nesterov:
        at.checkbox(key="ex.optimizer.SGD.nesterov").check().run()
    at.toggle(key="ex.optimizer.SGD.groups_on").set_value(True).run()
    assert not at.exception and not at.warning, [w.value for w in at.warning]
    config = url_config(at)
    assert config.optimizer.groups is not None and config.optimizer.options["nesterov"] is nesterov
    assert run(config).diverged_at is None


@pytest.mark.parametrize("opt", [{"name": "SGD", "options": {"lr": 1e-3, "momentum": 0.9}, "groups": {"x": {}, "y": {"lr": 1e-4}}},
                                 {"name": "Adam", "options": {"lr": 0.01}}, {"name": "LBFGS"}])
def test_config_schedule_equals_the_runs_lrs(opt):
    """The schedule computed without the path is the run's own, for every scheduler that does not watch the loss."""
    for name, spec in SCHEDULERS.items():
        for interval in ("epoch", "step"):
            data = {"problem": {"surface": "quadratic"}, "optimizer": opt, "steps": 23,
                    "scheduler": {"name": name, "options": spec.defaults(), "interval": interval, "steps_per_epoch": 4}}
            try:
                config = parse_config(data)
            except ConfigError:       # e.g. a momentum-cycling scheduler on LBFGS, which has no momentum
                continue
            schedule, trace = config_schedule(config), run(config)
            if spec.needs_metric:
                assert schedule is None
                continue
            assert trace.steps == 23 and np.array_equal(schedule[0], trace.lrs), (name, interval)
            assert np.array_equal(schedule[1], trace.momentums, equal_nan=True), (name, interval)


def test_lr_plot_draws_the_whole_schedule_when_the_path_diverges():
    cfg = {"scheduler": {"name": "OneCycleLR", "options": {"max_lr": 0.01}}}       # diverges at step 26
    at = page(cfg=cfg, tab="lr")
    config = url_config(at)
    trace = run(config)
    assert trace.diverged_at is not None and trace.steps < config.steps
    lr = specs(at)[1]
    rest = [t for t in lr["data"] if "after the path stopped" in t.get("name", "") and t.get("yaxis") != "y2"]
    assert len(rest) == 1 and rest[0]["line"]["dash"] == "dot"
    xs, ys = figure_values(rest[0]["x"]), figure_values(rest[0]["y"])
    expected = config_schedule(config)[0][:, 0]
    assert xs[0] == trace.steps and xs[-1] == config.steps
    assert np.allclose(ys, expected[trace.steps - 1:], rtol=1e-6)
    assert expected.max() == pytest.approx(0.01) and max(ys) == pytest.approx(0.01, rel=1e-6)   # the peak comes after
    assert any(s.get("type") == "line" and s["x0"] == trace.steps + 0.5 for s in lr["layout"]["shapes"])
    lo, hi = lr["layout"]["yaxis"]["range"]
    assert lo <= expected.min() and hi >= expected.max()


def test_scheduler_interval_and_epochs():
    at = page(cfg={"scheduler": {"name": "StepLR", "options": {"step_size": 1, "gamma": 0.5}}, "steps": 30})
    at.number_input(key="ex.scheduler.steps_per_epoch").set_value(5).run()
    assert run(url_config(at)).lrs[:, 0].tolist()[4:6] == [1e-3, 5e-4]
    at.radio(key="ex.scheduler.interval").set_value("step").run()
    assert url_config(at).scheduler.interval == "step"


def test_divergence_is_named_and_the_path_stops_there():
    at = page(cfg={"optimizer": {"options": {"lr": 0.003, "momentum": 0.0}}})
    assert "Diverged at step 5" in texts(at.warning)
    path = next(t for t in specs(at)[0]["data"] if t.get("name") == "SGD")
    assert len(path["customdata"]) == 5          # the start and 4 finite steps


def test_typed_expression():
    at = page()
    at.selectbox(key="ex.problem.surface").set_value("custom").run()
    at.text_input(key="ex.problem.expression").input("(x - 1)**2 + 4*(y + 0.5)**2")
    at.button(key="ex.problem.expression_submit").click().run()
    assert not at.error
    config = url_config(at)
    assert config.problem.expression == "(x - 1)**2 + 4*(y + 0.5)**2"
    assert "(x - 1)**2" in specs(at)[0]["layout"]["title"]["text"]


@pytest.mark.parametrize("text", ["__import__('os')", "().__class__.__bases__", "x**y**x**y**99999", "open('/etc/passwd')"])
def test_hostile_expression_gets_a_message(text):
    at = page(cfg={"problem": {"expression": "x**2 + y**2"}})
    at.text_input(key="ex.problem.expression").input(text)
    at.button(key="ex.problem.expression_submit").click().run()
    assert not at.exception
    assert at.error or at.warning, text
    if at.error:   # the field, and the formula quoted literally (markdown-escaped, so __ is not bold)
        assert "problem\\.expression" in texts(at.error)
    if text.startswith("__import__"):
        assert "\\_\\_import\\_\\_" in texts(at.error)


@pytest.mark.parametrize("query", [
    {"cfg": "{bad"}, {"cfg": "[1, 2]"}, {"cfg": '{"steps": -1}'}, {"cfg": '{"optimizer": {"name": "__import__"}}'},
    {"cfg": '{"problem": {"expression": "__import__(\'os\')"}}'}, {"cfg": "x" * 9000}, {"v": "99"},
    {"cfg": '{"steps": 1e999}'}, {"preset": "nope"}, {"tab": "<script>"}, {"hide": "," * 600},
])
def test_tampered_query_params_fall_back_with_a_warning(query):
    at = page(**query)
    assert len(at.get("plotly_chart")) == 2 and not at.error
    if {"cfg", "v", "preset"} & set(query):
        assert at.warning, query
        assert url_config(at) == DEFAULT


@pytest.mark.parametrize("key", [p.key for p in presets_for("explorer")])
def test_explorer_preset_link_reproduces_the_run(key):
    preset = next(p for p in presets_for("explorer") if p.key == key)
    at = page(preset=key)
    assert not at.error and not at.warning or preset.key == "lr_too_large"
    assert preset.title in texts(at.info)
    a, b = run(url_config(at)), run(preset.load())
    assert np.array_equal(a.positions, b.positions) and a.config.optimizer == b.config.optimizer
    for name in preset.hidden:
        assert not [w for w in at.selectbox if w.key == f"ex.{name}.name"]
    assert at.query_params.get("lesson") == key


def test_preset_button_and_leaving_the_lesson():
    at = page()
    at.button(key="ex.preset.lbfgs_closure").click().run()
    assert url_config(at).optimizer.name == "LBFGS" and "evaluations" in at.query_params.get("tab", "")
    assert "LBFGS" in texts(at.info)
    at.slider(key="ex.steps").set_value(10).run()
    assert not at.info and "lesson" not in at.query_params


def test_hidden_controls_and_show_all():
    at = page(hide="optimizer,lr,steps,surface")
    keys = {w.key for w in at.selectbox} | {w.key for w in at.slider} | {w.key for w in at.select_slider}
    assert not {"ex.optimizer.name", "ex.steps", "ex.problem.surface", "ex.optimizer.SGD.lr"} & keys
    assert "ex.optimizer.SGD.momentum" in keys and "ex.step_plus" not in {b.key for b in at.button}
    at.button(key="ex.show_all").click().run()
    assert at.selectbox(key="ex.optimizer.name").value == "SGD" and "hide" not in at.query_params


def test_single_step_buttons():
    at = page(cfg={"steps": 30})
    at.button(key="ex.step_plus").click().run()
    assert url_config(at).steps == 31 and at.slider(key="ex.steps").value == 31
    assert any("Step 31 in numbers" in e.label for e in at.expander)
    at.button(key="ex.step_minus").click().run()
    at.button(key="ex.step_minus").click().run()
    assert url_config(at).steps == 29


def test_code_tab_shows_the_script_and_downloads():
    at = page(cfg={"steps": 15}, tab="code")
    assert at.code[0].value.strip() == generate_script(url_config(at)).strip()
    assert {b.label for b in at.get("download_button")} == {"⬇ script (.py)", "⬇ trace (.csv)", "⬇ trace (.json)"}


def test_lbfgs_shows_evaluations_tab():
    at = page(cfg={"optimizer": {"name": "LBFGS", "options": {"line_search_fn": "strong_wolfe"}}, "steps": 8},
              tab="evaluations")
    bars = specs(at)[1]["data"][0]
    assert bars["type"] == "bar"


def test_url_round_trip_restores_the_exact_run():
    at = page()
    at.selectbox(key="ex.problem.surface").set_value("beale").run()
    at.selectbox(key="ex.optimizer.name").set_value("Adam").run()
    at.select_slider(key="ex.optimizer.Adam.lr").set_value(0.1).run()
    at.number_input(key="ex.problem.start.beale.x").set_value(2.0).run()
    again = page(**{k: at.query_params[k] for k in at.query_params})
    assert url_config(again) == url_config(at) and specs(again)[0] == specs(at)[0]


# -- the fast contour path equals the validated figure ---------------------------------------------

def figure_values(v) -> np.ndarray:
    """A figure's x or y values, whether plotly wrote them as a list or as a typed array."""
    if isinstance(v, dict) and {"dtype", "bdata"} <= set(v):
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"]).astype(np.float64)
    return np.asarray(v, dtype=np.float64)


def _plain(o):
    """Figure JSON with typed arrays decoded and floats as float32 (a float32 array prints as its shortest text, which
    reads back to the same float32), to compare two serialisations of one figure."""
    if isinstance(o, dict):
        if {"dtype", "bdata"} <= set(o):
            return [_plain(v) for v in np.frombuffer(base64.b64decode(o["bdata"]), dtype=o["dtype"]).tolist()]
        return {k: _plain(v) for k, v in o.items()}
    if isinstance(o, list):
        return [_plain(v) for v in o]
    return float(np.float32(o)) if isinstance(o, float) else o


@pytest.mark.parametrize("cfg, click", [
    ({"optimizer": {"name": "Adam", "options": {"lr": 0.05}}, "steps": 90}, 25),
    ({"problem": {"surface": "saddle"}, "optimizer": {"name": "SGD", "options": {"lr": 0.3, "momentum": 0.9}}, "steps": 300}, 0),
])
def test_contour_with_paths_equals_contour_figure(cfg, click):
    config = parse_config(cfg)
    tr = run(config)
    surf = surface_of(config)
    slow = contour_figure(surf, [path_of(tr)], click_grid=click)
    fast = contour_with_paths(contour_base(surf, click_grid=click), [path_of(tr)], surface=surf)
    assert _plain(json.loads(pio.to_json(fast, validate=False))) == _plain(json.loads(slow.to_json()))


@pytest.mark.parametrize("f_star, log", [(0.0, True), (None, True), (None, False)])
def test_loss_figure_fast_equals_loss_figure(f_star, log):
    traces = [run({"problem": {"surface": "saddle"}, "optimizer": {"name": n}, "steps": 30}) for n in ("SGD", "Adam")]
    paths = [path_of(tr) for tr in traces]
    slow, fast = loss_figure(paths, f_star, log=log), loss_figure_fast(paths, f_star, log=log)
    assert _plain(json.loads(pio.to_json(fast, validate=False))) == _plain(json.loads(slow.to_json()))


def test_a_preset_link_keeps_its_own_hidden_controls():
    at = page(preset="lr_too_large", hide="momentum")
    keys = {w.key for w in at.selectbox} | {w.key for w in at.slider}
    assert "ex.optimizer.name" not in keys and "ex.optimizer.SGD.momentum" not in keys
    assert set(at.query_params["hide"].split(",")) == {"optimizer", "momentum"}
