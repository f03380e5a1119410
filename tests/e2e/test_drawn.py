"""What the app draws in a real browser, not only that it ran: every lesson, preset link and tab has complete figures
(axes titled, data in range, legends named, the surface drawn); every animated figure keeps its surface under the
moving paths during ▶ Play (sampled every 250 ms), ends complete, and still shows it at an early slider step; the
Explorer's arrows sit at the head of the path; labels name what was run."""
from __future__ import annotations

import json
import math
import time
from pathlib import Path
from urllib.parse import parse_qs, quote, urlparse

import pytest

from .browser import (
    ANIMATION_JS,
    SAMPLE_JS,
    SAMPLE_MS,
    animated_index,
    assert_clean,
    assert_drawn,
    assert_played,
    drawn_points,
    figures,
    finite_points,
    open_page,
    play,
    settle,
    shoot,
    surface_count,
)
from .conftest import app_pages, preset_links

pytestmark = pytest.mark.e2e

PAGES = app_pages()
PRESETS = preset_links()


def q(value) -> str:
    return quote(value if isinstance(value, str) else json.dumps(value, separators=(",", ":")))


# -- every page, preset and tab: complete figures ----------------------------------------------------------------------

@pytest.mark.parametrize("file, path", PAGES, ids=[f for f, _ in PAGES])
def test_page_draws_complete_figures(page, server, shots, file, path):
    open_page(page, server, path)
    assert_clean(page, file)
    assert page.locator("h1").count() >= 1, f"{file} has no title"
    shoot(page, shots, f"page_{Path(file).stem}")
    assert_drawn(page, file)


@pytest.mark.skipif(not PRESETS, reason="optviz.lessons.presets has no preset links yet")
@pytest.mark.parametrize("name, link", PRESETS, ids=[n for n, _ in PRESETS] or None)
def test_preset_draws_complete_figures(page, server, shots, name, link):
    open_page(page, server, link)
    assert_clean(page, f"preset {name}")
    warnings = page.locator("[data-testid='stAlertContentWarning']")
    texts = [warnings.nth(i).inner_text() for i in range(warnings.count())]
    assert not any("showing the defaults" in t for t in texts), f"preset {name}'s link was rejected: {texts}"
    shoot(page, shots, f"preset_{name}"[:60])
    figs = assert_drawn(page, f"preset {name}")
    assert any(f["traces"] for f in figs), f"preset {name} shows no figure"


# (page, tab in the URL, the tab's label): the figures a page draws only when its tab is open
TABS = [("explorer", "lr", "lr & momentum"), ("explorer", "state", "Optimizer state"),
        ("explorer", "surface3d", "3-D surface"), ("small_nets", "metrics", "Loss & accuracy"),
        ("small_nets", "lr", "lr & momentum per group"), ("small_nets", "norms", "Per-group norms"),
        ("small_nets", "landscape", "Loss landscape")]


@pytest.mark.parametrize("path, tab, label", TABS, ids=[f"{p}-{t}" for p, t, _ in TABS])
def test_tab_from_link_draws_complete_figures(page, server, shots, path, tab, label):
    open_page(page, server, f"{path}?v=1&tab={tab}")
    assert_clean(page, f"{path} tab {tab}")
    selected = page.locator("[role='tab'][aria-selected='true']").all_inner_texts()
    assert any(label in s for s in selected), f"{path}?tab={tab} opened the tab {selected}, not {label!r}"
    shoot(page, shots, f"tab_{path}_{tab}")
    figs = assert_drawn(page, f"{path} tab {tab}")
    assert any(f["shown"] and f["traces"] for f in figs), f"{path} tab {tab} shows no figure"


@pytest.mark.parametrize("path", ["explorer", "small_nets"])
def test_clicking_tabs_in_turn_opens_each(page, server, path):
    open_page(page, server, path)
    tabs = page.locator("[role='tab']")
    labels = tabs.all_inner_texts()
    opened = []
    for i in range(1, min(len(labels), 4)):
        tabs.nth(i).click()
        settle(page)
        now = page.locator("[role='tab'][aria-selected='true']").all_inner_texts()
        opened.append((labels[i].split()[-1], now[0].split()[-1] if now else None))
    assert all(a == b for a, b in opened), f"{path}: (clicked tab, tab open after the click): {opened}"
    assert_clean(page, f"{path} after clicking its tabs")


# -- animations: the surface stays under the moving paths ----------------------------------------------------------------

def _racers(entries: list[dict]) -> str:
    return f"race?v=1&cfg={q({'steps': 20})}&race={q(entries)}"


SIX = [{"name": "SGD", "options": {"lr": 1e-3}}, {"name": "SGD", "options": {"lr": 1e-3, "momentum": 0.9}},
       {"name": "Adam", "options": {"lr": 0.05}}, {"name": "RMSprop", "options": {"lr": 0.01}},
       {"name": "Adagrad", "options": {"lr": 0.5}}, {"name": "NAdam", "options": {"lr": 0.05}}]
# short runs keep the frame count (and the test) small; Home plays its default
ANIMATED = {
    "home": "",
    "explorer": f"explorer?v=1&cfg={q({'steps': 30})}",
    "race_2_racers": _racers(SIX[2:4]),
    "race_6_racers": _racers(SIX),
    "small_nets": f"small_nets?v=1&net={q({'epochs': 10})}",
}


def _sample(page, i: int) -> dict:
    return page.evaluate(SAMPLE_JS, i)


def _head_problems(sample: dict, anim: dict) -> list[str]:
    """Each path's head marker sits on the path's last point."""
    out = []
    moved = anim["moved"]
    for k, m in enumerate(moved):
        if m["role"] != "path" or k + 1 >= len(moved) or moved[k + 1]["role"] != "head":
            continue
        path = finite_points(sample["data"][m["index"]]["x"], sample["data"][m["index"]]["y"])
        head = finite_points(sample["data"][moved[k + 1]["index"]]["x"], sample["data"][moved[k + 1]["index"]]["y"])
        if path and head and not _close(path[-1], head[0]):
            out.append(f"step {sample['active']}: {m['name']}'s head {head[0]} is not at its path's end {path[-1]}")
    return out


def _close(a, b, rel: float = 1e-5) -> bool:
    return all(math.isclose(u, v, rel_tol=rel, abs_tol=1e-6) for u, v in zip(a, b))


def _click_slider(page, i: int, at: float) -> int:
    """Click the animation slider's rail at a fraction of its length; returns the step it moved to."""
    before = _sample(page, i)["active"]
    rail = page.locator(".js-plotly-plot").nth(i).locator("rect.slider-rail-rect")
    box = rail.bounding_box()
    page.mouse.click(box["x"] + at * box["width"], box["y"] + box["height"] / 2)
    deadline = time.monotonic() + 10
    while (now := _sample(page, i)["active"]) == before and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    page.wait_for_timeout(SAMPLE_MS)     # a redraw: true frame draws after the slider moves
    return now


@pytest.mark.parametrize("name", list(ANIMATED))
def test_play_keeps_the_surface_and_grows_the_paths(page, server, shots, name):
    open_page(page, server, ANIMATED[name])
    assert_clean(page, name)
    i = animated_index(page)
    anim = page.evaluate(ANIMATION_JS, i)
    paths = [m for m in anim["moved"] if m["role"] == "path"]
    last = anim["frames"] - 1
    fig = page.locator(".js-plotly-plot").nth(i)
    fig.scroll_into_view_if_needed()

    before = _sample(page, i)
    shoot_fig = lambda tag: fig.screenshot(path=str(shots / f"play_{name}_{tag}.png"))  # noqa: E731
    shoot_fig("1_before")
    assert surface_count(before) > 0, f"{name}: no surface before Play ({before['images']} images, " \
                                      f"{before['contours']} contour paths, {before['heatmaps']} heatmaps)"
    for p in paths:
        assert drawn_points(before, p) == p["points"], f"{name}: {p['name']} shows {drawn_points(before, p)} of its " \
                                                  f"{p['points']} points before Play"
    assert not _head_problems(before, anim), _head_problems(before, anim)

    shot = []

    def during(s: dict) -> None:
        if not shot and s["active"] >= last // 3:
            shoot_fig("2_during")
            shot.append(s["active"])

    samples = play(page, i, anim, paths, during)
    assert_played(name, samples, paths, last)
    if not paths:   # Small Nets: the decision boundary itself is animated, the title follows the epoch
        titles = [s["title"] for s in samples]
        assert len(set(titles)) >= 3, f"{name}: the animated figure did not change during Play: {titles}"
    heads = [p for s in samples for p in _head_problems(s, anim)]
    assert not heads, f"{name}: " + "; ".join(heads[:5])

    page.wait_for_timeout(SAMPLE_MS)
    after = _sample(page, i)
    shoot_fig("3_after")
    assert surface_count(after) > 0, f"{name}: the surface is gone after Play"
    for p in paths:
        assert drawn_points(after, p) == p["points"], f"{name}: after Play {p['name']} shows {drawn_points(after, p)} of its " \
                                                 f"{p['points']} points"
    if not paths:
        assert after["title"] == before["title"], f"{name}: after Play the figure reads {after['title']!r}, " \
                                                  f"not the last epoch's {before['title']!r}"

    step = _click_slider(page, i, 0.12)
    early = _sample(page, i)
    shoot_fig("4_slider")
    assert 0 < step < last // 2, f"{name}: clicking the slider's rail early moved it to step {step} of {last}"
    assert surface_count(early) > 0, f"{name}: no surface after moving the slider to step {step}"
    for p in paths:
        n = drawn_points(early, p)
        assert 1 < n < p["points"], f"{name}: at step {step} {p['name']} shows {n} of {p['points']} points"
    assert not _head_problems(early, anim), _head_problems(early, anim)
    assert_clean(page, f"{name} after Play")


# -- the Explorer's arrows -----------------------------------------------------------------------------------------------

def _arrows(sample: dict) -> dict[str, list]:
    return {d["name"]: finite_points(d["x"], d["y"]) for d in sample["data"] if (d["name"] or "").startswith("−")}


def test_explorer_arrows_sit_at_the_head_of_the_path(page, server, shots):
    open_page(page, server, "explorer")
    i = animated_index(page)
    anim = page.evaluate(ANIMATION_JS, i)
    path = next(m for m in anim["moved"] if m["role"] == "path")
    head = next(m for m in anim["moved"] if m["role"] == "head")

    def check(sample: dict, when: str) -> None:
        arrows = _arrows(sample)
        assert "−gradient" in arrows and len(arrows["−gradient"]) >= 2, \
            f"{when}: no −gradient arrow (arrow traces: {list(arrows)})"
        tip = finite_points(sample["data"][head["index"]]["x"], sample["data"][head["index"]]["y"])[0]
        end = finite_points(sample["data"][path["index"]]["x"], sample["data"][path["index"]]["y"])[-1]
        assert _close(tip, end), f"{when}: the head marker {tip} is not at the path's end {end}"
        for label, pts in arrows.items():
            assert _close(pts[0], tip), f"{when}: the {label} arrow starts at {pts[0]}, not at the head {tip}"
            drawn = sample["drawn"].get(str(next(k for k, d in enumerate(sample["data"]) if d["name"] == label)), {})
            assert drawn.get("vertices", 0) >= 2, f"{when}: the {label} arrow has data but no line is drawn"

    check(_sample(page, i), "on load (the last step)")
    step = _click_slider(page, i, 0.5)
    assert 0 < step < anim["frames"] - 1
    check(_sample(page, i), f"at step {step} of the slider")
    page.locator(".js-plotly-plot").nth(i).screenshot(path=str(shots / "explorer_arrows_midway.png"))


# -- labels name what was run ------------------------------------------------------------------------------------------

def _selectbox(page, label: str) -> str:
    """The option a select box shows."""
    return page.locator(f"[data-testid='stSelectbox'] input[aria-label='{label}']").first.input_value().strip()


def _run_of_sweep(page) -> dict:
    """The config of the highlighted cell, read from its 'Open this run in the Explorer' link."""
    href = page.locator("[data-testid='stLinkButton'] a").first.get_attribute("href")
    return json.loads(parse_qs(urlparse(href).query)["cfg"][0])


@pytest.mark.parametrize("link", ["sweeps",
                                  f"sweeps?v=1&cfg={q({'problem': {'options': {'eigenvalues': [1, 10], 'angle': 0}}})}"],
                         ids=["default", "eigenvalues_1_10"])
def test_sweeps_labels_the_surface_it_ran(page, server, shots, link):
    open_page(page, server, link)
    assert_clean(page, link)
    ran = _run_of_sweep(page)["problem"]
    assert ran["surface"] == "quadratic"
    lam = sorted(ran["options"]["eigenvalues"])
    angle = ran["options"].get("angle", 0)
    want = f"λ = {lam[0]:g}, {lam[1]:g}; {angle:g}°"
    picker = _selectbox(page, "surface")
    assert want in picker, f"the surface picker says {picker!r} but the sweep ran eigenvalues {lam} at {angle}°"
    fig = figures(page)[0]
    assert want in fig["title"], f"the sweep's title says {fig['title']!r} but it ran {want}"
    theory = [t["name"] for t in fig["traces"] if (t["name"] or "").startswith("theory")]
    assert theory and all(f"{lam[1]:g}" in n for n in theory), f"the theory overlay {theory} is not for λmax = {lam[1]:g}"
    shoot(page, shots, f"sweeps_label_{'default' if link == 'sweeps' else 'l1_10'}")


def test_race_legends_name_each_racer(page, server, shots):
    entries = [{"name": "SGD", "options": {"lr": 1e-3}}, {"name": "SGD", "options": {"lr": 2e-3}},
               {"name": "Adam", "options": {"lr": 0.05}}]
    open_page(page, server, _racers(entries))
    assert_clean(page, "race with two SGD racers")
    figs = [f for f in figures(page) if f["traces"]]
    shoot(page, shots, "race_legends")
    for f in figs[:2]:      # the contour and the loss curves
        legend = [t for t in f["legend"] if t != "minimum"]
        assert len(legend) == 3 and len(set(legend)) == 3, f"{f['title']!r}: legend {legend} does not name 3 racers"
        sgd = [t for t in legend if t.startswith("SGD")]
        assert len(sgd) == 2, f"{f['title']!r}: legend {legend}"
        for t, lr in zip(sgd, ("0.001", "0.002")):
            assert "lr" in t and lr in t, f"{f['title']!r}: the legend entry {t!r} does not say which SGD it is " \
                                          f"(lr = {lr}); legend: {legend}"


def test_scheduler_lab_draws_the_epoch_lines_its_text_mentions(page, server):
    open_page(page, server, "scheduler_lab")
    said = page.get_by_text("Dotted lines mark the epochs").count() > 0
    dotted = page.evaluate("""() => document.querySelectorAll('.js-plotly-plot')[0].data.filter(
        t => t.line && t.line.dash === 'dot' && t.visible !== false).length""")
    assert said == (dotted > 0), f"the Scheduler Lab {'says' if said else 'does not say'} 'Dotted lines mark the epochs' " \
                                 f"and its figure draws {dotted} dotted traces"
