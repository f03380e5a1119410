"""Presentation mode (?present=1): what a teacher projects — no sidebar, menu or intro text, larger type, and the
page's main figure sized so the title, the figure and its Play controls fit a 1280 × 720 screen without scrolling."""
from __future__ import annotations

import math
import re

import streamlit as st

from optviz.figures import FrozenFigure
from optviz.ui.urlstate import presenting, read_present, set_present

SCREEN_HEIGHT = 720     # a projector's 1280 × 720
WIDTH = 1180            # the width a full-width figure gets on it
TITLE = 88              # the page's title in this mode, with the space around it
NOTE = 84               # one message box (a lesson's note, a warning), up to two lines
MIN_HEIGHT = 320
FONT_SIZE = 20          # the figures' text (16 px on a laptop)
TOGGLE = "present.toggle"
EXIT = "present-exit"   # the exit button's container (its CSS class is st-key-present-exit)

# Only the mode's own rules: the chrome (sidebar with the menu, header, captions) hidden, the main block full width
# with little padding, larger text, and the exit button pinned to the top right corner, out of the page's flow.
CSS = """<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stExpandSidebarButton"],
[data-testid="stHeader"], [data-testid="stCaptionContainer"] { display: none !important; }
[data-testid="stMainBlockContainer"] { padding: 0.6rem 2rem 3rem !important; max-width: none !important; }
[data-testid="stMainBlockContainer"] h1 { font-size: 2.3rem; padding: 0 10rem 0.3rem 0; }
[data-testid="stMarkdownContainer"] p, [data-testid="stMarkdownContainer"] li,
[data-testid="stWidgetLabel"] p, [data-testid="stTable"] { font-size: 1.25rem; }
[data-testid="stMetricValue"] p { font-size: 1.8rem; }
[data-testid="stAlertContainer"] { padding: 0.45rem 0.9rem; }
[data-testid="stAlertContainer"] [data-testid="stMarkdownContainer"] p { font-size: 1.1rem; line-height: 1.5; }
.st-key-present-exit { position: fixed; top: 0.6rem; right: 1rem; z-index: 999990; width: auto !important; }
.st-key-present-exit button { opacity: 0.75; }
.st-key-present-exit button:hover { opacity: 1; }
</style>"""


def _toggled() -> None:
    set_present(st.session_state[TOGGLE])


def start() -> bool:
    """Every page calls this first: reads the mode, draws the sidebar toggle, and in presentation mode hides the
    chrome and shows a small "Exit presentation" button (the sidebar with the toggle is hidden). True when on."""
    on = read_present()
    st.session_state[TOGGLE] = on      # the toggle follows the URL (a link, the exit button, another page)
    st.sidebar.toggle("Presentation mode", key=TOGGLE, on_change=_toggled,
                      help="For a projector: no sidebar or intro text, larger type, the main figure fits 1280 × 720. "
                           "The same as adding ?present=1 to the link.")
    if on:
        st.html(CSS)
        with st.container(key=EXIT):
            st.button("Exit presentation", icon=":material/close_fullscreen:", key="present.leave", on_click=set_present,
                      args=(False,), help="Back to the page with its sidebar (drops present=1 from the link).")
    return on


def intro(text: str) -> None:
    """The page's introduction under its title: not shown in presentation mode (the teacher says it)."""
    if not presenting():
        st.markdown(text)


def on() -> bool:
    """Presentation mode is on in this run."""
    return presenting()


def fit(fig, above: int = 0, notes: int = 0):
    """The page's main figure: as it is, or in presentation mode a copy with larger type, as tall as the screen minus
    the title, ``above`` pixels of controls and ``notes`` message boxes that the page draws above it.

    A cached figure's dict is never changed: the copy shares everything but its layout, which is copied shallowly
    (and so is each part of it that changes: an axis's tick font, an annotation, the margin, the legend)."""
    if not presenting():
        return fig
    spec = fig.to_dict()
    layout = dict(spec.get("layout") or {})
    scale = FONT_SIZE / ((layout.get("font") or {}).get("size") or 16)   # the figures are drawn at 16 px
    height = max(MIN_HEIGHT, SCREEN_HEIGHT - TITLE - above - NOTE * notes)
    margin = dict(layout.get("margin") or {})
    old_plot = (layout.get("height") or 450) - margin.get("t", 100) - margin.get("b", 80)
    title = dict(layout.get("title") or {})
    title_size = 1.2 * FONT_SIZE                            # plotly draws a title at 1.2× the font size
    if title.get("text"):                                   # and never wraps it: a long one gets the size that fits
        title_size = min(title_size, max(12, int(WIDTH / _width(title["text"], 1))))
        title["font"] = {**(title.get("font") or {}), "size": title_size}
        top = _top_margin(spec, layout, _width(title["text"], title_size))
        margin["t"] = top if top is not None else max(margin.get("t", 100), 76)
        if margin["t"] > 76:            # rows of legend under the title: the title at the top, not mid-margin
            title.update(yref="container", y=1, yanchor="top", pad={"t": 10})
    margin["b"] = round(margin.get("b", 80) * scale)        # the Play controls, or a legend below, in larger type
    layout.update(height=height, margin=margin, title=title, font={**(layout.get("font") or {}), "size": FONT_SIZE})
    legend = layout.get("legend") or {}
    if (legend.get("y") or 0) < 0:      # a legend below the plot: the same gap in pixels, grown with the type
        plot = height - margin.get("t", 100) - margin["b"]
        layout["legend"] = {**legend, "y": legend["y"] * old_plot * scale / max(plot, 1)}
    for name, axis in layout.items():
        if name.startswith(("xaxis", "yaxis")) and isinstance(axis, dict) and "tickfont" in axis:
            layout[name] = {**axis, "tickfont": {**axis["tickfont"], "size": FONT_SIZE - 2}}
    if layout.get("annotations"):       # subplot titles carry their own size
        layout["annotations"] = [{**a, "font": {**a["font"], "size": round(a["font"]["size"] * scale)}} if (a.get("font") or {}).get("size")
                                 else a for a in layout["annotations"]]
    return FrozenFigure({**spec, "layout": layout})


def _width(text: str, size: float) -> float:
    """About how wide plotly draws ``text`` at ``size`` px (0.55 em a character, HTML tags aside)."""
    return 0.55 * size * len(re.sub(r"<[^>]+>", "", text))


def _top_margin(spec: dict, layout: dict, title_width: float) -> int | None:
    """Room above the plot for the title and a legend over the plot: one row beside the title when both fit across the
    screen, else the title's row and the legend's rows under it. None: no legend over the plot."""
    legend = layout.get("legend") or {}
    names = [t["name"] for t in spec.get("data", ()) if t.get("name") and t.get("showlegend", True)]
    if (legend.get("y") or 0) < 1 or layout.get("showlegend") is False or not names:
        return None
    entries = sum(_width(n, FONT_SIZE) + 50 for n in names)     # each entry: its symbol, its name, a gap
    rows = math.ceil(entries / WIDTH)
    return 76 if rows == 1 and title_width + entries <= WIDTH else 48 + 30 * rows
