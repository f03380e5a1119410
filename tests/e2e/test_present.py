"""Presentation mode in a real browser at a projector's 1280 × 720: no sidebar, and each page's main figure with its
Play controls fits the screen without scrolling. Screenshots of what the class sees go to the ``shots`` folder."""
from __future__ import annotations

import pytest

from .browser import new_tab, open_page, settle, shoot
from .conftest import app_pages

SCREEN = {"width": 1280, "height": 720}

# the main figure of each page: the element key of its st.plotly_chart (Streamlit's class st-key-<key, dots as ->)
MAIN_FIGURE = {"": "home-contour", "explorer": "ex-contour", "race": "race-contour", "inside_step": "inside-contour", "custom_step": "custom-contour",
               "scheduler_lab": "lab-figure", "pitfalls": "pitfalls-figure", "small_nets": "nets-boundary",
               "quadratic_lab": "ql-plane", "sweeps": "sw-heat", "predict": "predict-figure",
               "invariance_lab": "inv-paths", "zoo": "zoo-contour", "gallery": "gallery-card-0"}

# every page, and links that compose ?present=1 with presets (a lesson's note, a divergence warning above the figure),
# ?hide= and other view options: the README's examples and a lesson whose note takes two lines
LINKS = [(path, "") for _, path in app_pages()] + [
    ("explorer", "&preset=momentum_overshoot"),
    ("explorer", "&preset=lr_too_large&hide=lr"),
    ("explorer", "&preset=per_group_lrs&hide=optimizer,lr"),
    ("race", "&preset=nesterov_vs_classical"),
    ("pitfalls", "&pitfall=adamw"),
    ("sweeps", "&map=basins"),
]

# Where the main figure lies, in the coordinates of the page's scrolled content (Streamlit scrolls stMain, the document
# itself should not scroll): its box united with its Play buttons, step slider and legend.
LAYOUT_JS = """(key) => {
  const gd = document.querySelector(`[class*="st-key-${key}"] .js-plotly-plot`);
  if (!gd) return null;
  const main = document.querySelector('[data-testid="stMain"]');
  const offset = main.scrollTop - main.getBoundingClientRect().top;
  const boxes = [gd, ...gd.querySelectorAll('.updatemenu-container, .slider-container, .legend')].map(e => e.getBoundingClientRect())
    .filter(b => b.height > 0);
  const sidebar = document.querySelector('[data-testid="stSidebar"]');
  const exit = Array.from(document.querySelectorAll('.st-key-present-exit button')).map(e => e.getBoundingClientRect())
    .some(r => r.width > 0 && r.top >= 0 && r.bottom <= innerHeight);
  return {top: Math.min(...boxes.map(b => b.top)) + offset, bottom: Math.max(...boxes.map(b => b.bottom)) + offset,
          left: Math.min(...boxes.map(b => b.left)), right: Math.max(...boxes.map(b => b.right)),
          height: gd.getBoundingClientRect().height, room: main.clientHeight,
          play: gd.querySelectorAll('.updatemenu-container').length > 0,
          documentScroll: document.scrollingElement.scrollHeight, viewport: [innerWidth, innerHeight],
          sidebar: !!sidebar && sidebar.getBoundingClientRect().width > 0,
          exit};
}"""


@pytest.fixture(scope="module")
def screen(browser, server):
    """A tab the size of a projector's picture."""
    with new_tab(browser, SCREEN, 60_000) as pg:
        yield pg


@pytest.mark.parametrize("path,extra", LINKS, ids=[f"{p or 'home'}{e}" for p, e in LINKS])
def test_the_main_figure_fits_a_projector_without_scrolling(screen, server, shots, path, extra):
    link = f"{path}?present=1{extra}"
    open_page(screen, server, link)
    key = MAIN_FIGURE[path] if "map=basins" not in extra else "sw-basins"
    screen.wait_for_selector(f'[class*="st-key-{key}"] .js-plotly-plot .main-svg')
    screen.wait_for_timeout(300)        # Plotly's first layout pass
    box = screen.evaluate(LAYOUT_JS, key)
    name = "present-" + (path or "home") + extra.replace("&", "-").replace("=", "-").replace(",", "-")
    shoot(screen, shots, name)
    assert box is not None, f"{link}: no main figure ({key})"
    assert box["viewport"] == [1280, 720]
    assert not box["sidebar"], f"{link}: the sidebar is showing"
    assert box["exit"], f"{link}: no visible Exit presentation button"
    assert box["documentScroll"] <= 720, f"{link}: the document scrolls ({box['documentScroll']} px)"
    assert box["height"] >= 300, f"{link}: the figure shrank to {box['height']:.0f} px"
    assert 0 <= box["top"] and box["bottom"] <= box["room"] == 720, \
        f"{link}: the figure spans {box['top']:.0f}–{box['bottom']:.0f} px of the scrolled page; the screen shows 720"
    assert 0 <= box["left"] and box["right"] <= 1280, f"{link}: the figure spans {box['left']:.0f}–{box['right']:.0f} px across"
    if path in ("", "explorer", "race", "small_nets"):
        assert box["play"], f"{link}: the animated figure lost its Play controls"


def test_the_sidebar_toggle_turns_it_on_and_exit_turns_it_off(screen, server, shots):
    open_page(screen, server, "explorer?v=1&hide=steps")
    assert "present" not in screen.url
    screen.locator("[data-testid='stSidebar'] [data-testid='stWidgetLabel']", has_text="Presentation mode").click()
    screen.wait_for_function("() => location.search.includes('present=1')")     # the rerun has begun
    settle(screen)
    assert "present=1" in screen.url and "hide=steps" in screen.url, screen.url
    assert not screen.evaluate(LAYOUT_JS, "ex-contour")["sidebar"]
    screen.locator(".st-key-present-exit button:visible").click()
    screen.wait_for_function("() => !location.search.includes('present')")
    settle(screen)
    assert "present" not in screen.url and "hide=steps" in screen.url, screen.url
    box = screen.evaluate(LAYOUT_JS, "ex-contour")
    assert box["sidebar"] and not box["exit"]
