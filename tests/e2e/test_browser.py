"""The app in a real browser, driven like a learner drives it: a slider reruns the Explorer and changes its chart,
every step / next / back / add / remove / jump / ± button pressed at the ends of its range leaves no exception and a
complete figure with its surface, and a tampered link shows a warning."""
from __future__ import annotations

import json
import re
import time
from urllib.parse import quote

import pytest

from optviz.core.config import MAX_STEPS
from optviz.lessons.race import MAX_ENTRIES, MIN_ENTRIES

from .browser import ANIMATION_JS, assert_clean, assert_drawn, open_page, settle, shoot
from .conftest import app_pages

pytestmark = pytest.mark.e2e

# Count finished script runs (transitions away from 'running') from now on.
WATCH_RUNS_JS = """() => {
  if (!window.__optvizWatch) {
    window.__optvizRuns = 0;
    const app = document.querySelector("[data-testid='stApp']");
    window.__optvizWatch = new MutationObserver(records => {
      for (const r of records) if (r.oldValue === 'running') window.__optvizRuns++;
    });
    window.__optvizWatch.observe(app, {attributes: true, attributeOldValue: true,
                                       attributeFilter: ['data-test-script-state']});
  }
  return window.__optvizRuns;
}"""
# A fingerprint of the data of every Plotly chart on the page.
CHARTS_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(gd => {
  const s = JSON.stringify(gd.data || []);
  let h = 5381;
  for (let i = 0; i < s.length; i++) h = ((h * 33) ^ s.charCodeAt(i)) >>> 0;
  return s.length + ':' + h;
})"""
# Sliders with the arrow key that moves each off its bound (a slider at its minimum cannot go left).
MOVES_JS = """() => Array.from(document.querySelectorAll("[data-testid='stSlider'] input[type='range']")).map((e, i) => {
  const v = parseFloat(e.value), lo = parseFloat(e.min), hi = parseFloat(e.max);
  return {i, label: e.getAttribute('aria-label') || '', key: v < hi ? 'ArrowRight' : (v > lo ? 'ArrowLeft' : null)};
}).filter(m => m.key)"""
URL_OF = dict(app_pages())


def wait_for_rerun(page, runs_before: int, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if page.evaluate(WATCH_RUNS_JS) > runs_before:
            settle(page)
            return True
        page.wait_for_timeout(100)
    return False


@pytest.mark.skipif("explorer.py" not in URL_OF, reason="pages/explorer.py does not exist yet")
def test_explorer_slider_reruns_and_changes_the_chart(page, server, shots):
    open_page(page, server, URL_OF["explorer.py"])
    page.evaluate(WATCH_RUNS_JS)
    before = page.evaluate(CHARTS_JS)
    assert before, "the Explorer shows no chart"
    thumbs = page.locator("[data-testid='stSlider'] input[type='range']")
    moves = page.evaluate(MOVES_JS)
    assert moves, "the Explorer has no slider that can move"
    moves.sort(key=lambda m: m["label"] != "lr")  # the lesson's main knob first
    for move in moves[:4]:
        runs = page.evaluate(WATCH_RUNS_JS)
        thumbs.nth(move["i"]).focus()
        page.keyboard.press(move["key"])
        submit = page.locator("[data-testid='stFormSubmitButton'] button")
        if submit.count():
            submit.first.click()
        assert wait_for_rerun(page, runs, timeout=60), f"moving the {move['label']!r} slider did not rerun the page"
        assert_clean(page, f"explorer after moving {move['label']!r}")
        if page.evaluate(CHARTS_JS) != before:
            shoot(page, shots, "explorer_after_slider")
            return
    raise AssertionError("moving the Explorer's sliders reran the page but no chart changed")


@pytest.mark.skipif("explorer.py" not in URL_OF, reason="pages/explorer.py does not exist yet")
def test_tampered_link_shows_a_warning_not_an_exception(page, server, shots):
    path = URL_OF["explorer.py"]
    page.goto(f"{server}/{path}?v=1&cfg=%7B%22optimizer%22%3A%7B%22name%22%3A%22__import__%22%7D%2C%22steps%22%3A-1e999")
    settle(page)
    assert_clean(page, "explorer with a tampered link")
    warnings = page.locator("[data-testid='stAlertContentWarning'], [data-testid='stAlertContentError']")
    assert warnings.count() >= 1, "a tampered link gave no visible warning"
    assert page.locator(".js-plotly-plot").count() >= 1, "a tampered link left the page without its (default) figure"
    shoot(page, shots, "explorer_tampered_link")


# -- every step / next / back / add / remove / jump / ± button at the ends of its range ---------------------------------

def q(value) -> str:
    return quote(json.dumps(value, separators=(",", ":")))


def press(page, button, what: str) -> None:
    """Click an enabled button and wait for the rerun it starts; the page must then be clean."""
    assert button.count() >= 1, f"{what}: no such button"
    assert button.first.is_enabled(), f"{what}: the button is disabled"
    runs = page.evaluate(WATCH_RUNS_JS)
    button.first.click()
    assert wait_for_rerun(page, runs), f"{what}: pressing it did not rerun the page"
    assert_clean(page, what)


def assert_surface_drawn(page, what: str, surface: bool = True) -> list[dict]:
    """Every figure draws something, and the first one its surface (the pages' and presets' figures are checked in
    full, titles and ranges included, by test_drawn.py)."""
    figs = assert_drawn(page, what, complete=False)
    assert figs, f"{what}: no figure"
    assert not surface or sum(figs[0]["drawn"].values()) > 0, f"{what}: the figure shows no surface"
    return figs


def button(page, name: str):
    return page.get_by_role("button", name=name)


def explorer_steps_shown(page, steps: int, what: str) -> None:
    """The page says it ran ``steps`` steps, and the figure's path has steps + 1 points."""
    assert page.get_by_text(f"Step {steps} in numbers").count() >= 1, f"{what}: the page does not show step {steps}"
    anim = page.evaluate(ANIMATION_JS, 0)
    path = next(m for m in anim["moved"] if m["role"] == "path")
    assert path["points"] == steps + 1, f"{what}: the path has {path['points']} points, not {steps + 1}"
    assert_surface_drawn(page, what)


@pytest.mark.parametrize("start, presses", [
    (1000, [("One more step", 1001), ("One step back", 1000)]),        # past the slider's own end and back
    (1, [("One more step", 2), ("One step back", 1)]),
    (MAX_STEPS, []),                       # drawn at the cap, "One more step" disabled (a back step is one more 10k run)
], ids=["slider_end", "lowest", "highest"])
def test_explorer_step_buttons_at_their_bounds(page, server, shots, start, presses):
    open_page(page, server, f"explorer?v=1&cfg={q({'steps': start})}")
    explorer_steps_shown(page, start, f"explorer at {start} steps")
    beyond = {1: "One step back", MAX_STEPS: "One more step"}.get(start)
    if beyond:
        assert button(page, beyond).first.is_disabled(), f"explorer at {start} steps: {beyond!r} is enabled past the bound"
    for name, after in presses:
        press(page, button(page, name), f"explorer: {name!r} from {start} steps")
        explorer_steps_shown(page, after, f"explorer after {name!r}")
    shoot(page, shots, f"bounds_explorer_{start}")


def inside_step_of(page) -> str:
    return (re.search(r"[?&]step=(\d+)", page.url) or [None, None])[1]


def test_inside_step_buttons_at_both_ends(page, server, shots):
    open_page(page, server, "inside_step?step=1")
    assert_surface_drawn(page, "inside step 1")
    for name in ("« first", "‹ back"):
        press(page, button(page, name), f"inside step: {name!r} at step 1")
        assert inside_step_of(page) == "1", f"inside step: {name!r} at step 1 moved to step {inside_step_of(page)}"
        assert_surface_drawn(page, f"inside step after {name!r}")
    press(page, button(page, "last »"), "inside step: 'last »'")
    last = inside_step_of(page)
    assert last and int(last) > 1, f"inside step: 'last »' went to step {last}"
    for name in ("next ›", "last »"):
        press(page, button(page, name), f"inside step: {name!r} at the last step")
        assert inside_step_of(page) == last, f"inside step: {name!r} at step {last} moved to {inside_step_of(page)}"
        assert_surface_drawn(page, f"inside step after {name!r} at the end")
    shoot(page, shots, "bounds_inside_step_last")


def _racers(n: int) -> str:
    entries = [{"name": "SGD", "options": {"lr": 1e-3 * (i + 1)}} for i in range(n)]
    return f"race?v=1&cfg={q({'steps': 20})}&race={q(entries)}"


def _race_paths(page) -> int:
    return sum(m["role"] == "path" for m in page.evaluate(ANIMATION_JS, 0)["moved"])


def test_race_add_up_to_the_most_racers(page, server, shots):
    open_page(page, server, _racers(MAX_ENTRIES - 1))
    press(page, button(page, "Add a racer"), f"race: 'Add a racer' with {MAX_ENTRIES - 1} racers")
    assert _race_paths(page) == MAX_ENTRIES, f"race: {_race_paths(page)} paths after adding the {MAX_ENTRIES}th racer"
    assert button(page, "Add a racer").count() == 0, f"race: 'Add a racer' is still offered with {MAX_ENTRIES} racers"
    assert_surface_drawn(page, f"race with {MAX_ENTRIES} racers")
    shoot(page, shots, "bounds_race_most")


def test_race_remove_down_to_the_fewest_racers(page, server, shots):
    open_page(page, server, _racers(MIN_ENTRIES + 1))
    page.locator("[data-testid='stSidebar'] [data-testid='stExpander'] summary").first.click()
    press(page, button(page, "Remove this racer"), f"race: 'Remove this racer' with {MIN_ENTRIES + 1} racers")
    assert _race_paths(page) == MIN_ENTRIES, f"race: {_race_paths(page)} paths after removing down to {MIN_ENTRIES}"
    assert button(page, "Remove this racer").count() == 0, f"race: a racer can still be removed with {MIN_ENTRIES} racers"
    assert_surface_drawn(page, f"race with {MIN_ENTRIES} racers")
    shoot(page, shots, "bounds_race_fewest")


def _number_input(page, label: str):
    return page.locator("[data-testid='stNumberInput']").filter(has=page.get_by_text(label, exact=True)).first


def _quadratic(eigenvalues, lr, momentum) -> str:
    cfg = {"problem": {"options": {"eigenvalues": eigenvalues}}, "optimizer": {"options": {"lr": lr, "momentum": momentum}},
           "steps": 10}
    return f"quadratic_lab?v=1&cfg={q(cfg)}"


NOISY = {"problem": {"noise": 1.0}, "steps": 5}
# (link whose number inputs sit at an end of their range, their labels, the end, buttons to press there too)
STEPPERS = {
    "quadratic_lab_top": (_quadratic([1e-6, 1e6], 1e7, 0.999999), ["learning rate α", "momentum β"], "Up",
                          ["Jump to α*, β*", "Best GD α"]),
    "quadratic_lab_bottom": (_quadratic([1e6, 1e6], 1e-8, 0.0), ["learning rate α", "momentum β"], "Down", []),
    "explorer_seed": (f"explorer?v=1&cfg={q({**NOISY, 'seed': 2**31 - 1})}", ["seed"], "Up", []),
    "scheduler_lab_seed": (f"scheduler_lab?lab={q({'scheduler': 'ReduceLROnPlateau', 'loss': {'seed': 0}})}", ["seed"],
                           "Down", []),
    "sweeps_tolerance": (f"sweeps?view={q({'tol': 1000.0})}", ["tolerance on f − f*"], "Up", []),
}


@pytest.mark.parametrize("name", list(STEPPERS))
def test_number_steppers_and_buttons_at_the_ends(page, server, shots, name):
    link, labels, end, buttons = STEPPERS[name]
    surface = not name.startswith("scheduler_lab")     # the Scheduler Lab draws curves, no surface
    open_page(page, server, link)
    assert_surface_drawn(page, f"{name} at its ends", surface)
    away = "Down" if end == "Up" else "Up"
    for label in labels:
        box = _number_input(page, label)
        field = box.locator("input")
        lo, hi = float(field.get_attribute("min")), float(field.get_attribute("max"))
        assert float(field.input_value()) == (hi if end == "Up" else lo), \
            f"{name}: {label} is {field.input_value()}, not at its {'top' if end == 'Up' else 'bottom'} ({lo}, {hi})"
        assert box.locator(f"[data-testid='stNumberInputStep{end}']").is_disabled(), \
            f"{name}: {label}'s ± past its end is enabled"
        press(page, box.locator(f"[data-testid='stNumberInputStep{away}']"), f"{name}: {label} stepped off its end")
        value = float(_number_input(page, label).locator("input").input_value())
        assert lo <= value <= hi, f"{name}: {label} = {value} after stepping off its end, outside [{lo}, {hi}]"
        assert_surface_drawn(page, f"{name} after stepping {label} off its end", surface)
    for b in buttons:
        press(page, button(page, b), f"{name}: {b!r}")
        assert_surface_drawn(page, f"{name} after {b!r}", surface)
    shoot(page, shots, f"bounds_{name}")
