"""The Invariance Lab in a real browser: the paths on the turned bowl and in its own eigen-coordinates are drawn with
titled axes; turning the bowl with the slider (by keyboard) leaves SGD's eigen-coordinate path where it was and moves
Adam's; steps-to-tolerance vs angle has a curve per optimizer; the sign-step table and Lion's step sizes are shown.
``OPTVIZ_INVARIANCE_SHOTS=docs/invariance`` saves the screenshots the README links to."""
from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest

from optviz.lessons.invariance import InvarianceSetup

from .browser import assert_clean, assert_drawn, open_page, settle
from .conftest import app_pages

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif("invariance_lab.py" not in dict(app_pages()), reason="pages/invariance_lab.py is not in app.py")]

PATH = dict(app_pages()).get("invariance_lab.py", "invariance_lab")
SLIDER = "rotation θ (degrees)"
DEFAULT = InvarianceSetup()
SHOTS = os.environ.get("OPTVIZ_INVARIANCE_SHOTS")

# Each figure's title and, per trace, its name and the numbers it plots (as drawn: _fullData holds the decoded arrays).
DATA_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(gd => ({
  title: ((gd._fullLayout.title || {}).text || '').replace(/<[^>]+>/g, ''),
  traces: gd._fullData.map(t => ({name: t.name || '', x: t.x ? Array.from(t.x, Number) : [], y: t.y ? Array.from(t.y, Number) : []}))}))"""


def plotted(page) -> list[dict]:
    """Per figure: title and {trace name: (n, 2) array of the plotted points}."""
    return [{"title": f["title"], "traces": {t["name"]: np.column_stack([t["x"], t["y"]]) for t in f["traces"] if t["name"]}}
            for f in page.evaluate(DATA_JS)]


def by_title(figs: list[dict], words: str) -> dict:
    found = [f for f in figs if words in f["title"]]
    assert found, f"no figure titled with {words!r}: {[f['title'] for f in figs]}"
    return found[0]


def save(page, shots: Path, name: str, top=None, height: int | None = None) -> None:
    """A screenshot into the session's folder, and into OPTVIZ_INVARIANCE_SHOTS when set (the README's pictures):
    with ``top`` scrolled to just under Streamlit's header, in a window ``height`` pixels tall for the moment."""
    size = page.viewport_size
    if height:
        page.set_viewport_size({"width": size["width"], "height": height})
    try:
        if top is not None:
            top.evaluate("e => { e.scrollIntoView({block: 'start'}); "
                         "const s = document.querySelector(\"[data-testid='stMain']\") || document.scrollingElement; s.scrollBy(0, -70); }")
        page.wait_for_timeout(500)
        for folder in [shots] + ([Path(SHOTS)] if SHOTS else []):
            folder.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(folder / f"{name}.png"))
    finally:
        if height:
            page.set_viewport_size(size)


def lab_of(url: str) -> dict:
    return json.loads(parse_qs(urlparse(url).query).get("lab", ["{}"])[0])


def turn(page, degrees: int) -> None:
    """Move the angle slider by ``degrees`` steps of 1° with the arrow keys, as a keyboard user would."""
    thumb = page.locator(f"[data-testid='stSlider'] input[type='range'][aria-label='{SLIDER}']")
    assert thumb.count() == 1, f"no slider labelled {SLIDER!r}"
    start = float(thumb.input_value())
    thumb.focus()
    for _ in range(abs(degrees)):
        page.keyboard.press("ArrowRight" if degrees > 0 else "ArrowLeft")
    want = start + degrees
    deadline = time.monotonic() + 60
    while lab_of(page.url).get("angle") != want and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    settle(page)
    assert lab_of(page.url).get("angle") == want, f"the slider moved to {lab_of(page.url)}, not {want}°"


def test_paths_in_both_coordinates_and_steps_vs_angle_are_drawn(page, server, shots):
    open_page(page, server, PATH)
    figs = assert_drawn(page, "invariance lab")
    shown = [n for n in DEFAULT.optimizers]
    surface = next(f for f in figs if "paths in (x, y)" in f["title"])
    eigen = next(f for f in figs if "own coordinates" in f["title"])
    angles = next(f for f in figs if "Steps to tolerance" in f["title"])
    for f in (surface, eigen, angles):
        used = [a for a in f["axes"] if a["used"]]
        assert len(used) == 2 and all(a["title"] for a in used), f"{f['title']!r}: axes {used}"
    assert [a["title"] for a in eigen["axes"] if a["used"]][:2] == ["u (along q₁, curvature λ₁)", "v (along q₂, curvature λ₂)"]
    names = {t["name"] for t in surface["traces"] if t["x"]}
    assert set(shown) <= names, f"the surface figure draws {names}"
    names = {t["name"] for t in eigen["traces"] if t["x"]}
    a = f"{DEFAULT.angle:g}"
    assert {f"{n} at {x}°" for n in shown for x in (a, "0")} <= names, f"the eigen-coordinate figure draws {names}"
    assert sorted(t["name"] for t in angles["traces"] if t["y"]) == sorted(shown), \
        f"steps-to-tolerance draws {[t['name'] for t in angles['traces']]}, not one curve per optimizer {shown}"
    assert all(t["points"] == 19 for t in angles["traces"]), [t["points"] for t in angles["traces"]]
    save(page, shots, "invariance-default")


def test_turning_the_bowl_moves_adams_eigen_path_but_not_sgds(page, server, shots):
    open_page(page, server, PATH)
    before = plotted(page)
    a = f"{DEFAULT.angle:g}"
    turn(page, 15)
    assert_clean(page, "invariance lab after turning the bowl")
    after = plotted(page)
    b = f"{DEFAULT.angle + 15:g}"
    assert_drawn(page, f"invariance lab at {b}°")

    eig0, eig1 = by_title(before, "own coordinates")["traces"], by_title(after, "own coordinates")["traces"]
    sgd0, sgd1 = eig0[f"SGD at {a}°"], eig1[f"SGD at {b}°"]
    adam0, adam1 = eig0[f"Adam at {a}°"], eig1[f"Adam at {b}°"]
    assert len(sgd0) == len(adam0) == DEFAULT.steps + 1, (len(sgd0), len(adam0))
    assert sgd0.shape == sgd1.shape and np.abs(sgd1 - sgd0).max() < 1e-5, \
        f"SGD's eigen-coordinate path moved by {np.abs(sgd1 - sgd0).max():.3g} when the bowl turned"
    n = min(len(adam0), len(adam1))
    assert np.abs(adam1[:n] - adam0[:n]).max() > 0.05, "Adam's eigen-coordinate path did not change when the bowl turned"
    for name in ("SGD at 0°", "Adam at 0°"):      # the unturned references stay put
        assert np.array_equal(eig0[name], eig1[name]), name
    # on the bowl itself SGD's path turns with it: the same path, 15° further round the minimum
    xy0, xy1 = by_title(before, "paths in (x, y)")["traces"]["SGD"], by_title(after, "paths in (x, y)")["traces"]["SGD"]
    turned = np.radians(15.0)
    rot = np.array([[np.cos(turned), -np.sin(turned)], [np.sin(turned), np.cos(turned)]])
    assert np.abs(xy1 - xy0 @ rot.T).max() < 1e-5 and np.abs(xy1 - xy0).max() > 0.1
    assert by_title(after, f"turned by {b}°")
    save(page, shots, f"invariance-rotated-{b}", top=page.locator(".js-plotly-plot").first, height=1180)


def test_sign_steps_section_shows_adams_first_step_and_lions_step_size(page, server, shots):
    open_page(page, server, PATH)
    table = page.locator("[data-testid='stTable']").first
    assert table.count() == 1, "no table of Adam's first steps"
    head = [h.strip() for h in table.locator("thead th").all_inner_texts()]
    rows = [[c.strip() for c in r.locator("th, td").all_inner_texts()] for r in table.locator("tbody tr").all()]
    assert len(rows) == 4 and all(len(r) == len(head) for r in rows), (head, rows)
    col = {h: i for i, h in enumerate(head) if h}
    step, sign = col["Adam's first step θ₁ − θ₀"], col["−lr·sign(g)"]
    signs = {r[sign] for r in rows}
    assert len(signs) == 1 and re.fullmatch(r"\(-?0\.05, -?0\.05\)", signs.pop()), rows
    assert all(r[step] == r[sign] for r in rows[2:]), f"at gradients ×1 and ×1000 the step is −lr·sign(g): {rows}"
    assert rows[0][step] != rows[0][sign] and re.fullmatch(r"\(-?0\.0499\d+, -?0\.0499\d+\)", rows[0][step]), \
        f"at a gradient ×1e-6, ε shortens the step: {rows[0]}"
    text = page.get_by_text("every |Δθᵢ| lay between").inner_text()
    assert "between 0.01 and 0.01" in text, text
    sizes = by_title(plotted(page), "each coordinate moves")["traces"]
    assert np.allclose(sizes["Lion |Δx|"][:, 1], 0.01, rtol=1e-6) and np.allclose(sizes["Lion |Δy|"][:, 1], 0.01, rtol=1e-6)
    assert not np.allclose(sizes["Adam |Δx|"][:, 1], 0.05, rtol=1e-2)
    save(page, shots, "invariance-sign-steps", top=page.get_by_role("heading", name="Sign steps"))
