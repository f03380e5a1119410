"""The page's state in the URL: a versioned, compact config (only what differs from the defaults) plus view options."""
from __future__ import annotations

import json
from typing import Any

import streamlit as st

from optviz.core.config import VERSION, Config, ConfigError, parse_config

MAX_URL_TEXT = 8000
PRESENT = "present"     # ?present=1: presentation mode, one switch for the whole session (see optviz/ui/present.py)


def diff(value: dict, default: dict) -> dict:
    out = {}
    for k, v in value.items():
        d = default.get(k) if isinstance(default, dict) else None
        if isinstance(v, dict) and isinstance(d, dict):
            sub = diff(v, d)
            if sub:
                out[k] = sub
        elif v != d:
            out[k] = v
    if isinstance(default, dict):
        # a field the default has and this config lacks (groups switched off, no start): say so with null
        out.update({k: None for k in default if k not in value})
    return out


def merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in extra.items():
        if v is None:
            out.pop(k, None)  # null: the field is switched off (or back to torch's default)
        else:
            out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def named_blocks(value: dict, default: dict, out: dict) -> dict:
    """An optimizer or scheduler other than the default's is kept whole: the default's options don't apply to it."""
    for block in ("optimizer", "scheduler"):
        v, d = value.get(block), default.get(block)
        if isinstance(v, dict) and isinstance(d, dict) and v.get("name", d.get("name")) != d.get("name"):
            out[block] = v
    # likewise a surface other than the default's: the default's surface options (a quadratic's) don't apply to it
    v, d = value.get("problem"), default.get("problem")
    if isinstance(v, dict) and isinstance(d, dict) and any(k in v and v[k] != d.get(k) for k in ("surface", "expression")):
        out["problem"] = v
    return out


def config_to_query(config: Config, default: Config) -> str:
    """Compact JSON of what differs from the page's default config."""
    value, base = config.to_dict(), default.to_dict()
    return json.dumps(named_blocks(value, base, diff(value, base)), separators=(",", ":"), sort_keys=True)


def config_from_query(text: str | None, default: Config) -> tuple[Config, str | None]:
    """The config a link describes, or the default and a warning that says what was wrong. Never raises."""
    if not text:
        return default, None
    if len(text) > MAX_URL_TEXT:
        return default, f"The link's settings are too long ({len(text):,} characters); showing the defaults."
    try:
        extra = json.loads(text)
        if not isinstance(extra, dict):
            raise ConfigError("", "expected an object")
        extra.pop("version", None)
        base = default.to_dict()
        return parse_config(named_blocks(extra, base, merge(base, extra))), None
    except ConfigError as e:
        return default, f"The link's settings were not valid ({e}); showing the defaults instead."
    except (ValueError, TypeError, RecursionError, KeyError, AttributeError, OverflowError) as e:
        return default, f"The link's settings could not be read ({type(e).__name__}); showing the defaults instead."


# -- the session's memory: a page opened from the menu (no query at all) starts where the session left it ----------
# st.session_state[SESSION] (a key no widget uses, so it survives page switches):
#   "pages":  page -> {"query": the page's last URL query, "seen": the clock when it was written}
#   "shared": part ("problem" / "optimizer") -> {"stamp": clock, "value": the part as JSON, "page": who chose it}
#   "carry":  page -> the parts that page shares (declared by its read_config)
#   "present": presentation mode is on (?present=1), kept across reruns and page switches
SESSION = "_optviz.session"


def _memory() -> dict:
    return st.session_state.setdefault(SESSION, {"pages": {}, "shared": {}, "carry": {}, "clock": 0})


def _page(default: Config, key: str) -> str:
    """A page is named by its default config (each page, and each mode of a page, has its own)."""
    return f"{key}:{default.key()}"


def _with_parts(config: Config, parts: dict) -> Config:
    """The config with whole parts (the problem, the optimizer) replaced; unchanged if the result can't run."""
    if not parts:
        return config
    try:
        return parse_config({**config.to_dict(), **parts})
    except ConfigError:
        return config


def _from_memory(default: Config, key: str, carry: tuple[str, ...]) -> Config | None:
    """What a page opened without any query starts from: its own last state (its query put back in the URL) with the
    parts another page chose since; else its default with the session's last choice of the parts it shares."""
    mem = _memory()
    saved = mem["pages"].get(_page(default, key))
    seen = saved["seen"] if saved else -1
    newer = {p: v["value"] for p, v in mem["shared"].items() if p in carry and v["stamp"] > seen}
    if saved is None:
        return _with_parts(default, newer) if newer else None
    st.query_params.from_dict(sticky({k: v for k, v in saved["query"].items() if k != PRESENT}))
    config, warning = config_from_query(saved["query"].get(key), default)
    return _with_parts(config, newer)


def read_config(default: Config, key: str = "cfg", carry: tuple[str, ...] = ()) -> tuple[Config, str | None]:
    """Config from st.query_params (checked version), with a warning text when the URL had to be ignored.

    A URL always wins. Without any query (a page picked in the menu) the page starts from the session's memory: its own
    last state if it was visited, and the session's last choice of the ``carry`` parts ("problem", "optimizer") that
    this page shares with the others (write_config records them)."""
    _memory()["carry"][_page(default, key)] = tuple(carry)
    qp = st.query_params
    if not any(k != PRESENT for k in qp):       # ?present=1 alone is the menu's page in presentation mode
        remembered = _from_memory(default, key, tuple(carry))
        if remembered is not None:
            return remembered, None
    version = qp.get("v")
    if version is not None and version != str(VERSION):
        return default, f"This link was made for settings version {version!r}; this optviz reads version {VERSION}. Showing the defaults."
    return config_from_query(qp.get(key), default)


def _share(config: Config, default: Config, page: str) -> None:
    """Record the parts this page shares: a choice away from the page's default, or a change of this page's own choice."""
    mem = _memory()
    value, base = config.to_dict(), default.to_dict()
    for part in mem["carry"].get(page, ()):
        old = mem["shared"].get(part)
        if value[part] != (old or {}).get("value") and (value[part] != base[part] or (old or {}).get("page") == page):
            mem["clock"] += 1
            mem["shared"][part] = {"stamp": mem["clock"], "value": value[part], "page": page}


def remember_query(default: Config, key: str = "cfg") -> None:
    """Keep the page's current URL as its last state (a fragment that changed a view option calls this)."""
    mem = _memory()
    mem["pages"][_page(default, key)] = {"query": {k: st.query_params.get(k) for k in st.query_params}, "seen": mem["clock"]}


def write_config(config: Config, default: Config, key: str = "cfg", **extra: Any) -> None:
    """Put the config (and extra view options) in the URL, replacing what was there; the session remembers it."""
    text = config_to_query(config, default)
    want = {"v": str(VERSION)}
    if text != "{}":
        want[key] = text
    for k, v in extra.items():
        if v not in (None, "", [], ()):
            want[k] = v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))
    want = sticky(want)
    qp = st.query_params
    if {k: qp.get(k) for k in qp} != want:
        qp.from_dict(want)
    page = _page(default, key)
    _share(config, default, page)
    mem = _memory()
    mem["pages"][page] = {"query": want, "seen": mem["clock"]}


def hidden_controls() -> set[str]:
    """Controls a lesson link hides: ?hide=optimizer,lr,steps (names of controls or hyperparameters)."""
    raw = st.query_params.get("hide", "") or ""
    return {h.strip() for h in raw[:500].split(",") if h.strip()}


def url_tabs(labels: list[str], key: str, label: str):
    """st.tabs that open ``label`` (the tab the URL names) when the page opens, then follow the learner's clicks.

    The URL's tab is put in session state, not passed as ``default=``: a widget's identity includes its default, so a
    default read from the URL the previous run wrote makes a new widget after every click, and that click is lost."""
    open_now = st.session_state.get(key)
    st.session_state[key] = open_now if open_now in labels else label     # kept when the tabs change (LBFGS adds one)
    return st.tabs(labels, key=key, on_change="rerun")


# -- presentation mode: a switch of the session, not of one page --------------------------------------------------

def read_present() -> bool:
    """Once per run, before anything writes the URL: ?present=1 (or true) turns presentation mode on, a query without it
    turns it off, and a page opened without any query (from the menu) keeps the session's mode and says so in the URL."""
    mem, qp = _memory(), st.query_params
    if len(qp):
        mem[PRESENT] = qp.get(PRESENT, "").lower() in ("1", "true")
    elif mem.get(PRESENT):
        qp[PRESENT] = "1"
    return bool(mem.get(PRESENT))


def presenting() -> bool:
    """Presentation mode is on (as read_present found it at the start of this run, or as the toggle set it)."""
    return bool(_memory().get(PRESENT))


def set_present(on: bool) -> None:
    """Switch presentation mode (the sidebar toggle, the exit button): the session and the URL."""
    _memory()[PRESENT] = bool(on)
    if on:
        st.query_params[PRESENT] = "1"
    elif PRESENT in st.query_params:
        del st.query_params[PRESENT]


def sticky(want: dict) -> dict:
    """A URL a page is about to write, with the session's switches kept in it (?present=1)."""
    return {**want, PRESENT: "1"} if presenting() else want
