"""Page plumbing shared by the surface pages: cached figures, URL state with presets, the lesson list, run facts."""
from __future__ import annotations

import json
import math

import numpy as np
import streamlit as st

from optviz import figures
from optviz.config import VERSION, Config
from optviz.presets import PRESETS, Preset, presets_for
from optviz.race import f_star
from optviz.trace import Trace
from optviz.ui.controls import reset_widgets
from optviz.ui.runner import cached_run, surface

# Figures are cached as objects (st.cache_resource): they are never mutated after building, and pickling a
# go.Figure (what st.cache_data does) re-validates it on every load, which costs more than the run itself.
FIGURE_CACHE = dict(max_entries=48, show_spinner=False)


def trace_of(key: str) -> Trace:
    return cached_run(Config.from_json(key))


@st.cache_resource(**FIGURE_CACHE)
def contour_figure(key: str, click_grid: int = 25):
    config = Config.from_json(key)
    tr = trace_of(key)
    return figures.contour_figure(surface(config), [figures.path_of(tr)], click_grid=click_grid)


@st.cache_resource(**FIGURE_CACHE)
def single_figure(kind: str, key: str):
    """The other Explorer figures of one run, by kind: loss, lr, state, surface3d, evaluations."""
    config = Config.from_json(key)
    tr = trace_of(key)
    if kind == "loss":
        return figures.loss_figure([figures.path_of(tr)], f_star(surface(config)))
    if kind == "lr":
        return figures.lr_figure(tr)
    if kind == "state":
        return figures.state_figure(tr)
    if kind == "surface3d":
        return figures.surface3d_figure(surface(config), [figures.path_of(tr)])
    if kind == "evaluations":
        return figures.evaluations_figure(tr)
    raise ValueError(kind)


# -- URL state -------------------------------------------------------------------------------------

def apply_preset(preset: Preset, key: str, keep_hidden: bool = True) -> None:
    """Load a preset: forget the page's widgets and put the preset in the URL (used from a button or ?preset=)."""
    reset_widgets(key)
    loaded = preset.load()
    base = loaded.base if preset.page == "race" else loaded
    want = {"v": str(VERSION), "cfg": base.to_json(), "lesson": preset.key}
    if preset.page == "race":
        want["race"] = json.dumps(loaded.entries_json(), separators=(",", ":"))
    hidden = set(preset.hidden)
    if keep_hidden and hidden:
        want["hide"] = ",".join(sorted(hidden))
    for k, v in preset.view.items():
        want[k] = str(v)
    st.query_params.from_dict(want)
    st.session_state[f"{key}.view"] = dict(preset.view)


def take_preset_link(page: str, key: str) -> str | None:
    """Handle ``?preset=<key>`` once: load it, or return a warning when the key is unknown or for another page."""
    name = st.query_params.get("preset")
    if name is None:
        return None
    preset = PRESETS.get(name)
    if preset is None or preset.page != page:
        del st.query_params["preset"]
        known = ", ".join(p.key for p in presets_for(page))
        return f"There is no lesson preset {name[:60]!r} on this page; showing the link's other settings. Presets here: {known}."
    apply_preset(preset, key)
    return None


def show_all_controls(key: str) -> None:
    if "hide" in st.query_params:
        del st.query_params["hide"]


def presets_block(page: str, key: str, lesson: str | None) -> None:
    """The lessons of this page: one button each (loads it here) and a link to share."""
    items = presets_for(page)
    with st.expander(f"📚 Lesson presets ({len(items)}) — one click loads the settings", expanded=lesson is None):
        cols = st.columns(2)
        for i, p in enumerate(items):
            box = cols[i % 2]
            box.button(p.title, key=f"{key}.preset.{p.key}", on_click=apply_preset, args=(p, key, False),
                       width="stretch", type="primary" if p.key == lesson else "secondary")
            box.caption(f"{p.notice} [link](./{p.url()})")


def lesson_note(lesson: str | None, matches: bool) -> None:
    p = PRESETS.get(lesson or "")
    if p is not None and matches:
        st.info(f"**Lesson: {p.title}.** {p.notice}", icon="📚")


def view_option(key: str, name: str, choices: list[str], default: str) -> str:
    """A view option (e.g. the open tab) from the preset or the URL, else the default."""
    v = st.session_state.get(f"{key}.view", {}).get(name) or st.query_params.get(name)
    return v if v in choices else default


# -- facts about a run -----------------------------------------------------------------------------

def _vec(v) -> str:
    return "(" + ", ".join("—" if not math.isfinite(float(a)) else f"{float(a):.4g}" for a in v) + ")"


def last_step_table(trace: Trace) -> str:
    """Markdown table of what the last step did: point before and after, gradient, lr, and torch's state."""
    n = trace.steps
    if n == 0:
        return "No step completed."
    rows = [("point before", _vec(trace.positions[n - 1])), ("gradient g used", _vec(trace.grads[n - 1])),
            ("lr per group " + "/".join(trace.groups), _vec(trace.lrs[n - 1])),
            ("point after", _vec(trace.positions[n])), ("loss after", f"{trace.losses[n]:.6g}")]
    if np.isfinite(trace.momentums[n - 1]).any():
        rows.insert(3, ("momentum / β₁", _vec(trace.momentums[n - 1])))
    for name, v in sorted(trace.state.items()):
        rows.append((f"state `{name}` (x, y)", _vec(v[n - 1])))
    if trace.evaluations[n - 1] > 1:
        rows.append(("closure calls in this step", str(int(trace.evaluations[n - 1]))))
    return f"**Step {n}**\n\n| | value |\n|---|---|\n" + "\n".join(f"| {a} | {b} |" for a, b in rows)
