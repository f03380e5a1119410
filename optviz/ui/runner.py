"""Cached engine calls keyed by the config's canonical JSON (pure results only; nothing per user)."""
from __future__ import annotations

import streamlit as st

from optviz.core.config import Config
from optviz.core.engine import run, surface_of
from optviz.core.trace import Trace


@st.cache_data(max_entries=256, show_spinner=False)
def _run(key: str) -> Trace:
    return run(Config.from_json(key))


def cached_run(config: Config) -> Trace:
    """The trace of a config, computed once per distinct config across all sessions."""
    return _run(config.key())


def surface(config: Config):
    return surface_of(config)
