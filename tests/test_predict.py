"""Predict, then reveal (engine side): every built-in answer is what a fresh run shows, recomputed here by other code;
answers are not ambiguous; scoring at its bounds; the quiz command; links; the teacher's own questions."""
import json
import math
import re
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
import torch

from optviz import parse_config, run
from optviz.__main__ import main
from optviz.core.config import ConfigError
from optviz.core.engine import surface_of
from optviz.lessons import predict
from optviz.lessons.pitfalls import PITFALLS
from optviz.lessons.predict import (
    FATES,
    NONE,
    WHERE_RIGHT,
    WHERE_ZERO,
    Answer,
    Question,
    answer,
    ask_query,
    ask_question,
    fate_of,
    first_steps,
    link_url,
    score,
    score_where,
)
from optviz.lessons.predict_bank import QUESTIONS, SEQUENCES, quiz, sequence
from optviz.lessons.race import parse_race
from optviz.lessons.schedlab import parse_setup, run_schedule, setup_from_query

KIND = {k: [q for q in QUESTIONS.values() if q.kind == k] for k in predict.KINDS}


def ids(qs):
    return [q.id for q in qs]


@pytest.fixture(scope="module")
def answers():
    return {q.id: answer(q) for q in QUESTIONS.values()}


# -- the bank -----------------------------------------------------------------------------------------------

def test_at_least_16_questions_in_four_sequences_of_every_kind():
    assert len(QUESTIONS) >= 16
    assert list(SEQUENCES.values()) == ["momentum", "schedulers", "the training loop", "adaptive methods"]
    assert all(len(sequence(k)) >= 4 for k in SEQUENCES)
    assert {q.sequence for q in QUESTIONS.values()} == set(SEQUENCES)
    assert all(KIND[k] for k in predict.KINDS)
    assert all(q.link in predict.LINKS for q in QUESTIONS.values())


@pytest.mark.parametrize("q", QUESTIONS.values(), ids=QUESTIONS)
def test_every_explanation_is_two_sentences_and_the_question_round_trips(q):
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", q.explanation.strip()) if s]
    assert len(sentences) == 2, sentences
    assert Question.from_dict(json.loads(json.dumps(q.to_dict()))) == q


def test_the_seeds_topics_are_asked():
    text = json.dumps([q.to_dict() for q in QUESTIONS.values()])
    for topic in ('"groups"', "nesterov", "LBFGS", "zero_grad", "per_batch", '"order"', "adamw", '"noise": 3.0'):
        assert topic in text, topic


# -- every answer is what a fresh run shows -------------------------------------------------------------------

def grad_norm(surface, point) -> float:
    """‖∇f‖ by autograd on the surface's torch formula (the engine reads duals)."""
    p = torch.tensor(point, dtype=torch.float64, requires_grad=True)
    surface.value(p[0], p[1]).backward()
    return float(p.grad.norm())


def fate_here(trace) -> str | None:
    """The stated criteria, written again: blown up or higher loss; gradient down 1000×; bouncing in the last half."""
    if trace.diverged_at is not None or trace.losses[-1] > trace.losses[0]:
        return "diverges"
    s = surface_of(trace.config)
    if grad_norm(s, trace.positions[-1]) <= 1e-3 * grad_norm(s, trace.positions[0]):
        return "converges"
    half = trace.steps // 2
    losses, pos = trace.losses[half:], trace.positions[half:]
    rises = sum(b > a for a, b in zip(losses, losses[1:])) / (len(losses) - 1)
    steps = np.diff(pos, axis=0)
    turns = sum(float(u @ v) < 0 for u, v in zip(steps, steps[1:])) / (len(steps) - 1)
    return "oscillates" if rises >= 0.2 or turns >= 1 / 3 else None


def with_lr(config: dict, factor: float) -> dict:
    c = parse_config(config).to_dict()
    c["optimizer"]["options"]["lr"] *= factor
    return c


@pytest.mark.parametrize("q", KIND["fate"], ids=ids(KIND["fate"]))
def test_fate_is_what_the_run_shows_and_is_not_at_the_edge(q, answers):
    assert answers[q.id].value in FATES
    assert fate_here(run(q.configs[0])) == answers[q.id].value
    # not ambiguous: 5 % more or less lr gives the same fate
    for factor in (0.95, 1.05):
        assert fate_here(run(with_lr(q.configs[0], factor))) == answers[q.id].value, factor


@pytest.mark.parametrize("q", KIND["fate"] + KIND["where"], ids=ids(KIND["fate"] + KIND["where"]))
def test_the_half_drawn_steps_stay_on_the_plot(q):
    # the steps drawn before the guess must not give a divergence away by leaving the plot
    config = parse_config(q.configs[0])
    trace = run(config)
    (x0, x1), (y0, y1) = surface_of(config).domain
    drawn = trace.positions[: q.shown + 1]
    assert ((drawn[:, 0] >= x0) & (drawn[:, 0] <= x1) & (drawn[:, 1] >= y0) & (drawn[:, 1] <= y1)).all()
    assert q.shown < config.steps


@pytest.mark.parametrize("q", KIND["where"], ids=ids(KIND["where"]))
def test_where_is_the_runs_last_point_on_the_plot_and_not_the_start(q, answers):
    config = parse_config(q.configs[0])
    trace = run(config)
    a = answers[q.id]
    assert trace.diverged_at is None and trace.steps == config.steps
    assert a.value == tuple(trace.positions[config.steps])
    (x0, x1), (y0, y1) = surface_of(config).domain
    assert x0 <= a.value[0] <= x1 and y0 <= a.value[1] <= y1
    assert a.facts["span"] == max(x1 - x0, y1 - y0)
    # "it stays where it started" is not a right guess
    assert not score(q, a, tuple(trace.positions[0])).right


@pytest.mark.parametrize("q", KIND["race"], ids=ids(KIND["race"]))
def test_race_winner_is_first_within_tol_and_leads_by_a_margin(q, answers):
    race = parse_race(q.configs[0])
    fs = min(m.value for m in surface_of(race.base).minima if m.kind == "global")
    arrivals = {}
    for label, config in zip(race.labels(), race.configs(), strict=True):
        losses = run(config).losses
        arrivals[label] = next((t for t, f in enumerate(losses) if f - fs <= q.tol), None)
    reached = sorted((t, label) for label, t in arrivals.items() if t is not None)
    assert answers[q.id].value == (reached[0][1] if reached else NONE)
    assert q.choices == (*race.labels(), NONE)
    if len(reached) > 1:          # the winner leads the next by at least 10 % of its steps
        assert reached[1][0] >= 1.1 * reached[0][0]


@pytest.mark.parametrize("q", KIND["curve"], ids=ids(KIND["curve"]))
def test_curve_is_the_candidate_torch_draws_and_the_others_differ_clearly(q, answers):
    def values(setup):
        s = run_schedule(parse_setup(setup))
        return (s.momentums if q.series == "momentum" else s.lrs)[:, 0]

    asked = values(q.configs[0])
    curves = [values(c) for c in q.configs[1:]]
    same = [i for i, c in enumerate(curves) if len(c) == len(asked) and np.allclose(c, asked, rtol=1e-12, atol=0)]
    assert [q.choices[i] for i in same] == [answers[q.id].value]
    for i, c in enumerate(curves):
        if i not in same:
            assert np.max(np.abs(c - asked) / np.abs(asked).max()) > 0.05


@pytest.mark.parametrize("q", KIND["code"], ids=ids(KIND["code"]))
def test_code_is_the_loop_whose_run_draws_the_plot_and_the_other_loops_do_not(q, answers):
    c = q.configs[0]
    outcome = PITFALLS[c["pitfall"]].run()
    runs = [np.asarray(v, dtype=np.float64) for v in outcome.series[c["series"]].values]
    shown = runs[c["loop"]]
    assert answers[q.id].value == q.choices[c["loop"]]
    for i, v in enumerate(runs):
        if i != c["loop"]:
            n = min(len(v), len(shown))
            assert len(v) != len(shown) or np.max(np.abs(v[:n] - shown[:n]) / np.abs(shown).max()) > 0.05


# -- fate's criteria on runs made here ------------------------------------------------------------------------

BOWL = {"surface": "quadratic", "options": {"eigenvalues": [1, 10], "angle": 0}}


@pytest.mark.parametrize("lr, fate", [(0.1, "converges"), (0.2, "oscillates"), (0.21, "diverges")])
def test_fate_at_either_side_of_2_over_lambda(lr, fate):
    # at lr = 2/λ_max the steep coordinate flips sign every step with the same size: it bounces, forever
    trace = run({"problem": BOWL, "optimizer": {"name": "SGD", "options": {"lr": lr}}, "steps": 80})
    assert fate_of(trace)[0] == fate


def test_a_slow_crawl_has_no_fate_and_cannot_be_asked():
    config = {"problem": BOWL, "optimizer": {"name": "SGD", "options": {"lr": 1e-4}}, "steps": 50}
    assert fate_of(run(config))[0] is None
    with pytest.raises(ConfigError, match="more steps"):
        ask_question(config, "fate")


# -- scoring ------------------------------------------------------------------------------------------------------

def test_where_scores_by_distance_relative_to_the_span():
    a = Answer((1.0, 2.0), "", (), {"span": 10.0})
    exact = score_where(a, (1.0, 2.0))
    assert exact.points == 1.0 and exact.right
    edge = score_where(a, (1.0 + WHERE_RIGHT * 10, 2.0))
    assert edge.right and edge.points == pytest.approx(1 - WHERE_RIGHT / WHERE_ZERO)
    assert not score_where(a, (1.0, 2.0 + WHERE_RIGHT * 10 * 1.01)).right
    assert score_where(a, (1.0 + WHERE_ZERO * 10, 2.0)).points == 0.0
    assert score_where(a, (1e6, -1e6)).points == 0.0
    bad = score_where(a, (math.nan, 0.0))
    assert bad.points == 0.0 and not bad.right


def test_a_choice_is_right_or_wrong_and_ties_all_count():
    q = QUESTIONS["booth_race"]
    tie = Answer("SGD", "", ("SGD", "Adam"))
    assert score(q, tie, "Adam").right and score(q, tie, "SGD").points == 1.0
    wrong = score(q, tie, "RMSprop")
    assert not wrong.right and wrong.points == 0.0 and "SGD" in wrong.text
    assert not score(q, tie, None).right


# -- the quiz command ----------------------------------------------------------------------------------------------

def test_quiz_prints_every_question_with_its_answer_and_the_runs_recheck_it(capsys, tmp_path, answers):
    assert main(["quiz"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert [p["id"] for p in printed] == list(QUESTIONS)
    for p in printed:
        q = QUESTIONS[p["id"]]
        assert p["answer"] == json.loads(json.dumps(answers[q.id].to_dict()))
        assert Question.from_dict({k: v for k, v in p.items() if k not in ("answer", "runs", "opens")}) == q
        if q.kind in ("fate", "where"):      # python -m optviz run on the printed config shows the same answer
            path = tmp_path / f"{q.id}.json"
            path.write_text(json.dumps(p["runs"][0]))
            assert main(["run", str(path)]) == 0
            trace = json.loads(capsys.readouterr().out)
            if q.kind == "where":
                assert trace["positions"][-1] == p["answer"]["value"]
            else:
                assert (trace["diverged_at"] is not None) == (p["answer"]["value"] == "diverges")
    assert quiz() == printed


# -- links ------------------------------------------------------------------------------------------------------

def query(url: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@pytest.mark.parametrize("q", QUESTIONS.values(), ids=QUESTIONS)
def test_each_link_opens_the_same_run(q):
    from optviz.ui.urlstate import config_from_query

    url = link_url(q)
    page, qs = urlsplit(url).path, query(url)
    assert page == q.link
    if page == "explorer":     # against the Explorer's default (SGD with momentum 0.9): the question's own settings win
        default = parse_config({"optimizer": {"name": "SGD", "options": {"lr": 1e-3, "momentum": 0.9}}})
        config, warning = config_from_query(qs["cfg"], default)
        assert warning is None and config == parse_config(q.configs[0])
    elif page == "race":
        race = parse_race(q.configs[0])
        assert parse_config(json.loads(qs["cfg"])) == race.base
        assert parse_race({"base": json.loads(qs["cfg"]), "entries": json.loads(qs["race"])}).configs() == race.configs()
    elif page == "scheduler_lab":
        default = parse_setup({"scheduler": "ExponentialLR", "options": {"gamma": 0.9}, "base_lrs": [0.5, 0.1]})
        assert setup_from_query(qs["lab"], default) == (parse_setup(q.configs[0]), None)
    else:
        assert qs == {"pitfall": q.configs[0]["pitfall"]}


# -- the teacher's own question ------------------------------------------------------------------------------

ROSENBROCK = {"problem": {"surface": "rosenbrock"}, "optimizer": {"name": "Adam", "options": {"lr": 0.05}}, "steps": 40}


@pytest.mark.parametrize("kind, data", [
    ("fate", {"problem": BOWL, "optimizer": {"name": "SGD", "options": {"lr": 0.3}}, "steps": 30}),
    ("where", ROSENBROCK),
    ("race", {"base": {"problem": {"surface": "booth"}, "steps": 60},
              "entries": [{"name": "SGD", "options": {"lr": 0.08}}, {"name": "Adam", "options": {"lr": 0.5}}]}),
])
def test_a_teachers_question_round_trips_through_its_link(kind, data):
    q = ask_question(data, kind)
    assert q.kind == kind and q.id == "ask"
    url_query = ask_query(q)
    again = ask_question(json.loads(url_query["ask"]), url_query["kind"])
    assert again == q and answer(again) == answer(q)
    fresh = run(data) if kind != "race" else None
    if kind == "fate":
        assert answer(q).value == fate_here(fresh) == "diverges"
    if kind == "where":
        assert answer(q).value == tuple(fresh.positions[-1])


def test_a_race_question_keeps_its_tolerance():
    data = {"base": {"problem": {"surface": "booth"}, "steps": 60},
            "entries": [{"name": "SGD", "options": {"lr": 0.08}}, {"name": "Adam", "options": {"lr": 0.5}}]}
    q = ask_question(data, "race", tol=0.5)
    assert ask_query(q)["tol"] == "0.5" and q.tol == 0.5


@pytest.mark.parametrize("data, kind, words", [
    (None, "fate", "more steps"), ([], "where", "expected an object"), ("text", "fate", "expected an object"), ({"steps": -1}, "fate", "steps"),
    ({"optimizer": {"name": "Nope"}}, "where", "optimizer"), ({"problem": {"starts": [[0, 0], [1, 1]]}}, "fate", "one start"),
    (ROSENBROCK, "curve", "fate, where, race"), ({"base": {}, "entries": []}, "race", "2 to 6"),
    ({"problem": BOWL, "optimizer": {"name": "SGD", "options": {"lr": 0.3}}, "steps": 60}, "where", "diverges"),
    ({"problem": BOWL, "optimizer": {"name": "SGD", "options": {"lr": 0.205}}, "steps": 30}, "where", "outside"),
])
def test_a_question_that_cannot_be_asked_says_why(data, kind, words):
    with pytest.raises(ConfigError, match=re.escape(words)):
        ask_question(data, kind)


def test_first_steps_cuts_every_record_of_a_run():
    trace = run(ROSENBROCK)
    cut = first_steps(trace, 5)
    assert cut.steps == 5 and len(cut.losses) == 6 and cut.grads.shape == (5, 2) and cut.lrs.shape[0] == 5
    assert all(v.shape[0] == 5 for v in cut.state.values())
    assert np.array_equal(cut.positions, trace.positions[:6])
    assert first_steps(trace, 999).steps == trace.steps and first_steps(trace, -3).steps == 0
