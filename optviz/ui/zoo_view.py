"""Page plumbing of the Zoo and the Gallery: the tuned entries (cached across sessions), their figures, URL state."""
from __future__ import annotations

import json
import math

import streamlit as st

from optviz import figures
from optviz.core import external as ext
from optviz.core.config import Config
from optviz.core.optimizers import get_optimizer
from optviz.figures import race as figures_race
from optviz.figures import zoo as figures_zoo
from optviz.lessons import zoo
from optviz.lessons.race import f_star, race_results
from optviz.ui import explorer_view as view
from optviz.ui.explorer_view import contour_base, loss_figure
from optviz.ui.runner import cached_run, surface

CARD_HEIGHT = 380
ZOO_FIGURES = dict(max_entries=32, show_spinner=False)   # a Zoo's figures hold up to 24 animated paths


@st.cache_data(max_entries=1024, show_spinner=False)
def _tuned(single_key: str) -> zoo.Tuned:
    z = zoo.from_dict(json.loads(single_key))
    return zoo.tune(z, z.names[0], cached_run)


def tuned(z: zoo.Zoo, name: str) -> zoo.Tuned:
    """One entry's tuning, computed once per distinct (problem, protocol, entry) across all sessions."""
    return _tuned(zoo.single(z, name).key())


def tune_all(z: zoo.Zoo) -> list[zoo.Tuned]:
    """Every entry's tuning, with a progress bar while any of them runs its grid."""
    bar = None
    out = []
    for i, n in enumerate(z.names):
        if bar is None and zoo.from_table(z, n) is None:
            bar = st.progress(0.0, text="tuning…")
        if bar is not None:
            bar.progress(i / len(z.names), text=f"tuning {zoo.labels([n])[0]} ({i + 1} of {len(z.names)})…")
        out.append(tuned(z, n))
    if bar is not None:
        bar.empty()
    return out


def traces(z: zoo.Zoo, found: list[zoo.Tuned]):
    return [cached_run(zoo.tuned_config(z, t)) for t in found]


def paths(z: zoo.Zoo, found: list[zoo.Tuned]):
    return figures_zoo.zoo_paths(traces(z, found), zoo.labels(z.names))


def entries(z: zoo.Zoo, tune: bool) -> list[zoo.Tuned]:
    """Every entry tuned (``tune``), or only those the table holds, the rest pending at their default lr."""
    return [tuned(z, n) for n in z.names] if tune else [zoo.known(z, n) for n in z.names]


@st.cache_resource(**ZOO_FIGURES)
def zoo_figure(kind: str, zkey: str, tune: bool = True, click_grid: int = 25):
    """The Zoo's contour (every path, animated together), loss curves or tuning scores, built once per Zoo."""
    z = zoo.from_dict(json.loads(zkey))
    found = entries(z, tune)
    ps = paths(z, found)
    if kind == "contour":
        fig = figures.contour_with_paths(contour_base(z.base, click_grid), ps, arrows=False)
    elif kind == "loss":
        fig = loss_figure(ps, surface(z.base))
    elif kind == "tuning":
        have = [(t.tuning, p) for t, p in zip(found, ps, strict=True) if t.tuning is not None]
        fig = figures_race.tuning_figure([t for t, _ in have], [p for _, p in have], z.grid.objective, f_star(surface(z.base)))
    else:
        raise ValueError(kind)
    return figures_zoo.legend_room(fig)


def results_rows(z: zoo.Zoo, found: list[zoo.Tuned], tol: float) -> list[dict]:
    """The Zoo's table: the Race's columns (the same numbers, formatted alike) with the tuned lr, the protocol's score,
    how each tuned run ended and the entry's notes."""
    trs = traces(z, found)
    rows = view.results_rows(race_results(trs, zoo.labels(z.names), surface(z.base), tol))
    out = []
    for t, row, tr in zip(found, rows, trs, strict=True):
        spec = get_optimizer(t.name)
        score = None if t.tuning is None else t.tuning.best_score
        out.append({"optimizer": row["optimizer"], "from": "torch.optim" if spec.source != ext.SOURCE else "pytorch-optimizer",
                    "tuned lr": "—" if t.lr is None else f"{t.lr:.3g}",
                    "score": "—" if score is None or not math.isfinite(score) else f"{score:.4g}",
                    **{k: row[k] for k in ("final loss", "first step within tol of f*", "distance to nearest minimum")},
                    "ended": "diverged at step %d" % tr.diverged_at if tr.diverged_at is not None else f"{tr.steps} steps",
                    "note": "; ".join(filter(None, [t.lr_note(), *spec.badges]))})
    return out


@st.cache_resource(max_entries=256, show_spinner=False)
def card(surface_name: str, name: str) -> tuple:
    """The gallery card of one entry: (figure, tuning, trace), built once per server."""
    z = zoo.gallery_zoo(surface_name, (name,))
    t = tuned(z, name)
    tr = cached_run(zoo.tuned_config(z, t))
    base = _card_base(surface_name, z.base.key())
    source = "pytorch-optimizer" if name.startswith(ext.PREFIX) else "torch.optim"
    return figures_zoo.gallery_card(base, figures.Path(tr, name.removeprefix(ext.PREFIX), figures_zoo.entry_colours([name])[name]), t.lr, source), t, tr


@st.cache_resource(max_entries=8, show_spinner=False)
def _card_base(surface_name: str, config_key: str) -> dict:
    return figures.contour_base(surface(Config.from_json(config_key)), n_grid=200, height=CARD_HEIGHT)


def colour_key(surface_name: str) -> str:
    """What the gallery cards' colours show on this surface: the colour bar title of their (shared) surface image."""
    base = _card_base(surface_name, zoo.gallery_zoo(surface_name, ("SGD",)).base.key())
    return base["data"][0]["marker"]["colorbar"]["title"]["text"]
