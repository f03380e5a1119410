"""Small Nets state: cached training, landscape and figures keyed by config JSON, and the versioned URL state."""
from __future__ import annotations

import json
from typing import Any, Callable

import streamlit as st

from optviz.core.specs import ConfigError
from optviz.figures import FrozenFigure, frozen
from optviz.figures.nets import Run, boundary_figure, landscape_figure, lr_figure, metrics_figure, norms_figure
from optviz.nets.landscape import Landscape, landscape
from optviz.nets.model import VERSION, NetConfig, parse_net_config
from optviz.nets.training import NetTrace, train
from optviz.ui.urlstate import MAX_URL_TEXT, diff, merge, named_blocks, sticky

PLANES = ("pca", "random")


@st.cache_data(max_entries=32, show_spinner=False)
def _stored(key: str, _trace: NetTrace | None = None) -> NetTrace:
    """The cache of trained runs by config JSON: a miss raises (not cached); the page then trains outside the cached
    function (so its progress bar may move) and stores the result by calling again with it."""
    if _trace is None:
        raise LookupError(key)
    return _trace


def _train(key: str, on_epoch: Callable[[int, int], None] | None = None) -> NetTrace:
    try:
        return _stored(key)
    except LookupError:
        return _stored(key, train(NetConfig.from_json(key), on_epoch=on_epoch))


def cached_train(config: NetConfig, label: str = "Training") -> NetTrace:
    """The run of a config, computed once per distinct config JSON; a progress bar moves while it trains."""
    bar = st.empty()

    def on_epoch(epoch: int, epochs: int) -> None:
        bar.progress(epoch / epochs, text=f"{label}: epoch {epoch} of {epochs}")

    try:
        return _train(config.key(), on_epoch)
    finally:
        bar.empty()


@st.cache_data(max_entries=32, show_spinner="Computing the loss over the plane…")
def _landscape(key: str, other_key: str | None, method: str, labels: tuple[str, ...]) -> Landscape:
    other = _train(other_key) if other_key else None
    return landscape(_train(key), method, other=other, labels=labels)


def cached_landscape(config: NetConfig, other: NetConfig | None, method: str, labels: tuple[str, ...]) -> Landscape:
    """The landscape of a trained config (and a second one on the same plane); both runs must be cached already."""
    return _landscape(config.key(), other.key() if other is not None else None, method, labels)


# -- figures --------------------------------------------------------------------------------------
# Built once per distinct set of runs for every session, held as objects like the Explorer's (explorer_view's
# FIGURE_CACHE): rebuilding a figure on every rerun, its template copied and every frame validated, was most of a
# cached slider move. The hashed arguments are the figure's whole key; the underscored ones are what it is drawn from.

FIGURE_CACHE = dict(max_entries=32, show_spinner=False)     # as many as the trained runs; a boundary is ~1.3 MB
RUN_FIGURES = {"metrics": metrics_figure, "lr": lr_figure, "norms": norms_figure}


def _run_keys(runs: list[Run]) -> tuple[tuple[str, str], ...]:
    """(config JSON, label) per run: everything a figure of the runs depends on (the colours follow the optimizers)."""
    return tuple((r.trace.config.key(), r.label) for r in runs)


@st.cache_resource(**FIGURE_CACHE)
def _boundary(key: str, height: int, _trace: NetTrace) -> FrozenFigure:
    return frozen(boundary_figure(_trace, height=height))


def boundary_chart(trace: NetTrace, height: int) -> FrozenFigure:
    """The animated decision boundary of one run (``boundary_figure``), built once per config and height."""
    return _boundary(trace.config.key(), height, trace)


@st.cache_resource(**FIGURE_CACHE)
def _runs_figure(kind: str, keys: tuple[tuple[str, str], ...], _runs: tuple[Run, ...]) -> FrozenFigure:
    return frozen(RUN_FIGURES[kind](list(_runs)))


def runs_chart(kind: str, runs: list[Run]) -> FrozenFigure:
    """The metrics, lr or norms figure (``kind``) of the runs, built once per set of runs."""
    return _runs_figure(kind, _run_keys(runs), tuple(runs))


@st.cache_resource(**FIGURE_CACHE)
def _landscape_figure(keys: tuple[tuple[str, str], ...], method: str, _land: Landscape, _runs: tuple[Run, ...]) -> FrozenFigure:
    return frozen(landscape_figure(_land, list(_runs)))


def landscape_chart(land: Landscape, runs: list[Run]) -> FrozenFigure:
    """The loss landscape with the runs on it (``land`` is the cached landscape of these runs on ``land.method``)."""
    return _landscape_figure(_run_keys(runs), land.method, land, tuple(runs))


# -- URL ----------------------------------------------------------------------------------------------

def _loads(text: str) -> dict:
    if len(text) > MAX_URL_TEXT:
        raise ConfigError("", f"too long ({len(text):,} characters)")
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ConfigError("", "expected an object")
    data.pop("version", None)
    return data


def _read(parse: Callable[[], Any], default: Any, what: str) -> tuple[Any, str | None]:
    try:
        return parse(), None
    except ConfigError as e:
        return default, f"The link's {what} were not valid ({e}); showing the defaults instead."
    except (ValueError, TypeError, RecursionError, KeyError, AttributeError, OverflowError) as e:
        return default, f"The link's {what} could not be read ({type(e).__name__}); showing the defaults instead."


def _whole_blocks(value: dict, base: dict, out: dict) -> dict:
    """A dataset, optimizer or scheduler other than the default's is kept whole: the default's options don't apply to it."""
    out = named_blocks(value, base, out)
    v, d = value.get("data"), base.get("data")
    if isinstance(v, dict) and isinstance(d, dict) and v.get("name", d.get("name")) != d.get("name"):
        out["data"] = v
    return out


def net_from_query(text: str | None, default: NetConfig) -> tuple[NetConfig, str | None]:
    """The config a link describes (only what differs from the default is in it), or the default and a warning."""
    if not text:
        return default, None
    base = default.to_dict()

    def parse() -> NetConfig:
        extra = _loads(text)
        return parse_net_config(_whole_blocks(extra, base, merge(base, extra)))

    return _read(parse, default, "settings")


def net_to_query(config: NetConfig, default: NetConfig) -> str:
    value, base = config.to_dict(), default.to_dict()
    return json.dumps(_whole_blocks(value, base, diff(value, base)), separators=(",", ":"), sort_keys=True)


def compare_config(config: NetConfig, choice: dict) -> NetConfig:
    """The second run: the same data, model, batches, epochs and seed (so the same initial weights), its own optimizer."""
    data = config.to_dict()
    data["optimizer"] = choice.get("optimizer")
    data["scheduler"] = choice.get("scheduler")
    return parse_net_config(data)


def compare_from_query(text: str | None, config: NetConfig) -> tuple[NetConfig | None, str | None]:
    """The second run a link describes (?cmp={"optimizer": …, "scheduler": …}), or None and a warning."""
    if not text:
        return None, None
    return _read(lambda: compare_config(config, _keys(_loads(text))), None, "comparison settings")


def _keys(data: dict) -> dict:
    extra = [k for k in data if k not in ("optimizer", "scheduler")]
    if extra:
        raise ConfigError(extra[0], "unknown field; expected optimizer, scheduler")
    return data


def read_state(default: NetConfig) -> tuple[NetConfig, NetConfig | None, str, list[str]]:
    """(config, comparison or None, plane, warnings) from st.query_params; a tampered link falls back to defaults."""
    qp = st.query_params
    version = qp.get("v")
    if version is not None and version != str(VERSION):
        return default, None, "pca", [f"This link was made for settings version {version!r}; this optviz reads version "
                                      f"{VERSION}. Showing the defaults."]
    config, w1 = net_from_query(qp.get("net"), default)
    other, w2 = compare_from_query(qp.get("cmp"), config)
    plane = qp.get("plane") if qp.get("plane") in PLANES else "pca"
    return config, other, plane, [w for w in (w1, w2) if w]


def tab_from_query(tabs: tuple[str, ...]) -> str:
    """The open tab named in the URL (?tab=metrics), else the first; an unknown name opens the first too."""
    tab = st.query_params.get("tab")
    return tab if tab in tabs else tabs[0]


def write_state(config: NetConfig, default: NetConfig, other: NetConfig | None, plane: str, tab: str | None = None) -> None:
    """Put the page's state in the URL (replacing what was there) when it changed; ``tab`` None: the first tab."""
    want = {"v": str(VERSION)}
    text = net_to_query(config, default)
    if text != "{}":
        want["net"] = text
    if other is not None:
        o = other.to_dict()
        want["cmp"] = json.dumps({"optimizer": o["optimizer"], "scheduler": o["scheduler"]}, separators=(",", ":"),
                                 sort_keys=True)
    if plane != "pca":
        want["plane"] = plane
    if tab is not None:
        want["tab"] = tab
    want = sticky(want)
    qp = st.query_params
    if {k: qp.get(k) for k in qp} != want:
        qp.from_dict(want)


__all__ = ["cached_train", "cached_landscape", "boundary_chart", "runs_chart", "landscape_chart", "net_from_query", "net_to_query",
           "compare_config", "compare_from_query", "read_state", "tab_from_query", "write_state", "PLANES"]
