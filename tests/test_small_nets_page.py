"""The Small Nets page in AppTest: defaults, every dataset, LBFGS, a scheduler, comparing, bad inputs and tampered links."""
import json

import pytest
from streamlit.testing.v1 import AppTest

from optviz.nets.datasets import DATASETS

PAGE = "../pages/small_nets.py"
TABS = ["Decision boundary", "Loss & accuracy", "lr & momentum per group", "Per-group norms", "Loss landscape", "Code"]
FAST = {"epochs": 4, "data": {"n_points": 120}}


def page(config: dict | None = None, tab: str | None = None, **query: str) -> AppTest:
    """The page with a config in its link (only what differs from the defaults) and raw query parameters."""
    at = AppTest.from_file(PAGE, default_timeout=90)
    if config is not None:
        at.query_params["net"] = json.dumps(config)
    for k, v in query.items():
        at.query_params[k] = v
    if tab is not None:
        at.session_state["nets.tab"] = tab
    return at


def qp(at: AppTest, name: str) -> str | None:
    v = at.query_params.get(name)
    return v[0] if isinstance(v, list) else v


def plain(markdown: str) -> str:
    """A message as read on screen (the page escapes markdown in messages that quote input)."""
    return markdown.replace("\\", "")


def charts(at: AppTest) -> int:
    return len(at.get("plotly_chart"))


def ok(at: AppTest) -> AppTest:
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


def test_defaults_show_the_seeds_optimizer_and_train():
    at = ok(page().run())
    code = at.code[0].value
    assert "{'params': model.base.parameters()}" in code and "{'params': model.classifier.parameters(), 'lr': 0.01}" in code
    assert "lr=0.1, momentum=0.9" in code
    assert any("100 epochs" in c.value and "test accuracy" in c.value for c in at.caption)
    assert charts(at) == 1
    assert qp(at, "v") == "1" and qp(at, "net") is None


@pytest.mark.parametrize("name", list(DATASETS))
def test_each_dataset(name):
    at = ok(page({**FAST, "data": {"name": name, "n_points": 120}}).run())
    assert at.selectbox(key="nets.data.name").value == name
    assert any(("R²" if name == "sine" else "accuracy") in c.value for c in at.caption)
    assert charts(at) == 1


@pytest.mark.parametrize("tab", TABS)
def test_every_tab(tab):
    at = ok(page(FAST, tab=tab).run())
    assert charts(at) == (0 if tab == "Code" else 1)
    if tab == "Code":
        assert "optimizer.step()" in at.code[1].value and "print(json.dumps(metrics))" in at.code[1].value


def test_lbfgs_runs_full_batch_without_groups():
    at = page(FAST)
    at.run()
    at.selectbox(key="nets.optimizer.name").set_value("LBFGS").run()
    ok(at)
    assert "torch.optim.LBFGS(model.parameters()" in at.code[0].value
    assert any("no parameter groups" in i.value for i in at.info)
    assert any("full-batch steps" in c.value and "closure calls" in c.value for c in at.caption)
    assert "LBFGS" in qp(at, "net")


def test_a_scheduler_per_step_reaches_the_run_and_the_url():
    at = page(FAST, tab="lr & momentum per group")
    at.run()
    at.selectbox(key="nets.scheduler.name").set_value("ExponentialLR").run()
    at.radio(key="nets.scheduler.interval").set_value("step").run()
    ok(at)
    state = json.loads(qp(at, "net"))
    assert state["scheduler"]["name"] == "ExponentialLR" and state["scheduler"]["interval"] == "step"
    assert charts(at) == 1


def test_comparing_two_optimizers_on_the_same_init():
    at = page(FAST, tab="Loss landscape")
    at.run()
    at.toggle(key="nets.compare").set_value(True).run()
    ok(at)
    assert "# compared with" in at.code[0].value and "torch.optim.Adam(" in at.code[0].value
    assert json.loads(qp(at, "cmp"))["optimizer"]["name"] == "Adam"
    assert any("path's variance" in c.value for c in at.caption)
    boundary = page(FAST, cmp=qp(at, "cmp")).run()
    assert charts(ok(boundary)) == 2


def test_bad_inputs_give_a_message_naming_the_field():
    at = page(FAST)
    at.run()
    at.slider(key="nets.optimizer.SGD.dampening").set_value(0.5).run()
    at.checkbox(key="nets.optimizer.SGD.nesterov").check().run()
    assert not at.exception
    assert any("optimizer.options.nesterov" in plain(e.value) and "zero dampening" in plain(e.value) for e in at.error)
    at = page(FAST)
    at.run()
    at.selectbox(key="nets.scheduler.name").set_value("LambdaLR").run()
    at.text_input(key="nets.scheduler.LambdaLR.lr_lambda").input("0.9 ** (epoch").run()
    assert not at.exception
    assert any("scheduler.options.lr_lambda" in plain(e.value) for e in at.error)


@pytest.mark.parametrize("query,words", [
    ({"net": "{not json"}, "could not be read"),
    ({"net": json.dumps({"model": {"width": 5000}})}, "model.width"),
    ({"net": json.dumps({"optimizer": {"name": "SparseAdam"}})}, "optimizer.name"),
    ({"net": json.dumps({"optimizer": {"name": "Custom", "program": "p = p - lr * g"}})}, "torch.optim's own optimizers only"),
    ({"net": json.dumps({"epochs": 4}), "cmp": json.dumps({"optimizer": {"name": "Custom", "program": "p = p - lr * g"}})},
     "torch.optim's own optimizers only"),
    ({"net": json.dumps({"epochs": 4}), "cmp": json.dumps({"optimizer": {"name": "SGD", "options": {"lr": -1}}})},
     "comparison settings"),
    ({"v": "99"}, "version '99'"),
    ({"net": json.dumps({"data": {"name": "**bold** [x](y)"}})}, "unknown dataset '**bold** [x](y)'"),
])
def test_a_tampered_link_falls_back_to_the_defaults_with_a_warning(query, words):
    at = page(**query).run()
    assert not at.exception and not at.error
    assert any(words in plain(w.value) for w in at.warning), [w.value for w in at.warning]
    assert at.selectbox(key="nets.optimizer.name").value == "SGD"


def test_messages_quote_tampered_text_literally():
    at = page(**{"net": json.dumps({"data": {"name": "**bold**"}})}).run()
    assert any("\\*\\*bold\\*\\*" in w.value for w in at.warning)


def linked(query: dict) -> AppTest:
    """The page opened from a link with exactly these query parameters."""
    at = AppTest.from_file(PAGE, default_timeout=90)
    at.query_params.update(query)
    return ok(at.run())


def chart_key(at: AppTest) -> str:
    return at.get("plotly_chart")[0].proto.id.rsplit("-", 1)[-1]


def test_the_open_tab_is_in_the_url_and_a_link_opens_it():
    at = ok(page(FAST, tab="Per-group norms").run())
    assert qp(at, "tab") == "norms" and chart_key(at) == "nets.norms"
    again = linked({k: qp(at, k) for k in at.query_params})
    assert chart_key(again) == "nets.norms" and qp(again, "tab") == "norms"
    again.session_state["nets.tab"] = "Decision boundary"
    ok(again.run())
    assert qp(again, "tab") is None and chart_key(again) == "nets.boundary.SGD"


def test_an_unknown_tab_in_a_link_opens_the_first():
    at = linked({"net": json.dumps(FAST), "tab": "<script>"})
    assert chart_key(at) == "nets.boundary.SGD" and qp(at, "tab") is None


def test_a_rerun_with_the_same_settings_does_not_rebuild_the_figure(monkeypatch):
    """A cached slider move draws the boundary built for the first session that asked for these settings (building it,
    every frame validated, on every rerun was most of the server's CPU per move); other settings build their own."""
    import optviz.figures.nets as nets
    import optviz.ui.net_state as net_state

    built = []

    def counting(trace, *args, **kwargs):
        built.append(trace.config.seed)
        return real(trace, *args, **kwargs)

    real = nets.boundary_figure
    monkeypatch.setattr(nets, "boundary_figure", counting)
    monkeypatch.setattr(net_state, "boundary_figure", counting)
    config = {**FAST, "epochs": 3, "seed": 31}          # settings no other test draws
    at = ok(page(config).run())
    spec = at.get("plotly_chart")[0].proto.spec
    assert built == [31]
    ok(at.run())
    assert built == [31] and at.get("plotly_chart")[0].proto.spec == spec
    assert ok(page(config).run()).get("plotly_chart")[0].proto.spec == spec and built == [31]     # another session
    at.number_input(key="nets.train.seed").set_value(32).run()
    assert built == [31, 32]
    ok(at.number_input(key="nets.train.seed").set_value(31).run())
    assert built == [31, 32] and at.get("plotly_chart")[0].proto.spec == spec
