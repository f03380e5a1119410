"""The app in a real browser: every lesson and preset link loads without an exception, a slider reruns the
Explorer and changes its chart, Play animates a figure, a tampered link shows a warning."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from .conftest import app_pages

pytestmark = pytest.mark.e2e

# The app is idle: the script finished, the socket is up, nothing is still loading.
IDLE_JS = """() => {
  const app = document.querySelector("[data-testid='stApp']");
  return !!app && app.getAttribute('data-test-script-state') === 'notRunning'
    && app.getAttribute('data-test-connection-state') === 'CONNECTED'
    && !document.querySelector("[data-testid='stStatusWidget']")
    && !document.querySelector("[data-testid='stSkeleton']");
}"""
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
ANIMATED_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(
  gd => (gd.layout && gd.layout.sliders && gd.layout.sliders.length) ? gd.layout.sliders[0].active : null)"""

PAGES = app_pages()
URL_OF = dict(PAGES)


def settle(page, timeout: float = 90.0) -> None:
    """Wait until the script run is done and has stayed done for a moment (a rerun may follow a run)."""
    page.wait_for_selector("[data-testid='stApp']")
    deadline = time.monotonic() + timeout
    stable = 0
    while stable < 3:
        stable = stable + 1 if page.evaluate(IDLE_JS) else 0
        if time.monotonic() > deadline:
            raise AssertionError(f"the app did not finish running within {timeout:.0f} s")
        page.wait_for_timeout(150)


def open_page(page, server: str, path: str) -> None:
    page.goto(f"{server}/{path}")
    settle(page)


def assert_clean(page, what: str) -> None:
    boxes = page.locator("[data-testid='stException']")
    if boxes.count():
        raise AssertionError(f"{what}: exception shown to the user:\n{boxes.first.inner_text()[:2000]}")
    body = page.locator("[data-testid='stApp']").inner_text()
    assert "Traceback (most recent call last)" not in body, f"{what}: a traceback is visible"


def shoot(page, shots: Path, name: str) -> None:
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)


def wait_for_rerun(page, runs_before: int, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if page.evaluate(WATCH_RUNS_JS) > runs_before:
            settle(page)
            return True
        page.wait_for_timeout(100)
    return False


def preset_links() -> list[tuple[str, str]]:
    """(name, url path with query) of every lesson preset, once optviz.presets exists."""
    try:
        from optviz.lessons import presets
    except ImportError:
        return []
    out = []
    for name, preset in _preset_items(presets):
        link = _link_of(preset)
        if link is not None:
            out.append((str(name), link.lstrip("/")))
    return out


def _preset_items(module):
    table = getattr(module, "PRESETS", None)
    if isinstance(table, dict):
        return list(table.items())
    if isinstance(table, (list, tuple)):
        return [(getattr(p, "key", None) or getattr(p, "name", None) or str(i), p) for i, p in enumerate(table)]
    return []


def _link_of(preset) -> str | None:
    for attr in ("url", "link", "href", "path"):
        v = getattr(preset, attr, None)
        v = v() if callable(v) else v
        if isinstance(v, str) and v:
            return v.split("://", 1)[-1].split("/", 1)[-1] if "://" in v else v
    return None


@pytest.mark.parametrize("file, path", PAGES, ids=[f for f, _ in PAGES])
def test_page_loads_without_exception(page, server, shots, file, path):
    open_page(page, server, path)
    assert_clean(page, file)
    assert page.locator("h1").count() >= 1, f"{file} has no title"
    shoot(page, shots, Path(file).stem)


PRESETS = preset_links()


@pytest.mark.skipif(not PRESETS, reason="optviz.presets has no preset links yet")
@pytest.mark.parametrize("name, link", PRESETS, ids=[n for n, _ in PRESETS] or None)
def test_preset_link_loads_without_exception(page, server, shots, name, link):
    open_page(page, server, link)
    assert_clean(page, f"preset {name}")
    assert page.locator(".js-plotly-plot").count() >= 1, f"preset {name} shows no figure"
    warnings = page.locator("[data-testid='stAlertContentWarning']")
    texts = [warnings.nth(i).inner_text() for i in range(warnings.count())]
    assert not any("showing the defaults" in t for t in texts), f"preset {name}'s link was rejected: {texts}"
    shoot(page, shots, f"preset_{name}"[:60])


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


def test_play_animates_a_figure(page, server):
    path = URL_OF.get("explorer.py", URL_OF.get("home.py", ""))
    open_page(page, server, path)
    play = page.locator(".updatemenu-button").filter(has_text="Play")
    assert play.count() >= 1, "no animated figure with a Play button"
    charts = page.evaluate(ANIMATED_JS)
    idx = next(i for i, a in enumerate(charts) if a is not None)
    play.first.scroll_into_view_if_needed()
    play.first.click()
    seen = set()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(seen) < 3:
        seen.add(page.evaluate(ANIMATED_JS)[idx])
        page.wait_for_timeout(100)
    assert len(seen) >= 3, f"Play did not move the step slider (positions seen: {sorted(seen)})"
    assert_clean(page, "after Play")


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
