"""Clicking tabs (AppTest): every click opens its tab and the URL follows, also after the URL already named a tab."""
import json
from pathlib import Path

from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.testing.v1 import AppTest

PAGES = Path(__file__).resolve().parents[1] / "pages"


def tab_container(at: AppTest):
    """The page's st.tabs block."""
    def walk(node):
        if getattr(node, "type", None) == "tab_container":
            yield node
        for child in getattr(node, "children", {}).values():
            yield from walk(child)
    return next(walk(at._tree))


def open_tab(at: AppTest) -> str:
    box = tab_container(at)
    return [t.label for t in box.children.values()][box.proto.tab_container.default_tab_index]


def click(at: AppTest, label: str) -> AppTest:
    """What the browser sends when a tab is clicked: the other widgets' values and the tabs' new label."""
    states = at._tree.get_widget_states()
    states.widgets.append(WidgetState(id=tab_container(at).proto.tab_container.id, string_value=label))
    at._run(states)
    assert not at.exception, at.exception
    return at


def opened(path: str, **query: str) -> AppTest:
    at = AppTest.from_file(str(PAGES / path), default_timeout=30)
    at.query_params.update(query)
    at.run()
    assert not at.exception, at.exception
    return at


def test_small_nets_opens_every_clicked_tab():
    at = opened("small_nets.py", net=json.dumps({"epochs": 2, "data": {"n_points": 60}}))
    for label, name in [("Loss & accuracy", "metrics"), ("lr & momentum per group", "lr"), ("Per-group norms", "norms"),
                        ("Decision boundary", None)]:
        click(at, label)
        assert (open_tab(at), at.query_params.get("tab")) == (label, name)


def test_explorer_opens_every_clicked_tab_from_a_linked_tab():
    at = opened("explorer.py", cfg=json.dumps({"steps": 5}), tab="lr")
    assert "lr & momentum" in open_tab(at)
    for name in ["state", "surface3d", "loss", "lr"]:
        click(at, next(t.label for t in tab_container(at).children.values() if t.label.endswith(
            {"state": "Optimizer state", "surface3d": "3-D surface", "loss": "Loss", "lr": "lr & momentum"}[name])))
        assert at.query_params.get("tab") == (None if name == "loss" else name), open_tab(at)


def test_explorer_keeps_the_open_tab_when_lbfgs_adds_one():
    at = opened("explorer.py", cfg=json.dumps({"steps": 5}))
    click(at, ":material/memory: Optimizer state")
    at.selectbox(key="ex.optimizer.name").set_value("LBFGS").run()
    assert open_tab(at).endswith("Optimizer state") and at.query_params.get("tab") == "state"
    assert any(t.label.endswith("Evaluations per step") for t in tab_container(at).children.values())
