"""The Predict, then reveal page (AppTest): sequence and question links, commit then reveal, the held answer, the
running score, presentation mode, hostile links, and a teacher's question from the Explorer."""
import json
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from streamlit.testing.v1 import AppTest

from optviz import parse_config, run
from optviz.lessons import predict as P
from optviz.lessons.predict_bank import QUESTIONS, SEQUENCES, sequence
from optviz.ui import present
from optviz.ui.explorer_view import md

ROOT = Path(__file__).resolve().parent.parent


def page(**query) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / "predict.py"), default_timeout=30)
    for k, v in query.items():
        at.query_params[k] = v
    return at.run()


def texts(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown]


def heading(at: AppTest) -> str:
    return next(t for t in texts(at) if t.startswith("### "))[4:]


def explained(at: AppTest, q) -> bool:
    return any(i.value == md(q.explanation) for i in at.info)


def run_link(at: AppTest) -> str | None:
    """The target of the 'Open this … in the …' link, if it is shown."""
    for t in texts(at):
        if t.startswith("[Open this"):
            return t[t.index("](./") + 4:-1]
    return None


def param(at: AppTest, name: str):
    v = at.query_params[name] if name in at.query_params else None
    return v[-1] if isinstance(v, list) else v


def guess(at: AppTest, q, value) -> AppTest:
    """Enter a guess (a choice, or a point typed into x and y) and commit it."""
    if q.kind == "where":
        at.number_input(key=f"predict.x.{q.id}").set_value(value[0])
        at.number_input(key=f"predict.y.{q.id}").set_value(value[1])
    else:
        at.radio(key=f"predict.choice.{q.id}").set_value(value)
    at.run()
    return at.button(key="predict.commit").click().run()


@pytest.mark.parametrize("key", list(SEQUENCES))
def test_each_sequence_link_opens_its_question_1(key):
    at = page(seq=key)
    assert not at.exception, [e.value for e in at.exception]
    first = sequence(key)[0]
    assert heading(at) == md(first.prompt)
    assert any(t.startswith(f"**Question 1 of {len(sequence(key))}**") for t in texts(at))
    assert not explained(at, first) and run_link(at) is None      # nothing is revealed before a guess


# one question of each kind, answered right
KINDS = ["momentum_lr", "momentum_where", "booth_race", "per_batch_curve", "order_code"]


@pytest.mark.parametrize("qid", KINDS)
def test_commit_then_reveal_shows_the_explanation_and_the_link_to_the_same_run(qid):
    q = QUESTIONS[qid]
    at = page(q=qid)
    assert not at.exception and heading(at) == md(q.prompt)
    assert at.button(key="predict.commit").disabled             # no guess yet, nothing to commit
    truth = P.answer(q)
    at = guess(at, q, truth.value)
    assert not at.exception, [e.value for e in at.exception]
    assert explained(at, q)
    assert run_link(at) == P.link_url(q)
    assert any("1 of 1 right" in t for t in texts(at))
    assert any(s.value.startswith(("Right", "Your point")) for s in at.success)


def test_where_guess_is_scored_against_the_real_point_and_drawn_over_the_run():
    q = QUESTIONS["per_group_where"]
    truth = run(q.configs[0]).positions[-1]
    at = guess(page(q=q.id), q, (2.0, 2.0))          # far from the real point
    assert any(e.value.startswith("Your point is") for e in at.error)
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    marks = {t.get("name"): t for t in spec["data"]}
    assert marks["your guess"]["x"] == [2.0] and marks["your guess"]["y"] == [2.0]
    assert marks["where torch put it"]["x"] == [pytest.approx(truth[0])]
    assert "frames" in spec and len(spec["frames"]) > 1      # the real run, animated


def test_a_wrong_guess_counts_and_the_score_runs_over_questions():
    first, second = sequence("loop")[:2]
    at = page(q=first.id)
    right = P.answer(first).value
    at = guess(at, first, right)
    at.button(key="predict.next").click().run()
    assert param(at, "q") == second.id and heading(at) == md(second.prompt)
    wrong = next(c for c in second.choices if c != P.answer(second).value)
    at = guess(at, second, wrong)
    assert any("1 of 2 right" in t for t in texts(at))
    assert any(e.value.startswith("Not this time") for e in at.error)


def test_hold_keeps_the_answer_until_reveal():
    q = QUESTIONS["nesterov_lr"]
    at = guess(page(q=q.id, hold="1"), q, "converges")
    assert not at.exception
    assert not explained(at, q) and run_link(at) is None
    assert any("teacher reveals" in s.value for s in at.success)
    at.button(key="predict.reveal").click().run()
    assert explained(at, q) and run_link(at) == P.link_url(q)
    assert any(e.value.startswith("Not this time") for e in at.error)     # nesterov_lr diverges


def test_hold_reveals_without_a_guess_and_keeps_hold_when_moving_on():
    q = sequence("adaptive")[0]
    at = page(seq="adaptive", hold="1")
    assert not explained(at, q)
    at.button(key="predict.reveal").click().run()
    assert explained(at, q) and not at.error and any("nothing answered" in t for t in texts(at))
    at.button(key="predict.next").click().run()
    assert param(at, "hold") == "1" and param(at, "q") == sequence("adaptive")[1].id


def test_the_sequence_picker_opens_question_1_of_the_new_sequence():
    at = page(q="adam_where")
    at.selectbox(key="predict.seq").set_value("schedulers").run()
    assert param(at, "q") == sequence("schedulers")[0].id and param(at, "seq") == "schedulers"
    assert heading(at) == md(sequence("schedulers")[0].prompt)


def test_presentation_mode_composes_with_a_sequence_link():
    at = page(seq="schedulers", present="1")
    assert not at.exception
    assert not any("Guess first, then look" in t for t in texts(at))
    layout = json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]
    assert present.MIN_HEIGHT <= layout["height"] <= present.SCREEN_HEIGHT - present.TITLE
    at.button(key="predict.next").click().run()
    assert param(at, "present") == "1" and param(at, "q") == sequence("schedulers")[1].id


@pytest.mark.parametrize("query, words", [
    ({"q": "no_such_question"}, "There is no question"),
    ({"q": "{" * 300}, "There is no question"),
    ({"seq": "../../etc/passwd"}, "There is no sequence"),
    ({"ask": "not json", "kind": "fate"}, "cannot be asked"),
    ({"ask": "{" * 9001, "kind": "fate"}, "too long"),
    ({"ask": json.dumps({"optimizer": {"name": "Nope"}}), "kind": "where"}, "cannot be asked"),
    ({"ask": json.dumps({"steps": 5}), "kind": "curve"}, "cannot be asked"),
    ({"ask": json.dumps({"problem": {"surface": "quadratic"}, "optimizer": {"name": "SGD", "options": {"lr": 0.3}},
                         "steps": 60}), "kind": "where"}, "diverges"),
    ({"ask": "[]", "kind": "race", "tol": "nan"}, "cannot be asked"),
])
def test_a_hostile_link_warns_and_shows_the_first_question(query, words):
    at = page(**query)
    assert not at.exception, [e.value for e in at.exception]
    assert any(words in unquote(w.value.replace("\\", "")) for w in at.warning), [w.value for w in at.warning]
    assert heading(at) == md(sequence(next(iter(SEQUENCES)))[0].prompt)


def test_a_teachers_question_from_the_explorer_round_trips():
    explorer = AppTest.from_file(str(ROOT / "pages" / "explorer.py"), default_timeout=30)
    config = {"problem": {"surface": "himmelblau"}, "optimizer": {"name": "Adam", "options": {"lr": 0.1}}, "steps": 30}
    explorer.query_params["v"] = "1"
    explorer.query_params["cfg"] = json.dumps(config)
    explorer.run()
    assert not explorer.exception
    caption = next(c.value for c in explorer.caption if c.value.startswith("Ask this run as a question"))
    where = next(part for part in caption.split("](")[1:] if "kind=where" in part)
    link = where[: where.index(")")]
    query = {k: v[0] for k, v in parse_qs(urlsplit(link).query).items()}
    assert urlsplit(link).path == "./predict" and query["kind"] == "where"

    at = page(**query)
    assert not at.exception and any(i.value.startswith("A question made from a link") for i in at.info)
    q = P.ask_question(json.loads(query["ask"]), "where")
    assert heading(at) == md(q.prompt)
    truth = tuple(run(parse_config(config)).positions[-1])
    qk = next(k.key for k in at.number_input)[len("predict.x."):]
    at.number_input(key=f"predict.x.{qk}").set_value(truth[0])
    at.number_input(key=f"predict.y.{qk}").set_value(truth[1])
    at.run().button(key="predict.commit").click().run()
    assert any(s.value.startswith("Your point is 0 from") for s in at.success)
    assert run_link(at) == P.link_url(q)


def test_a_teachers_race_question_offers_the_racers_and_scores_from_the_runs():
    race = {"base": {"problem": {"surface": "booth"}, "steps": 60},
            "entries": [{"name": "SGD", "options": {"lr": 0.08}}, {"name": "Adam", "options": {"lr": 0.5}}]}
    q = P.ask_question(race, "race", tol=0.01)
    at = page(**P.ask_query(q))
    assert not at.exception and heading(at) == md(q.prompt)
    qk = at.radio[0].key[len("predict.choice."):]
    assert at.radio[0].options == list(q.choices)
    at.radio(key=f"predict.choice.{qk}").set_value(P.answer(q).value).run()
    at.button(key="predict.commit").click().run()
    assert any(s.value.startswith("Right") for s in at.success)
    assert run_link(at) == P.link_url(q)


def test_the_race_page_asks_its_race_as_a_question():
    """The Race page links its race as a teacher's race question; the link's race is the page's own, and the
    Predict page can answer it."""
    from urllib.parse import parse_qs, urlsplit

    from streamlit.testing.v1 import AppTest

    from optviz.lessons.predict import answer, ask_question

    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "pages" / "race.py"), default_timeout=30).run()
    assert not at.exception
    (text,) = [c.value for c in at.caption if "Ask this race as a question" in c.value]
    url = text[text.index("](") + 2: text.index(")", text.index("]("))]
    query = parse_qs(urlsplit(url).query)
    assert urlsplit(url).path.endswith("predict") and query["kind"] == ["race"]
    from optviz.lessons.race import parse_race

    linked = parse_race(json.loads(query["ask"][0]))
    assert linked.labels() == list(at.table[0].value["optimizer"])       # the racers of the page's results table
    q = ask_question(json.loads(query["ask"][0]), "race")
    assert q.choices == (*linked.labels(), "none of them") and answer(q).value in q.choices
