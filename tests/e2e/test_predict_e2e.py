"""Predict, then reveal in a real browser: a learner goes through every sequence with the Next button, answers each
question (right and wrong in turn), commits, sees the reveal, and the figure then draws the real torch run over the
guess. The right answers come from the engine (``optviz.lessons.predict.answer``), never from this file. A second
pass, in a new session with ``?hold=1``, answers each question the other way and reveals with the teacher's button."""
from __future__ import annotations

import math
import os
import re
from pathlib import Path

import pytest

from optviz.core.config import parse_config
from optviz.core.engine import run, surface_of
from optviz.lessons import predict as P
from optviz.lessons.predict_bank import SEQUENCES, sequence
from optviz.lessons.race import parse_race

from .browser import assert_clean, settle, shoot
from .conftest import VIEWPORT, app_pages

pytestmark = [pytest.mark.e2e, pytest.mark.skipif("predict.py" not in dict(app_pages()), reason="pages/predict.py is not in app.py")]

ORDER = [q for key in SEQUENCES for q in sequence(key)]   # what Next → walks through, from the first question
SHOTS = os.environ.get("OPTVIZ_PREDICT_SHOTS")           # a folder: save each kind's first question before and after

# The main figure as data: its title, each trace's name, mode and number of points (a marker's point too), and the
# texts of its annotations (a curve panel's title says "✓ this setup" after the reveal).
FIGURE_JS = """() => {
  const gd = document.querySelector('.st-key-predict-figure-' + new URLSearchParams(location.search).get('q') + ' .js-plotly-plot')
          || document.querySelector('.js-plotly-plot');
  const plain = a => a ? Array.from(a, v => (v === null || v === undefined) ? null : Number(v)) : [];
  return {title: ((gd._fullLayout.title || {}).text || '').replace(/<[^>]+>/g, ''),
          annotations: (gd.layout.annotations || []).map(a => a.text || ''),
          traces: gd._fullData.map(t => ({name: t.name || '', mode: t.mode || '', type: t.type,
                                     n: t.x ? t.x.length : 0, x: t.x && t.x.length <= 2 ? plain(t.x) : null,
                                     y: t.y && t.y.length <= 2 ? plain(t.y) : null}))};
}"""


def points_of(config) -> int:
    """Points a run's path draws: the start and every step the engine kept (a diverged run stops early)."""
    return len(run(parse_config(config) if isinstance(config, dict) else config).positions)


def guess_for(q: P.Question, ans: P.Answer, right: bool):
    """A right guess is the engine's answer; a wrong one another choice, or a point near the plot's corner farthest from
    the answer (a tenth of the way in, so its mark is drawn whole)."""
    if q.kind == "where":
        if right:
            return round(ans.value[0], 3), round(ans.value[1], 3)
        (x0, x1), (y0, y1) = surface_of(parse_config(q.configs[0])).domain
        x, y = max(((x, y) for x in (x0, x1) for y in (y0, y1)), key=lambda c: math.dist(c, ans.value))
        return round(0.9 * x + 0.1 * (x0 + x1) / 2, 3), round(0.9 * y + 0.1 * (y0 + y1) / 2, 3)
    return ans.value if right else next(c for c in q.choices if c not in ans.accepted)


def score_counts(page) -> tuple[int, int]:
    text = page.get_by_text("Your score this session").first.inner_text()
    if "nothing answered yet" in text:
        return 0, 0
    m = re.search(r"(\d+) of (\d+) right", text)
    assert m, text
    return int(m[1]), int(m[2])


def answer_on_page(page, q: P.Question, guess) -> None:
    if q.kind == "where":
        for label, v in zip("xy", guess):
            box = page.get_by_role("spinbutton", name=label, exact=True)
            box.fill(f"{v:.3f}")
            box.press("Enter")
            settle(page)
    else:
        page.locator("[data-testid='stRadio']").get_by_text(guess, exact=True).click()
        settle(page)
    commit = page.get_by_role("button", name="Commit my guess")
    commit.click()
    # the committed guess replaces the button: wait for that rerun, not only for an idle moment (a busy server may
    # start the rerun after settle() has already seen the app idle)
    commit.wait_for(state="detached", timeout=60_000)
    settle(page)


def check_before(page, q: P.Question) -> None:
    fig = page.evaluate(FIGURE_JS)
    names = [t["name"] for t in fig["traces"]]
    assert "your guess" not in names and "where torch put it" not in names, f"{q.id}: the answer is drawn before the reveal"
    if q.kind in ("fate", "where"):
        path = [t for t in fig["traces"] if t["mode"] == "lines+markers"]
        assert path and path[0]["n"] == q.shown + 1, f"{q.id}: before the reveal the path should show {q.shown} steps: {path}"
    if q.kind == "curve":
        assert not any("✓" in a for a in fig["annotations"]), f"{q.id}: a curve is marked before the reveal"
    if q.kind == "code":
        assert len(fig["traces"]) == 1, f"{q.id}: before the reveal only the plotted run is drawn"


def check_reveal(page, q: P.Question, ans: P.Answer, guess) -> None:
    """The figure now draws the real runs, with the guess over them; the verdict says right or wrong."""
    fig = page.evaluate(FIGURE_JS)
    traces = fig["traces"]
    if q.kind in ("fate", "where"):
        path = [t for t in traces if t["mode"] == "lines+markers"]
        assert len(path) == 1 and path[0]["n"] == points_of(q.configs[0]), (q.id, path, points_of(q.configs[0]))
        assert fig["title"] == "The real run", fig["title"]
    if q.kind == "where":
        mark = {t["name"]: t for t in traces if t["name"] in ("your guess", "where torch put it")}
        assert set(mark) == {"your guess", "where torch put it"}, f"{q.id}: {[t['name'] for t in traces]}"
        assert mark["your guess"]["x"][0] == pytest.approx(guess[0], abs=1e-3) and mark["your guess"]["y"][0] == pytest.approx(guess[1], abs=1e-3)
        assert mark["where torch put it"]["x"][0] == pytest.approx(ans.value[0], abs=1e-9)
        assert mark["where torch put it"]["y"][0] == pytest.approx(ans.value[1], abs=1e-9)
        # the marks are drawn after (over) every trace of the run
        assert [t["name"] for t in traces[-2:]] == ["your guess", "where torch put it"]
    if q.kind == "race":
        race = parse_race(q.configs[0])
        paths = {t["name"]: t["n"] for t in traces if t["mode"] == "lines+markers"}
        assert paths == {label: points_of(c) for label, c in zip(race.labels(), race.configs(), strict=True)}, (q.id, paths)
    if q.kind == "curve":
        marked = [a for a in fig["annotations"] if "✓" in a]
        assert marked == [f"{ans.value} ✓ this setup"], (q.id, fig["annotations"])
        assert [t["n"] for t in traces] == [len(P.curve_values(P.run_schedule(P.parse_setup(s)), q.series)) for s in q.configs[1:]]
    if q.kind == "code":
        _, runs = P.code_series(q, P.pitfall_outcome)
        assert [t["n"] for t in traces] == [len(v) for v in runs], q.id
        assert [t["name"].split(":")[0] for t in traces] == list(q.choices), q.id
    if q.kind != "where":   # the committed choice stays in view, locked
        checked = page.locator("[data-testid='stRadio'] input:checked")
        assert checked.count() == 1 and checked.is_disabled(), q.id
        assert page.locator("[data-testid='stRadio'] label").filter(has=page.locator("input:checked")).inner_text().strip() == guess, q.id
    verdict = P.score(q, ans, guess)
    kind = "Success" if verdict.right else "Error"
    texts = page.locator(f"[data-testid='stAlertContent{kind}']").all_inner_texts()
    assert any(verdict.text in t for t in texts), (q.id, verdict.text, texts)
    value = ans.value if isinstance(ans.value, str) else f"({ans.value[0]:.3g}, {ans.value[1]:.3g})"
    assert page.get_by_text(f"The answer: {value}.").count() >= 1, f"{q.id}: the answer {value} is not shown"


def walk(page, server: str, hold: bool, first_right: bool) -> list[tuple[str, bool]]:
    """Every sequence, question by question with Next →; returns (question id, answered right)."""
    page.goto(f"{server}/predict?seq={next(iter(SEQUENCES))}" + ("&hold=1" if hold else ""))
    settle(page)
    done, right_so_far = [], 0
    shot_kinds = set()
    for n, q in enumerate(ORDER):
        assert_clean(page, f"predict, question {q.id}")
        items = sequence(q.sequence)
        assert page.get_by_text(f"Question {items.index(q) + 1} of {len(items)} · {q.kind}").count() == 1, q.id
        assert page.get_by_text(q.prompt[:60]).count() >= 1, f"{q.id}: the prompt is not shown"
        check_before(page, q)
        shoot_kind = SHOTS and not hold and q.kind not in shot_kinds
        if shoot_kind:
            shoot(page, shots_dir(), f"predict-{q.kind}-before")
        ans = P.answer(q)
        right = (n % 2 == 0) == first_right
        guess = guess_for(q, ans, right)
        assert P.score(q, ans, guess).right == right, q.id
        answer_on_page(page, q, guess)
        assert_clean(page, f"predict, question {q.id} committed")
        if hold:
            assert page.get_by_text("Guess committed. The teacher reveals the answer.").count() == 1, q.id
            assert score_counts(page) == (right_so_far, n), f"{q.id}: the score moved before the reveal"
            page.get_by_role("button", name="Reveal").click()
            settle(page)
            assert_clean(page, f"predict, question {q.id} revealed")
        right_so_far += right
        assert score_counts(page) == (right_so_far, n + 1), q.id
        check_reveal(page, q, ans, guess)
        if shoot_kind:
            shoot(page, shots_dir(), f"predict-{q.kind}-after")
            shot_kinds.add(q.kind)
        done.append((q.id, right))
        if n + 1 < len(ORDER):
            page.get_by_role("button", name="Next →").click()
            settle(page)
            assert f"q={ORDER[n + 1].id}" in page.url, page.url
    return done


def shots_dir() -> Path:
    out = Path(SHOTS)
    out.mkdir(parents=True, exist_ok=True)
    return out


def test_every_sequence_answered_right_and_wrong(browser, server):
    """Two sessions: the first answers right, wrong, right, …; the second (answers held back until Reveal) the other
    way round; so every question is answered right once and wrong once."""
    results = []
    for hold, first_right in ((False, True), (True, False)):
        ctx = browser.new_context(viewport={"width": 1280, "height": 1450} if SHOTS else VIEWPORT)
        page = ctx.new_page()
        page.set_default_timeout(30_000)
        try:
            results += walk(page, server, hold, first_right)
        finally:
            ctx.close()
    seen = {}
    for qid, right in results:
        seen.setdefault(qid, set()).add(right)
    assert seen == {q.id: {True, False} for q in ORDER}
