"""Page plumbing shared by the surface pages: cached figures, URL state with presets, the lesson list, run facts."""
from __future__ import annotations

import json
import math

import numpy as np
import streamlit as st

from optviz import figures
from optviz.core.config import VERSION, Config, ConfigError
from optviz.core.trace import Trace
from optviz.figures import race as figures_race
from optviz.figures import zoo as figures_zoo
from optviz.lessons.presets import PRESETS, Preset, presets_for
from optviz.lessons.race import MAX_ENTRIES, MIN_ENTRIES, OBJECTIVES, Race, RaceResult, f_star, parse_entries, parse_race
from optviz.lessons.schedlab import config_schedule
from optviz.ui.controls import reset_widgets
from optviz.ui.runner import cached_run, surface
from optviz.ui.urlstate import MAX_URL_TEXT, hidden_controls, sticky

# Figures are cached as objects (st.cache_resource): they are never mutated after building, and pickling a
# go.Figure (what st.cache_data does) re-validates it on every load, which costs more than the run itself.
FIGURE_CACHE = dict(max_entries=48, show_spinner=False)


def trace_of(key: str) -> Trace:
    return cached_run(Config.from_json(key))


def surface_key(config: Config) -> str:
    """What the contour's background depends on: the surface (with options, or the formula and domain)."""
    p = config.problem
    return json.dumps({"surface": p.surface, "options": p.options, "expression": p.expression, "domain": p.domain},
                      sort_keys=True)


@st.cache_resource(max_entries=16, show_spinner=False)
def _contour_base(skey: str, _config_key: str, click_grid: int) -> dict:
    return figures.contour_base(surface(Config.from_json(_config_key)), click_grid=click_grid)


def contour_base(config: Config, click_grid: int) -> dict:
    """The contour without paths, cached per surface (the config itself is not part of the cache key)."""
    return _contour_base(surface_key(config), config.key(), click_grid)


@st.cache_resource(**FIGURE_CACHE)
def contour_figure(key: str, click_grid: int = 25):
    config = Config.from_json(key)
    return figures.contour_with_paths(contour_base(config, click_grid), [figures.path_of(trace_of(key))],
                                      surface=surface(config))


@st.cache_resource(**FIGURE_CACHE)
def single_figure(kind: str, key: str):
    """The other Explorer figures of one run, by kind: loss, lr, state, surface3d, evaluations."""
    return figures.frozen(_single_figure(kind, Config.from_json(key), trace_of(key)))


def _single_figure(kind: str, config: Config, tr: Trace):
    if kind == "loss":
        return loss_figure([figures.path_of(tr)], surface(config))
    if kind == "lr":   # a path that stopped early still shows the whole schedule, computed by torch without the path
        return figures.lr_figure(tr, schedule=config_schedule(config) if tr.steps < config.steps else None)
    if kind == "state":
        return figures.state_figure(tr)
    if kind == "surface3d":
        return figures.surface3d_figure(surface(config), [figures.path_of(tr)])
    if kind == "evaluations":
        return figures.evaluations_figure(tr)
    raise ValueError(kind)


def loss_figure(paths: list[figures.Path], surf):
    """Loss curves: f − f* on a log axis where f* is known, else f (log only while every value is positive)."""
    fs = f_star(surf)
    log = fs is not None or all(bool((p.trace.losses > 0).all()) for p in paths)
    return figures.loss_figure_fast(paths, fs, log=log)     # its log axis: decades, or full values (0.2, 0.5)


MD_SPECIAL = set("\\`*_{}[]<>()#+-.!|~$")


def md(text: str) -> str:
    """Text shown literally inside markdown: messages quote user input and torch (``__import__``, ``*``, ``$``)."""
    return "".join("\\" + c if c in MD_SPECIAL else c for c in str(text))


# -- URL state -------------------------------------------------------------------------------------

def apply_preset(preset: Preset, key: str, keep_hidden: bool = True) -> None:
    """Load a preset: forget the page's widgets and put the preset in the URL (used from a button or ?preset=).
    The preset's hidden controls are hidden; a link's own ?hide= is kept too (keep_hidden)."""
    reset_widgets(key)
    loaded = preset.load()
    base = loaded.base if preset.page == "race" else loaded
    want = {"v": str(VERSION), "cfg": base.to_json(), "lesson": preset.key}
    if preset.page == "race":
        want["race"] = json.dumps(loaded.entries_json(), separators=(",", ":"))
    hidden = set(preset.hidden) | (hidden_controls() if keep_hidden else set())
    if hidden:
        want["hide"] = ",".join(sorted(hidden))
    for k, v in preset.view.items():
        want[k] = str(v)
    st.query_params.from_dict(sticky(want))
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


def show_all_controls() -> None:
    """Callback: drop the lesson's ?hide= so every control shows again."""
    if "hide" in st.query_params:
        del st.query_params["hide"]


def presets_block(page: str, key: str, lesson: str | None) -> None:
    """The lessons of this page: one button each (loads it here) and a link to share."""
    items = presets_for(page)
    with st.expander(f"Lesson presets ({len(items)}): one click loads the settings, each link shares it",
                     icon=":material/school:"):
        cols = st.columns(2)
        for i, p in enumerate(items):
            box = cols[i % 2]
            box.button(p.title, key=f"{key}.preset.{p.key}", on_click=apply_preset, args=(p, key, False),
                       width="stretch", type="primary" if p.key == lesson else "secondary")
            box.caption(f"{p.notice} [link](./{p.url()})")


def current_lesson(key: str, page: str, config_key: str) -> str | None:
    """The lesson named in the URL while the settings are still the ones it opened with (else None)."""
    lesson = st.query_params.get("lesson")
    preset = PRESETS.get(lesson or "")
    if preset is None or preset.page != page:
        return None
    opened = st.session_state.setdefault(f"{key}.lesson_opened", {}).setdefault(lesson, config_key)
    return lesson if opened == config_key else None


def lesson_note(lesson: str | None) -> None:
    p = PRESETS.get(lesson or "")
    if p is not None:
        st.info(f"**Lesson: {p.title}.** {p.notice}", icon=":material/school:")


def view_option(key: str, name: str, choices: list[str], default: str) -> str:
    """A view option (e.g. the open tab) from the preset or the URL, else the default."""
    v = st.session_state.get(f"{key}.view", {}).get(name) or st.query_params.get(name)
    return v if v in choices else default


def float_param(name: str, default: float, low: float, high: float) -> float:
    """A number view option from the URL (e.g. ?tol=1e-4), or the default when missing or out of range."""
    try:
        v = float(st.query_params.get(name, default))
    except (TypeError, ValueError):
        return default
    return v if math.isfinite(v) and low <= v <= high else default


def set_param(name: str, value: str | None) -> None:
    """Keep one view option in the URL (from a fragment, which reruns without the rest of the page)."""
    if value is None:
        if name in st.query_params:
            del st.query_params[name]
    elif st.query_params.get(name) != value:
        st.query_params[name] = value


def tune_param(default: dict) -> dict:
    """The tuning grid from ?tune={low, high, per_decade, objective}; invalid parts keep their defaults."""
    try:
        given = json.loads((st.query_params.get("tune") or "{}")[:500])
    except (ValueError, RecursionError):
        given = {}
    given = given if isinstance(given, dict) else {}
    out = dict(default)
    for k in ("low", "high"):
        v = given.get(k)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and 1e-8 <= v <= 100:
            out[k] = float(v)
    if given.get("per_decade") in range(1, 7):
        out["per_decade"] = int(given["per_decade"])
    if given.get("objective") in OBJECTIVES:
        out["objective"] = given["objective"]
    return out


# -- facts about a run -----------------------------------------------------------------------------

def _num(a) -> str:
    return "—" if not math.isfinite(float(a)) else f"{float(a):.4g}"


def _vec(v) -> str:
    return "(" + ", ".join(_num(a) for a in v) + ")"


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
    scalars = figures.scalar_state(trace)
    lacking = False
    for name, v in sorted(trace.state.items()):
        if name in scalars:
            rows.append((f"state `{name}`", _num(v[n - 1, 0])))
            continue
        missing = np.isnan(v[n - 1]) & (len(trace.groups) > 1)   # with groups, NaN = this group keeps no such entry
        lacking |= bool(missing.any())
        rows.append((f"state `{name}` (x, y)", "(" + ", ".join("—" if m else _num(a) for a, m in zip(v[n - 1], missing)) + ")"))
    if trace.evaluations[n - 1] > 1:
        rows.append(("closure calls in this step", str(int(trace.evaluations[n - 1]))))
    note = "\n\n— : that coordinate's group keeps no such entry (its options need none)" if lacking else ""
    return f"**Step {n}**\n\n| | value |\n|---|---|\n" + "\n".join(f"| {a} | {b} |" for a, b in rows) + note


# -- the race --------------------------------------------------------------------------------------

DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")


def race_key(race: Race) -> str:
    return json.dumps(race.to_dict(), sort_keys=True)


def race_paths(race: Race, traces: list[Trace]) -> list[figures.Path]:
    """One colour per optimizer (the app's; a free one for each of pytorch-optimizer's), a new dash each time the same
    optimizer races again."""
    seen: dict[str, int] = {}
    colours = figures_zoo.entry_colours([tr.config.optimizer.name for tr in traces])
    out = []
    for tr, label in zip(traces, race.labels(), strict=True):
        n = seen[tr.config.optimizer.name] = seen.get(tr.config.optimizer.name, -1) + 1
        out.append(figures.Path(tr, label, colours[tr.config.optimizer.name], DASHES[n % len(DASHES)]))
    return out


def race_traces(race: Race) -> list[Trace]:
    return [cached_run(c) for c in race.configs()]


@st.cache_resource(**FIGURE_CACHE)
def race_figure(kind: str, rkey: str, click_grid: int = 25):
    """The race's contour (all paths, animated together) or its loss curves, built once per race."""
    race = parse_race(json.loads(rkey))
    paths = race_paths(race, race_traces(race))
    if kind == "contour":
        return figures.contour_with_paths(contour_base(race.base, click_grid), paths, arrows=False)
    if kind == "loss":
        return loss_figure(paths, surface(race.base))
    raise ValueError(kind)


def read_entries(base: Config, default: Race) -> tuple[tuple, str | None]:
    """The racers named in the URL (?race=[{name, options}, ...]), or the default racers and a warning."""
    text = st.query_params.get("race")
    if not text:
        return default.entries, None
    try:
        return parse_entries(base, json.loads(text[:MAX_URL_TEXT])), None
    except ConfigError as e:
        return default.entries, f"The link's racers were not valid ({e}); showing the default racers."
    except (ValueError, TypeError, RecursionError) as e:
        return default.entries, f"The link's racers could not be read ({type(e).__name__}); showing the default racers."


def _url_entries(default: Race) -> list[dict]:
    try:
        entries = json.loads(st.query_params.get("race") or "null")
    except (ValueError, RecursionError):
        entries = None
    return entries if isinstance(entries, list) else default.entries_json()


def reset_entries(key: str) -> None:
    for i in range(MAX_ENTRIES + 1):
        reset_widgets(f"{key}.e{i}")


def add_entry(key: str, default: Race) -> None:
    entries = _url_entries(default)
    if len(entries) < MAX_ENTRIES:
        st.query_params["race"] = json.dumps([*entries, {"name": "Adam", "options": {"lr": 0.05}}], separators=(",", ":"))


def remove_entry(key: str, default: Race, i: int) -> None:
    entries = _url_entries(default)
    if len(entries) > MIN_ENTRIES and 0 <= i < len(entries):
        del entries[i]
        st.query_params["race"] = json.dumps(entries, separators=(",", ":"))
        reset_entries(key)


def use_lrs(key: str, race: Race, lrs: list[float | None]) -> None:
    """Put the tuned learning rates into the racers (in the URL) and redraw their controls."""
    entries = race.entries_json()
    for e, lr in zip(entries, lrs, strict=True):
        if lr is not None:
            e["options"]["lr"] = lr
            for g in (e.get("groups") or {}).values():
                g.pop("lr", None)
    st.query_params["race"] = json.dumps(entries, separators=(",", ":"))
    reset_entries(key)


def results_rows(rows: list[RaceResult]) -> list[dict]:
    """The results table as display rows (numbers formatted once, for a projector)."""
    def num(v: float) -> str:
        return "—" if v is None or not math.isfinite(v) else f"{v:.4g}"

    return [{"optimizer": r.label, "final loss": num(r.final_loss),
             "distance to nearest minimum": num(r.distance) + (f"  → {r.nearest_kind} ({r.nearest[0]:.3g}, {r.nearest[1]:.3g})"
                                                                 if r.nearest else ""),
             "first step within tol of f*": "never" if r.first_within is None else str(r.first_within),
             "diverged at step": "—" if r.diverged_at is None else str(r.diverged_at)} for r in rows]


@st.cache_resource(**FIGURE_CACHE)
def tuning_figure(tkey: str, _results: tuple, _paths: tuple, objective: str, fs: float | None):
    return figures.frozen(figures_race.tuning_figure(list(_results), list(_paths), objective, fs))
