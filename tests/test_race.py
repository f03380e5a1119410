"""Optimizer Race: the results table and the lr-tuning protocol (engine), and the page (AppTest)."""
import json
import math
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from optviz.core.config import ConfigError, parse_config
from optviz.core.engine import run, surface_of
from optviz.core.optimizers import OPTIMIZERS
from optviz.core.trace import Trace
from optviz.lessons.presets import presets_for
from optviz.lessons.race import TuneProtocol, TuneResult, entry_labels, f_star, lr_grid, objective, parse_entries, parse_race, race_results, tune_entry, with_lr

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "race.py")
RACE = {"base": {"problem": {"surface": "himmelblau", "start": [-0.3, -0.9]}, "steps": 150},
        "entries": [{"name": "SGD", "options": {"lr": 0.01}}, {"name": "SGD", "options": {"lr": 0.01, "momentum": 0.9}},
                    {"name": "Adam", "options": {"lr": 0.1}}, {"name": "SGD", "options": {"lr": 0.1}}]}


# -- engine: results table ---------------------------------------------------------------------------

def test_results_equal_values_computed_from_the_traces():
    race = parse_race(RACE)
    traces = [run(c) for c in race.configs()]
    surf = surface_of(race.base)
    tol = 1e-4
    rows = race_results(traces, race.labels(), surf, tol)
    assert [r.label for r in rows] == entry_labels(race.entries)
    for r, tr in zip(rows, traces, strict=True):
        assert r.final_loss == tr.losses[-1]
        end = tr.positions[-1]
        dists = [math.dist(end, m.point) for m in surf.minima]
        assert r.distance == pytest.approx(min(dists)) and r.nearest == surf.minima[int(np.argmin(dists))].point
        first = next((t for t, f in enumerate(tr.losses) if f - 0.0 <= tol), None)
        assert r.first_within == first and r.diverged_at == tr.diverged_at and r.steps == tr.steps
    assert rows[-1].diverged_at is not None and rows[0].first_within is not None   # lr 0.1 diverges on Himmelblau
    # nearly the same start, different basins: the point of Himmelblau
    assert len({r.nearest for r in rows[:3]}) >= 2


def test_results_without_a_known_minimum_say_so():
    config = parse_config({"problem": {"expression": "x**2 + y**2 + x*y"}, "optimizer": {"name": "Adam"}, "steps": 5})
    (row,) = race_results([run(config)], ["Adam"], surface_of(config))
    assert f_star(surface_of(config)) is None and math.isnan(row.distance) and row.first_within is None and row.nearest is None


def test_entries_and_labels():
    race = parse_race(RACE)
    assert parse_entries(race.base, race.entries_json()) == race.entries      # the URL form reads back the same
    assert race.entries_json()[0] == {"name": "SGD", "options": {"lr": 0.01}}  # defaults left out of links
    # an optimizer racing more than once is named by the hyperparameters that differ between its entries
    assert entry_labels(race.entries) == ["SGD lr=0.01, momentum=0", "SGD lr=0.01, momentum=0.9", "Adam",
                                          "SGD lr=0.1, momentum=0"]
    with pytest.raises(ConfigError) as e:
        parse_race({**RACE, "entries": [RACE["entries"][0], {"name": "Adam", "options": {"lr": -1}}]})
    assert e.value.field == "entries[1].optimizer.options.lr" and "Invalid learning rate" in e.value.message
    for bad in ([RACE["entries"][0]], RACE["entries"] * 2, "SGD", [1, 2]):
        with pytest.raises(ConfigError):
            parse_race({**RACE, "entries": bad})


def test_labels_name_what_differs_and_stay_unique():
    base = parse_race(RACE).base
    entries = parse_entries(base, [{"name": "Adam", "options": {"lr": 0.1}},
                                   {"name": "Adam", "options": {"lr": 0.1, "betas": [0.5, 0.999], "amsgrad": True}},
                                   {"name": "Adam", "options": {"lr": 0.1}},
                                   {"name": "SGD", "options": {"lr": 0.1}, "groups": {"x": {}, "y": {"lr": 0.01}}},
                                   {"name": "SGD", "options": {"lr": 0.1}}])
    labels = entry_labels(entries)
    assert labels[0] == "Adam betas=(0.9, 0.999), amsgrad=False #1" and labels[2].endswith("#2")
    assert labels[1] == "Adam betas=(0.5, 0.999), amsgrad=True"
    assert labels[3] == "SGD y.lr=0.01" and labels[4] == "SGD"
    assert len(set(labels)) == len(labels)


# -- engine: the tuning protocol ---------------------------------------------------------------------

def test_lr_grid_is_log_spaced_with_both_ends():
    g = lr_grid(1e-4, 1.0, 3)
    assert len(g) == 13 and g[0] == 1e-4 and g[-1] == 1.0
    assert np.allclose(np.diff(np.log10(g)), 1 / 3, atol=2e-3)
    for bad in ((1.0, 1e-4, 3), (0.0, 1.0, 3), (1e-4, 1.0, 0), (1e-8, 1e8, 10)):
        with pytest.raises(ConfigError):
            lr_grid(*bad)


def test_tuning_picks_the_grids_best_by_the_stated_objective():
    race = parse_race(RACE)
    config = race.configs()[0]
    for obj in ("tail", "final"):
        protocol = TuneProtocol(lr_grid(1e-3, 0.1, 2), 60, 0, obj)
        result = tune_entry(config, protocol, "SGD")
        expected = []
        for lr in protocol.lrs:
            tr = run(with_lr(config, lr, protocol))
            assert tr.config.steps == 60 and tr.config.optimizer.options == {
                **config.optimizer.options, "lr": lr}
            tail = tr.losses[-6:].mean() if obj == "tail" else tr.losses[-1]
            expected.append(math.inf if tr.diverged_at is not None else float(tail))
        assert list(result.scores) == pytest.approx(expected)
        finite = [s for s in expected if math.isfinite(s)]
        assert result.best_lr == protocol.lrs[expected.index(min(finite))] and result.best_score == min(finite)
        assert math.inf in expected       # the grid reaches lrs that diverge, and they lose
        assert obj in protocol.describe() or "last" in protocol.describe()


def _fake(losses: list[float], diverged: int | None = None) -> Trace:
    config = parse_config({"steps": len(losses) - 1})
    n = len(losses) - 1
    return Trace(config, ("xy",), np.zeros((n + 1, 2)), np.array(losses), np.zeros((n, 2)), np.zeros((n, 1)),
                 np.full((n, 1), np.nan), {}, np.ones(n, dtype=int), diverged)


def test_objective_tail_diverged_and_ties():
    p = TuneProtocol((0.1, 0.2, 0.3), 20, 0, "tail")
    losses = list(range(21, 0, -1))                       # 21 … 1: the last 10 % of 20 steps are 2 values
    assert objective(_fake(losses), p) == 1.5
    assert objective(_fake(losses), TuneProtocol((0.1,), 20, 0, "final")) == 1
    assert objective(_fake(losses, diverged=7), p) == math.inf
    scores = {0.1: [5.0] * 21, 0.2: [3.0] * 21, 0.3: [3.0] * 21}
    result = tune_entry(parse_config({}), p, run_fn=lambda c: _fake(scores[c.optimizer.options["lr"]]))
    assert result.best_lr == 0.2                          # a tie goes to the smaller lr
    allbad = tune_entry(parse_config({}), p, run_fn=lambda c: _fake([1.0] * 21, diverged=3))
    assert allbad.best_lr is None and allbad.best_score == math.inf


def test_with_lr_drops_group_lrs_and_keeps_the_rest():
    config = parse_config({"optimizer": {"name": "SGD", "options": {"lr": 0.01, "momentum": 0.5},
                                         "groups": {"x": {"lr": 0.1, "momentum": 0.9}, "y": {}}}})
    c = with_lr(config, 0.03)
    assert c.optimizer.options["lr"] == 0.03 and c.optimizer.groups == {"x": {"momentum": 0.9}, "y": {}}


# -- the page ----------------------------------------------------------------------------------------

def page(**query) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=30)
    for k, v in query.items():
        at.query_params[k] = v if isinstance(v, str) else json.dumps(v)
    at.run()
    assert not at.exception, at.exception
    return at


def texts(elements) -> str:
    return " ".join(e.value for e in elements)


def test_default_race():
    at = page()
    assert len(at.get("plotly_chart")) == 2 and not at.warning and not at.error
    rows = at.table[0].value
    assert list(rows["optimizer"]) == ["SGD", "Adam", "RMSprop"]
    race = parse_race({"base": {"problem": {"surface": "rosenbrock"}, "steps": 300},
                       "entries": [{"name": "SGD", "options": {"lr": 1e-3, "momentum": 0.9}},
                                   {"name": "Adam", "options": {"lr": 0.05}}, {"name": "RMSprop", "options": {"lr": 0.01}}]})
    losses = [run(c).losses[-1] for c in race.configs()]
    assert list(rows["final loss"]) == [f"{v:.4g}" for v in losses]
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert {"SGD", "Adam", "RMSprop"} <= {t.get("name") for t in spec["data"]} and spec["frames"]


def test_same_optimizer_twice_and_add_remove():
    at = page(race=RACE["entries"][:2], cfg={"problem": {"surface": "himmelblau"}})
    assert list(at.table[0].value["optimizer"]) == ["SGD momentum=0", "SGD momentum=0.9"]
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    dashes = {t["name"]: t["line"]["dash"] for t in spec["data"] if t.get("name", "").startswith("SGD")}
    assert dashes == {"SGD momentum=0": "solid", "SGD momentum=0.9": "dash"}       # the legend names what differs
    at.button(key="race.add").click().run()
    assert len(at.table[0].value) == 3 and json.loads(at.query_params["race"])[-1]["name"] == "Adam"
    at.selectbox(key="race.e2.name").set_value("NAdam").run()
    at.button(key="race.e0.remove").click().run()
    assert not at.exception and list(at.table[0].value["optimizer"]) == ["SGD", "NAdam"]
    assert json.loads(at.query_params["race"])[0]["options"] == {"lr": 0.01, "momentum": 0.9}


def test_every_optimizer_races():
    names = list(OPTIMIZERS)
    for i in range(0, len(names), 6):
        group = names[i:i + 6] if len(names[i:i + 6]) >= 2 else names[i - 1:i + 1]
        at = page(race=[{"name": n, "options": {}} for n in group], cfg={"steps": 5})
        assert not at.error and list(at.table[0].value["optimizer"]) == group


def test_tuning_runs_and_its_lrs_can_be_used():
    at = page(race=[{"name": "SGD", "options": {}}, {"name": "Adam", "options": {}}], cfg={"steps": 40},
              tune={"low": 1e-3, "high": 0.1, "per_decade": 1})
    assert "3 log-spaced learning rates from 0.001 to 0.1" in texts(at.markdown)
    at.button(key="race.tune.run").click().run()
    assert not at.exception
    table = at.table[1].value
    race = parse_race({"base": {"problem": {"surface": "rosenbrock"}, "steps": 40},
                       "entries": [{"name": "SGD"}, {"name": "Adam"}]})
    protocol = TuneProtocol((1e-3, 1e-2, 0.1), 40, 0, "tail")
    best = [tune_entry(c, protocol).best_lr for c in race.configs()]
    assert list(table["best lr"]) == [f"{b:g}" for b in best]
    at.button(key="race.tune.use").click().run()
    assert [e["options"].get("lr", 1e-3) for e in json.loads(at.query_params["race"])] == best


def test_tuning_says_when_the_best_lr_is_an_end_of_the_grid():
    assert TuneResult("A", (0.1, 1.0), (2.0, 1.0), 1.0, 1.0, 0).edge == "largest"
    assert TuneResult("A", (0.1, 0.3, 1.0), (1.0, 1.0, 2.0), 0.1, 1.0, 0).edge == "smallest"
    assert TuneResult("A", (0.1, 0.3, 1.0), (2.0, 1.0, math.inf), 0.3, 1.0, 0).edge is None
    assert TuneResult("A", (0.1, 0.3), (math.inf, math.inf), None, math.inf, 0).edge is None
    at = page(race=[{"name": "SGD", "options": {}}, {"name": "Adam", "options": {}}], cfg={"steps": 40},
              tune={"low": 1e-3, "high": 0.1, "per_decade": 1})
    at.button(key="race.tune.run").click().run()
    assert not at.exception
    race = parse_race({"base": {"problem": {"surface": "rosenbrock"}, "steps": 40},
                       "entries": [{"name": "SGD"}, {"name": "Adam"}]})
    found = [tune_entry(c, TuneProtocol((1e-3, 1e-2, 0.1), 40, 0, "tail"), label)
             for c, label in zip(race.configs(), race.labels(), strict=True)]
    at_edge = [r for r in found if r.best_lr == 0.1]
    assert at_edge                                   # Adam's best on this short grid is its largest lr
    assert list(at.table[1].value["note"]) == [r.edge_note() for r in found]
    assert all("best lr is the largest tried; the optimum may lie above it" in r.edge_note() for r in at_edge)
    warned = texts(at.warning)
    assert all(r.label in warned for r in at_edge) and warned.count("largest tried") == len(at_edge)


@pytest.mark.parametrize("query", [
    {"race": "[bad"}, {"race": '[{"name": "Nope"}, {"name": "SGD"}]'}, {"race": json.dumps([{"name": "SGD"}] * 7)},
    {"race": '{"a": 1}'}, {"cfg": "{bad"}, {"v": "99"}, {"tol": "nan", "tune": '{"low": -1, "objective": "x"}'},
    {"preset": "adam_on_beale"}, {"hide": "optimizer,steps,racers,lr"},
])
def test_tampered_links_fall_back_with_a_warning(query):
    at = page(**query)
    assert len(at.get("plotly_chart")) == 2 and not at.error
    if {"race", "cfg", "v", "preset"} & set(query):
        assert at.warning, query


def test_hostile_expression_in_a_link():
    at = page(cfg={"problem": {"expression": "__import__('os').system('echo hi')"}})
    assert "not allowed" in texts(at.warning) and len(at.get("plotly_chart")) == 2


@pytest.mark.parametrize("key", [p.key for p in presets_for("race")])
def test_race_preset(key):
    at = page(preset=key)
    assert not at.error
    assert not any("showing the default" in w.value for w in at.warning)
    preset = next(p for p in presets_for("race") if p.key == key)
    labels = entry_labels(preset.load().entries)
    assert list(at.table[0].value["optimizer"]) == labels and preset.title in texts(at.info)


def test_tuning_figure_marks_best_and_diverged():
    from optviz.figures import path_of
    from optviz.figures.race import tuning_figure
    from optviz.lessons.race import TuneResult

    tr = run({"steps": 3})
    result = TuneResult("SGD", (1e-3, 1e-2, 1e-1), (2.0, 0.5, math.inf), 1e-2, 0.5, 0.1)
    fig = tuning_figure([result], [path_of(tr)], "tail", 0.0)
    line, crosses, star = fig.data
    assert list(line.x) == pytest.approx([1e-3, 1e-2, 1e-1]) and math.isnan(line.y[2])
    assert list(crosses.x) == [1e-1] and crosses.marker.symbol == "x"
    assert list(star.x) == [1e-2] and list(star.y) == [0.5] and star.marker.symbol == "star"
    assert fig.layout.xaxis.type == "log" and list(fig.layout.xaxis.ticktext) == ["0.001", "0.01", "0.1"]
