"""The page's state in the URL: a versioned, compact config (only what differs from the defaults) plus view options."""
from __future__ import annotations

import json
from typing import Any

import streamlit as st

from optviz.config import VERSION, Config, ConfigError, parse_config

MAX_URL_TEXT = 8000


def _diff(value: dict, default: dict) -> dict:
    out = {}
    for k, v in value.items():
        d = default.get(k) if isinstance(default, dict) else None
        if isinstance(v, dict) and isinstance(d, dict):
            sub = _diff(v, d)
            if sub:
                out[k] = sub
        elif v != d:
            out[k] = v
    if isinstance(default, dict):
        # a field the default has and this config lacks (groups switched off, no start): say so with null
        out.update({k: None for k in default if k not in value})
    return out


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in extra.items():
        if v is None:
            out.pop(k, None)  # null: the field is switched off (or back to torch's default)
        else:
            out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _named_blocks(value: dict, default: dict, out: dict) -> dict:
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
    return json.dumps(_named_blocks(value, base, _diff(value, base)), separators=(",", ":"), sort_keys=True)


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
        return parse_config(_named_blocks(extra, base, _merge(base, extra))), None
    except ConfigError as e:
        return default, f"The link's settings were not valid ({e}); showing the defaults instead."
    except (ValueError, TypeError, RecursionError, KeyError, AttributeError, OverflowError) as e:
        return default, f"The link's settings could not be read ({type(e).__name__}); showing the defaults instead."


def read_config(default: Config, key: str = "cfg") -> tuple[Config, str | None]:
    """Config from st.query_params (checked version), with a warning text when the URL had to be ignored."""
    qp = st.query_params
    version = qp.get("v")
    if version is not None and version != str(VERSION):
        return default, f"This link was made for settings version {version!r}; this optviz reads version {VERSION}. Showing the defaults."
    return config_from_query(qp.get(key), default)


def write_config(config: Config, default: Config, key: str = "cfg", **extra: Any) -> None:
    """Put the config (and extra view options) in the URL, replacing what was there."""
    text = config_to_query(config, default)
    want = {"v": str(VERSION)}
    if text != "{}":
        want[key] = text
    for k, v in extra.items():
        if v not in (None, "", [], ()):
            want[k] = v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))
    qp = st.query_params
    if {k: qp.get(k) for k in qp} != want:
        qp.from_dict(want)


def hidden_controls() -> set[str]:
    """Controls a lesson link hides: ?hide=optimizer,lr,steps (names of controls or hyperparameters)."""
    raw = st.query_params.get("hide", "") or ""
    return {h.strip() for h in raw[:500].split(",") if h.strip()}
