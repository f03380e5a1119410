"""Predict, then reveal: the question a link asks, cached answers and figures, the session's guesses and score."""
from __future__ import annotations

import hashlib
import json
import math
from urllib.parse import urlencode

import streamlit as st

from optviz import figures
from optviz.core.config import Config, ConfigError, parse_config
from optviz.figures import predict as fp
from optviz.figures.lessons import code_html, role_colours
from optviz.lessons import predict as P
from optviz.lessons.pitfalls import PITFALLS
from optviz.lessons.predict_bank import QUESTIONS, SEQUENCES, sequence
from optviz.lessons.race import DEFAULT_TOL, parse_race
from optviz.lessons.schedlab import parse_setup, run_schedule
from optviz.ui import explorer_view as view
from optviz.ui.runner import cached_run, surface
from optviz.ui.urlstate import MAX_URL_TEXT, presenting, sticky

SCORES = "predict.scores"        # session: question key -> (points, right)
COMMITTED = "predict.committed"  # session: question key -> the guess (a choice, or [x, y])
REVEALED = "predict.revealed"    # session: the keys of the questions whose answer is shown
CLICK_GRID = 41                  # where: the plot's clickable points, 41 × 41 over the plotted domain
FIGURE_CACHE = dict(max_entries=48, show_spinner=False)  # the questions' figures, shared by every session
LINK_WORDS = {"explorer": "Open this run in the Trajectory Explorer", "race": "Open this race on the Optimizer Race page",
              "scheduler_lab": "Open this setup in the Scheduler Lab", "pitfalls": "Open this pitfall in the Pitfalls Lab"}


# -- which question -------------------------------------------------------------------------------------------

@st.cache_data(max_entries=64, show_spinner=False)
def _ask(text: str, kind: str, tol: float) -> tuple[dict | None, str]:
    """A teacher's question from the link's JSON, or the reason it cannot be asked."""
    try:
        return P.ask_question(json.loads(text), kind, tol, cached_run).to_dict(), ""
    except ConfigError as e:
        return None, str(e)
    except (ValueError, TypeError, RecursionError, KeyError, AttributeError, OverflowError) as e:
        return None, f"the settings could not be read ({type(e).__name__})"


def _tol() -> float:
    try:
        tol = float(st.query_params.get("tol", DEFAULT_TOL))
    except (TypeError, ValueError):
        return DEFAULT_TOL
    return tol if math.isfinite(tol) and 1e-12 <= tol <= 1e6 else DEFAULT_TOL


def read_question() -> tuple[P.Question, list[str]]:
    """The question the URL asks (?ask=<config>&kind=…, else ?q=<id>, else question 1 of ?seq=<sequence>, else the
    first question), and a warning for each part of the link that could not be used."""
    qp, notes = st.query_params, []
    text = qp.get("ask")
    if text is not None:
        kind = qp.get("kind", "fate")
        if len(text) > MAX_URL_TEXT:
            notes.append(f"This question link is too long ({len(text):,} characters).")
        else:
            data, error = _ask(text, kind, _tol())
            if data is not None:
                return P.Question.from_dict(data), notes
            notes.append(f"This question link cannot be asked: {error}.")
    qid = qp.get("q")
    if qid is not None:
        if qid in QUESTIONS:
            return QUESTIONS[qid], notes
        notes.append(f"There is no question {qid[:40]!r}.")
    seq = qp.get("seq")
    if seq is not None and seq not in SEQUENCES:
        notes.append(f"There is no sequence {seq[:40]!r}; the sequences are {', '.join(SEQUENCES)}.")
        seq = None
    if notes:
        notes[-1] += " Showing the first question" + (" of that sequence." if seq else ".")
    return sequence(seq or next(iter(SEQUENCES)))[0], notes


def key_of(q: P.Question) -> str:
    """The question's key in the session (a teacher's question: a hash of its settings)."""
    return q.id if q.id in QUESTIONS and QUESTIONS[q.id] == q else "ask-" + hashlib.sha1(q.key().encode()).hexdigest()[:12]


def go_to(qid: str) -> None:
    """Callback: open a built-in question (its sequence in the link too); keeps ?hold= and ?present=."""
    want = {"seq": QUESTIONS[qid].sequence, "q": qid}
    if st.query_params.get("hold") == "1":
        want["hold"] = "1"
    st.query_params.from_dict(sticky(want))


def holding() -> bool:
    """?hold=1: answers wait for the Reveal button (a teacher's class guesses first)."""
    return st.query_params.get("hold") == "1"


def commit(qk: str, guess, reveal_now: bool) -> None:
    """Callback: keep the learner's guess for this question (and show the answer unless it is held back)."""
    st.session_state.setdefault(COMMITTED, {})[qk] = guess
    if reveal_now:
        reveal(qk)


def reveal(qk: str) -> None:
    st.session_state.setdefault(REVEALED, set()).add(qk)


# -- answers and figures, cached ------------------------------------------------------------------------------------

@st.cache_data(max_entries=16, show_spinner=False)
def outcome(key: str):
    return PITFALLS[key].run()


@st.cache_data(max_entries=64, show_spinner=False)
def _schedule(text: str):
    return run_schedule(parse_setup(json.loads(text)))


def schedule(setup: dict):
    return _schedule(json.dumps(setup, sort_keys=True))


@st.cache_data(max_entries=128, show_spinner=False)
def _answer(qkey: str) -> P.Answer:
    return P.answer(P.Question.from_dict(json.loads(qkey)), runner=cached_run, outcome=outcome, schedule=schedule)


def answer(q: P.Question) -> P.Answer:
    return _answer(q.key())


@st.cache_resource(**FIGURE_CACHE)
def _half_contour(key: str, shown: int, click_grid: int):
    config = Config.from_json(key)
    trace = P.first_steps(cached_run(config), shown)
    fig = figures.contour_with_paths(view.contour_base(config, click_grid), [figures.path_of(trace)], animate=False)
    return fp.click_to_guess(fig) if click_grid else fig


@st.cache_resource(**FIGURE_CACHE)
def _run_contour(key: str):
    """The whole run, animated, without the Explorer's arrows (the guess and the answer are the marks to read)."""
    config = Config.from_json(key)
    fig = figures.contour_with_paths(view.contour_base(config, 0), [figures.path_of(cached_run(config))], arrows=False)
    return fp.titled(fig, "The real run")


@st.cache_resource(**FIGURE_CACHE)
def _race_start(rkey: str):
    race = parse_race(json.loads(rkey))
    paths = view.race_paths(race, [P.first_steps(t, 0) for t in view.race_traces(race)])
    return figures.contour_with_paths(view.contour_base(race.base, 0), paths, animate=False)


def figure(q: P.Question, revealed: bool, guess=None):
    """The question's main figure: half-drawn before the reveal, the real run (over the guess) after it."""
    if q.kind in ("fate", "where"):
        config = parse_config(q.configs[0])
        grid = CLICK_GRID if q.kind == "where" and not revealed else 0
        if not revealed:
            title = "Where is the point after all the steps?" if q.kind == "where" else f"The first {q.shown} steps: what next?"
            return fp.titled(_half_contour(config.key(), q.shown, grid), title if q.shown or q.kind == "where" else "The start: what next?")
        fig = _run_contour(config.key())
        return fp.with_guess(fig, guess, answer(q).value) if q.kind == "where" else fig
    if q.kind == "race":
        rkey = view.race_key(parse_race(q.configs[0]))
        # untitled: the racers' legend takes the rows above the plot in a narrow column
        return fp.titled(view.race_figure("contour", rkey) if revealed else _race_start(rkey), "")
    if q.kind == "curve":
        curves = [P.curve_values(schedule(s), q.series) for s in q.configs[1:]]
        return fp.curves_figure(curves, list(q.choices), q.series, answer(q).facts["curve"] if revealed else None)
    c = q.configs[0]
    shown, runs = P.code_series(q, outcome)
    series = outcome(c["pitfall"]).series[c["series"]]
    pitfall = PITFALLS[c["pitfall"]]
    if not revealed:
        return fp.loop_figure([shown], ["this run"], series.title, series.y_label, series.x_label, series.log, series.steps_from)
    labels = [f"{choice}: {s.label}" for choice, s in zip(q.choices, pitfall.snippets, strict=True)]
    return fp.loop_figure(runs, labels, series.title, series.y_label, series.x_label, series.log, series.steps_from,
                          role_colours(pitfall.snippets))


def above_figure(q: P.Question) -> int:
    """Pixels the page draws between its title and the figure in presentation mode: the sequence row, the score and the
    prompt (about 95 characters a line)."""
    return 110 + 42 * math.ceil(len(q.prompt) / 95)


# -- the settings in view -----------------------------------------------------------------------------------

def settings_rows(q: P.Question) -> list[tuple[str, str]]:
    if q.kind in ("fate", "where"):
        return P.describe(parse_config(q.configs[0]))
    if q.kind == "race":
        return P.describe_race(parse_race(q.configs[0])) + [("arrived", f"f − f* ≤ {q.tol:g}")]
    if q.kind == "curve":
        return P.describe_setup(q.configs[0])
    return []


def settings_table(rows: list[tuple[str, str]]) -> str:
    return "| setting | value |\n|---|---|\n" + "\n".join(f"| {view.md(a)} | `{b}` |" for a, b in rows)


def loops(q: P.Question) -> None:
    """A code question's loops, one under the other, named loop A, loop B, … (what they are is in the answer)."""
    pitfall = PITFALLS[q.configs[0]["pitfall"]]
    for choice, snippet in zip(q.choices, pitfall.snippets, strict=True):
        st.markdown(f"**{choice}**")
        st.html(code_html(snippet.code, size="0.85rem"))


# -- the session's score ----------------------------------------------------------------------------------------

def scores() -> dict:
    return st.session_state.setdefault(SCORES, {})


def record(qk: str, result: P.Score) -> None:
    scores().setdefault(qk, (result.points, result.right))


def score_line() -> str:
    done = scores().values()
    if not done:
        return "Your score this session: nothing answered yet."
    right = sum(r for _, r in done)
    return f"Your score this session: **{right} of {len(done)} right**, {sum(p for p, _ in done):.1f} points."


# -- links ----------------------------------------------------------------------------------------------------

def page_link(path_and_query: str) -> str:
    """A relative link to another page, in presentation mode when this page is."""
    if presenting():
        path_and_query += ("&" if "?" in path_and_query else "?") + "present=1"
    return "./" + path_and_query


def run_link(q: P.Question) -> str:
    return f"[{LINK_WORDS[q.link]}]({page_link(P.link_url(q))})"


def question_url(q: P.Question, hold: bool = False) -> str:
    query = P.ask_query(q) if key_of(q).startswith("ask-") else {"seq": q.sequence, "q": q.id}
    return "predict?" + urlencode({**query, **({"hold": "1"} if hold else {})})


def ask_links(config: Config) -> str:
    """"Ask this run as a question: fate · where" (the Predict page says so if this run cannot be asked that way)."""
    text = json.dumps(config.to_dict(), separators=(",", ":"))
    kinds = " · ".join(f"[{kind}]({page_link('predict?' + urlencode({'ask': text, 'kind': kind}))})" for kind in ("fate", "where"))
    return f"Ask this run as a question: {kinds} (a link to share; the answer comes from the run)"


def race_ask_link(race: dict, tol: float) -> str:
    """"Ask this race as a question" for the Race page: which racer arrives within ``tol`` first (or none)."""
    query = {"ask": json.dumps(race, separators=(",", ":")), "kind": "race", **({"tol": f"{tol:g}"} if tol != P.DEFAULT_TOL else {})}
    return (f"[Ask this race as a question]({page_link('predict?' + urlencode(query))}): which racer comes within "
            f"{tol:g} of f* first? (a link to share; the answer comes from the runs)")


def surface_span(q: P.Question) -> tuple[tuple[float, float], tuple[float, float]]:
    return surface(parse_config(q.configs[0])).domain
