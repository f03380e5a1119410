"""The Quadratic Lab and Sweeps & Basins pages, run headless with Streamlit's AppTest."""
import json
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from streamlit.testing.v1 import AppTest

from optviz.core.config import parse_config
from optviz.core.engine import surface_of
from optviz.lessons.sweeps import cell_config, parse_sweep
from optviz.lessons.theory import best_momentum, local_quadratic, rate
from optviz.ui.urlstate import config_from_query, config_to_query

PAGES = Path(__file__).resolve().parent.parent / "pages"
SMALL_VIEW = {"x": {"param": "lr", "low": 1e-5, "high": 3e-3, "n": 12, "log": True},
              "y": {"param": "momentum", "low": 0.0, "high": 0.99, "n": 12, "log": False},
              "tol": 1e-6, "objective": "final_loss", "n": 24, "compare": None, "compare_options": {}}


def page(name: str, **query) -> AppTest:
    at = AppTest.from_file(str(PAGES / name), default_timeout=60)
    for k, v in query.items():
        at.query_params[k] = v if isinstance(v, str) else json.dumps(v)
    return at.run()


def metrics(at: AppTest) -> dict:
    return {m.label: m.value for m in at.metric}


def url_config(at: AppTest, default):
    config, warning = config_from_query(at.query_params.get("cfg"), default)
    assert warning is None
    return config


# -- Quadratic Lab ---------------------------------------------------------------------------------

LAB_DEFAULT = parse_config({"problem": {"surface": "quadratic", "start": [-2.5, 2.0],
                                        "options": {"eigenvalues": [1.0, 10.0], "angle": 30.0, "center": [0.0, 0.0]}},
                            "optimizer": {"name": "SGD", "options": {"lr": 0.1, "momentum": 0.5}}, "steps": 200})


@pytest.fixture(scope="module")
def lab() -> AppTest:
    return page("quadratic_lab.py")


def test_lab_defaults(lab):
    assert not lab.exception and not lab.error and not lab.warning
    m = metrics(lab)
    assert m["condition number κ"] == "10"
    assert m["predicted rate"] == f"{0.5 ** 0.5:.5f}"          # complex roots in both directions: √β
    assert abs(float(m["observed rate"]) - 0.5 ** 0.5) < 0.01
    assert len(lab.get("plotly_chart")) == 4
    assert lab.query_params["v"] == "1"


def test_lab_parameter_change_reruns_and_updates_url(lab):
    lab.number_input(key="ql.alpha").set_value(0.05).run()
    assert not lab.exception
    assert metrics(lab)["predicted rate"] == f"{float(rate(0.05, 0.5, (1.0, 10.0))):.5f}"
    assert url_config(lab, LAB_DEFAULT).optimizer.options["lr"] == 0.05


def test_lab_jump_and_local_quadratic(lab):
    lab.button(key="ql.jump").click().run()
    hb = best_momentum(1.0, 10.0)
    assert metrics(lab)["predicted rate"] == f"{hb.rate:.5f}"
    assert url_config(lab, LAB_DEFAULT).optimizer.options["momentum"] == pytest.approx(hb.beta)
    lab.selectbox(key="ql.src").set_value("rosenbrock").run()
    lab.button(key="ql.load").click().run()
    assert not lab.exception
    m = metrics(lab)
    assert m["condition number κ"] == "2508" and m["predicted rate"] == "0.96085"
    assert m["α*"] == "0.003839" and m["β*"] == "0.92322" and m["best GD α"] == "0.001996"
    assert any("κ = 2508" in i.value for i in lab.info)


def test_lab_rotates_lambda_one_eigenvector_whatever_the_order():
    at = page("quadratic_lab.py")
    at.number_input(key="ql.l1").set_value(10.0)
    at.number_input(key="ql.l2").set_value(1.0)
    at.slider(key="ql.angle").set_value(0.0).run()
    assert not at.exception and not at.error
    run = url_config(at, LAB_DEFAULT)
    hessian = local_quadratic(surface_of(run), (0.3, -0.2)).hessian
    assert hessian == (pytest.approx((10.0, 0.0)), pytest.approx((0.0, 1.0)))
    assert metrics(at)["condition number κ"] == "10"
    at.slider(key="ql.angle").set_value(90.0).run()
    hessian = local_quadratic(surface_of(url_config(at, LAB_DEFAULT)), (0.0, 0.0)).hessian
    assert hessian == (pytest.approx((1.0, 0.0), abs=1e-12), pytest.approx((0.0, 10.0), abs=1e-12))


@pytest.mark.parametrize("query", [{"v": "1", "cfg": '{"optimizer":{"options":{"lr":"abc"}}}'},
                                   {"v": "7", "cfg": "{}"},
                                   {"v": "1", "cfg": '{"problem":{"surface":"rosenbrock"}}'},
                                   {"v": "1", "cfg": '{"problem":{"options":{"eigenvalues":[-1, 10]}}}'},
                                   {"v": "1", "cfg": '{"steps": 5000}'},
                                   {"v": "1", "cfg": '{"problem":{"options":{"angle": 400}}}'}])
def test_lab_tampered_url_shows_defaults_and_a_warning(query):
    at = page("quadratic_lab.py", **query)
    assert not at.exception and len(at.warning) == 1
    assert metrics(at)["predicted rate"] == f"{0.5 ** 0.5:.5f}"


def test_lab_rerun_with_the_same_settings_does_not_rebuild_its_figures(monkeypatch):
    """A cached move draws the figures built for the first session that asked for these settings (building all four on
    every rerun was most of the server's CPU per move); a new rotation rebuilds the run's figures but not the (α, β)
    plane, which does not depend on it."""
    from optviz.figures import theory
    from optviz.ui import theory_view

    built = []

    def counting(name: str, real):
        def build(*args, **kwargs):
            built.append(name.removesuffix("_figure"))
            return real(*args, **kwargs)
        return build

    for name in ("rate_plane_figure", "rate_figure", "paths_figure", "phase_figure"):
        spy = counting(name, getattr(theory, name))
        monkeypatch.setattr(theory, name, spy)
        monkeypatch.setattr(theory_view, name, spy)
    every = ["paths", "phase", "rate", "rate_plane"]
    cfg = {"optimizer": {"options": {"lr": 0.0371, "momentum": 0.3}}, "steps": 30}      # settings no other test draws
    at = page("quadratic_lab.py", v="1", cfg=cfg)
    specs = [c.proto.spec for c in at.get("plotly_chart")]
    assert not at.exception and len(specs) == 4 and sorted(built) == every
    at.run()
    assert not at.exception and sorted(built) == every and [c.proto.spec for c in at.get("plotly_chart")] == specs
    other = page("quadratic_lab.py", v="1", cfg=cfg)                                     # another session
    assert [c.proto.spec for c in other.get("plotly_chart")] == specs and sorted(built) == every
    at.slider(key="ql.angle").set_value(-20.0).run()
    assert not at.exception and sorted(built) == sorted([*every, "paths", "phase", "rate"])
    at.slider(key="ql.angle").set_value(30.0).run()
    assert sorted(built) == sorted([*every, "paths", "phase", "rate"]) and [c.proto.spec for c in at.get("plotly_chart")] == specs


# -- Sweeps & Basins -------------------------------------------------------------------------------

SWEEP_DEFAULT = parse_config({"problem": {"surface": "quadratic", "start": [-2.5, 2.0],
                                          "options": {"eigenvalues": [1.0, 100.0], "angle": 30.0, "center": [0.0, 0.0]}},
                              "optimizer": {"name": "SGD", "options": {"lr": 0.01, "momentum": 0.5}}, "steps": 300})


def test_sweep_page_defaults_and_explorer_link():
    at = page("sweeps.py", view=SMALL_VIEW)
    assert not at.exception and not at.error and not at.warning
    assert "vectorised" in at.caption[0].value
    (link,) = at.get("link_button")
    url = urlparse(link.proto.url)
    assert url.path == "explorer" and parse_qs(url.query)["v"] == ["1"]
    text = parse_qs(url.query)["cfg"][0]
    sweep = parse_sweep({"config": SWEEP_DEFAULT.to_dict(), "x": SMALL_VIEW["x"], "y": SMALL_VIEW["y"]})
    # the link names the whole run, so it opens the same run whatever defaults the Explorer merges it onto
    for explorer_default in (parse_config({}), SWEEP_DEFAULT, parse_config({"steps": 50, "optimizer": {"name": "Adam"}})):
        opened, warning = config_from_query(text, explorer_default)
        assert warning is None
        assert any(opened.key() == cell_config(sweep, i, j).key() for i in range(12) for j in range(12))


def test_url_round_trip_away_from_a_quadratic_default():
    # the page's default is a quadratic with options; a Rosenbrock run must survive the link without them
    rosen = parse_config({**SWEEP_DEFAULT.to_dict(), "problem": {"surface": "rosenbrock", "start": [-1.5, 2.0]}})
    back, warning = config_from_query(config_to_query(rosen, SWEEP_DEFAULT), SWEEP_DEFAULT)
    assert warning is None and back.key() == rosen.key()
    partial, warning = config_from_query('{"problem": {"start": [1, 1]}}', SWEEP_DEFAULT)
    assert warning is None and partial.problem.options == SWEEP_DEFAULT.problem.options


def test_sweep_page_parameter_change_and_basins():
    at = page("sweeps.py", view=SMALL_VIEW)
    at.selectbox(key="sw.SGD.ypar").set_value("weight_decay").run()
    assert not at.exception and not at.error
    assert json.loads(at.query_params["view"])["y"]["param"] == "weight_decay"
    at.selectbox(key="sw.sweep.optimizer").set_value("Rprop").run()       # its axes start from ranges torch accepts
    assert not at.exception and not at.error
    assert json.loads(at.query_params["view"])["y"]["param"].startswith("etas")
    at.radio(key="sw.map").set_value("basins").run()
    assert not at.exception and not at.error
    assert at.query_params["map"] == "basins"
    assert any(c.value.startswith("**Adam**") for c in at.caption)
    assert len(at.get("plotly_chart")) == 1
    at.selectbox(key="sw.compare").set_value("SGD").run()
    assert not at.exception and not at.error
    assert {"**Adam**", "**SGD**"} <= {c.value.split(" ")[0] for c in at.caption}
    assert json.loads(at.query_params["view"])["compare_options"]["momentum"] == 0.0


@pytest.mark.parametrize("query", [{"view": "{not json", "cfg": "{}"},
                                   {"view": json.dumps({**SMALL_VIEW, "n": 10**6})},
                                   {"cfg": '{"steps": 99999}', "view": json.dumps(SMALL_VIEW)},
                                   {"map": "elsewhere", "view": json.dumps(SMALL_VIEW)},
                                   {"view": json.dumps({**SMALL_VIEW, "x": {**SMALL_VIEW["x"], "n": 1000}})},
                                   {"view": json.dumps({**SMALL_VIEW, "y": {**SMALL_VIEW["y"], "low": float("nan")}})},
                                   {"view": json.dumps({**SMALL_VIEW, "tol": "small"})},
                                   {"map": "basins", "view": json.dumps({**SMALL_VIEW, "compare": "SGD",
                                                                        "compare_options": {"lr": [1]}})}])
def test_sweep_page_tampered_url_shows_defaults_and_a_warning(query):
    at = page("sweeps.py", **query)
    assert not at.exception and not at.error
    assert len(at.warning) >= 1


def _shown(select) -> str:
    return select.options[select.index]


def test_sweep_page_labels_describe_the_run_they_label():
    at = page("sweeps.py", view=SMALL_VIEW)
    run = url_config(at, SWEEP_DEFAULT)
    label = surface_of(run).label
    assert _shown(at.selectbox(key="sw.sweep.surface")) == label
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert label in fig["layout"]["title"]["text"]
    # the theory overlay is the theory of the eigenvalues the run used
    hb = best_momentum(*sorted(run.problem.options["eigenvalues"]))
    mark = next(t for t in fig["data"] if t.get("name", "").startswith("theory: α*"))
    assert f"rate {hb.rate:.3f}" in mark["name"] and mark["x"] == [pytest.approx(hb.alpha)]
    lam = ", ".join(f"{v:g}" for v in sorted(run.problem.options["eigenvalues"]))
    assert f"λ = {lam}" in mark["name"]
    # another surface: its label follows the run too
    at.selectbox(key="sw.sweep.surface").set_value("rosenbrock").run()
    run = url_config(at, SWEEP_DEFAULT)
    assert run.problem.surface == "rosenbrock"
    assert _shown(at.selectbox(key="sw.sweep.surface")) == surface_of(run).label
    assert surface_of(run).label in json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]["title"]["text"]


def test_a_rerun_with_the_same_map_does_not_rebuild_its_figure(monkeypatch):
    """A cached slider move draws the figure built for the first session that asked for this map (building it again on
    every rerun was most of the server's CPU per move); another colouring is another figure."""
    from optviz.figures import theory
    from optviz.ui import maps

    built = []

    def counting(*args, **kwargs):
        built.append(kwargs.get("objective", args[1] if len(args) > 1 else None))
        return real(*args, **kwargs)

    real = theory.sweep_figure
    monkeypatch.setattr(theory, "sweep_figure", counting)
    monkeypatch.setattr(maps, "sweep_figure", counting)
    view = {**SMALL_VIEW, "x": {**SMALL_VIEW["x"], "n": 9}, "y": {**SMALL_VIEW["y"], "n": 9}}   # a map no other test draws
    at = page("sweeps.py", view=view)
    assert not at.exception and built == ["final_loss"]
    spec = at.get("plotly_chart")[0].proto.spec
    at.run()
    assert not at.exception and built == ["final_loss"] and at.get("plotly_chart")[0].proto.spec == spec
    assert page("sweeps.py", view=view).get("plotly_chart")[0].proto.spec == spec and built == ["final_loss"]
    at.radio(key="sw.objective").set_value("steps_to_tol").run()
    assert built == ["final_loss", "steps_to_tol"]
    at.radio(key="sw.objective").set_value("final_loss").run()
    assert built == ["final_loss", "steps_to_tol"] and at.get("plotly_chart")[0].proto.spec == spec
