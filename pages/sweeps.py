"""Sweeps & Basins: maps over thousands of real runs — hyperparameter heatmaps and basins of attraction."""
import json
from urllib.parse import urlencode

import streamlit as st

from optviz.core.config import VERSION, ConfigError, parse_config
from optviz.core.optimizers import ELEMENTWISE, OPTIMIZERS
from optviz.core.surfaces import SURFACES, get_surface
from optviz.figures.theory import OBJECTIVES, percent
from optviz.lessons.basins import MAX_BASIN_SIDE
from optviz.lessons.sweeps import MAX_MAP_STEPS, MAX_SWEEP_SIDE, cell_config, default_axis, parse_sweep, sweep_params
from optviz.ui import present
from optviz.ui.maps import basin_chart, cached_basins, cached_sweep, sweep_chart
from optviz.ui.routing import inside_navigation
from optviz.ui.urlstate import read_config, write_config
from optviz.ui.widgets import options_widgets, param_widget

inside_navigation()
present.start()

K = "sw"
MODES = {"sweep": "hyperparameter sweep", "basins": "basins of attraction"}
DEFAULTS = {
    "sweep": parse_config({"problem": {"surface": "quadratic", "start": [-2.5, 2.0],
                                       "options": {"eigenvalues": [1.0, 100.0], "angle": 30.0, "center": [0.0, 0.0]}},
                           "optimizer": {"name": "SGD", "options": {"lr": 0.01, "momentum": 0.5}}, "steps": 300}),
    "basins": parse_config({"problem": {"surface": "himmelblau"}, "optimizer": {"name": "Adam", "options": {"lr": 0.05}},
                            "steps": 300}),
}
VIEW = {"x": {"param": "lr", "low": 1e-3, "high": 0.05, "n": 64, "log": True}, "y": {"param": "momentum", "low": 0.0,
        "high": 0.99, "n": 64, "log": False}, "tol": 1e-6, "objective": "steps_to_tol", "n": 100, "compare": "SGD",
        "compare_options": {"lr": 0.01, "momentum": 0.9}}

st.title("Sweeps & Basins")
present.intro(
    "One run shows one setting; a map shows thousands. Every cell below is a **real `torch.optim` run** — a sweep varies "
    "two hyperparameters from one start, a basin map varies the start point — computed together as one batch.")


def config_of(name: str, options: dict):
    return parse_config({"optimizer": {"name": name, "options": options}})


def _number(v, lo: float, hi: float) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and lo <= v <= hi    # False for NaN too


def _view_from_url() -> tuple[dict, str | None]:
    text = st.query_params.get("view")
    if not text:
        return dict(VIEW), None
    try:
        view = {**VIEW, **json.loads(text)}
        if set(view) != set(VIEW) or view["objective"] not in OBJECTIVES or view["compare"] not in (None, *ELEMENTWISE) \
                or not isinstance(view["compare_options"], dict):
            raise ValueError("unknown view settings")
        if not (isinstance(view["n"], int) and 2 <= view["n"] <= MAX_BASIN_SIDE):
            raise ValueError("bad basin grid")
        for ax in (view["x"], view["y"]):
            if not (isinstance(ax, dict) and set(ax) == set(VIEW["x"]) and isinstance(ax["param"], str)
                    and isinstance(ax["log"], bool) and isinstance(ax["n"], int) and 8 <= ax["n"] <= MAX_SWEEP_SIDE
                    and all(_number(ax[k], -1e6, 1e6) for k in ("low", "high"))):
                raise ValueError("bad axis")
        if not (_number(view["x"]["low"], 1e-8, 10) and _number(view["x"]["high"], 1e-8, 10)
                and _number(view["tol"], 1e-14, 1e3) and all(_number(v, -1e6, 1e6) for v in view["compare_options"].values())):
            raise ValueError("a number out of range")
        return view, None
    except (ValueError, TypeError, RecursionError) as e:
        return dict(VIEW), f"The link's map settings could not be read ({e}); showing the defaults."


def surface_options(key: str) -> dict:
    """The options a run on surface ``key`` gets: the link's (or default's) when it names that surface, else none."""
    return dict(config.problem.options) if key == config.problem.surface else {}


mode = st.query_params.get("map", "sweep")
notes = [None if mode in MODES else "Unknown map in the link; showing the sweep."]
mode = mode if mode in MODES else "sweep"
view, note = _view_from_url()
notes.append(note)
with st.sidebar:
    mode = st.radio("map", list(MODES), index=list(MODES).index(mode), format_func=MODES.get, key=f"{K}.map")
    default = DEFAULTS[mode]
    config, note = read_config(default) if st.query_params.get("map", "sweep") == mode else (default, None)
    notes.append(note)
    keys = list(SURFACES)
    surface = st.selectbox("surface", keys, index=keys.index(config.problem.surface) if config.problem.surface in keys else 0,
                           format_func=lambda k: get_surface(k, **surface_options(k)).label, key=f"{K}.{mode}.surface")
    name = st.selectbox("optimizer", ELEMENTWISE, index=ELEMENTWISE.index(config.optimizer.name)
                        if config.optimizer.name in ELEMENTWISE else 0, key=f"{K}.{mode}.optimizer",
                        help="Optimizers whose batched runs are independent, row by row.")
    spec = OPTIMIZERS[name]
    steps = st.slider("steps", 10, MAX_MAP_STEPS, min(config.steps, MAX_MAP_STEPS), 10, key=f"{K}.{mode}.steps")
    values = dict(config.optimizer.options) if name == config.optimizer.name else spec.defaults()
    swept = set()
    if mode == "sweep":
        st.header("Axes")
        allowed = [p for p in sweep_params(name) if p != "lr"]
        y0 = view["y"]["param"] if view["y"]["param"] in allowed else allowed[0]
        ypar = st.selectbox("y axis", allowed, index=allowed.index(y0), key=f"{K}.{name}.ypar")
        yv = view["y"] if ypar == view["y"]["param"] else default_axis(config_of(name, values), ypar).to_dict()
        c1, c2 = st.columns(2)
        lr_lo = c1.number_input("lr from", 1e-8, 10.0, float(view["x"]["low"]), format="%.3g", key=f"{K}.lr_lo")
        lr_hi = c2.number_input("lr to", 1e-8, 10.0, float(view["x"]["high"]), format="%.3g", key=f"{K}.lr_hi")
        y_lo = c1.number_input(f"{ypar} from", value=float(yv["low"]), format="%.4g", key=f"{K}.{name}.{ypar}.lo")
        y_hi = c2.number_input(f"{ypar} to", value=float(yv["high"]), format="%.4g", key=f"{K}.{name}.{ypar}.hi")
        y_log = st.checkbox(f"log scale for {ypar}", bool(yv["log"]), key=f"{K}.{name}.{ypar}.log")
        side = st.slider("cells per axis", 8, MAX_SWEEP_SIDE, int(view["x"]["n"]), key=f"{K}.side")
        objective = st.radio("colour by", list(OBJECTIVES), index=list(OBJECTIVES).index(view["objective"]),
                             format_func=OBJECTIVES.get, key=f"{K}.objective")
        tol = st.number_input("tolerance on f − f*", 1e-14, 1e3, float(view["tol"]), format="%.2g", key=f"{K}.tol")
        swept = {"lr", ypar.split("[")[0]}
        start = config.problem.start or SURFACES[surface].start
        c1, c2 = st.columns(2)
        sx = c1.number_input("start x", value=float(start[0]), format="%.4g", key=f"{K}.{surface}.sx")
        sy = c2.number_input("start y", value=float(start[1]), format="%.4g", key=f"{K}.{surface}.sy")
    else:
        st.header("Starts and comparison")
        side = st.slider("starts per side", 20, MAX_BASIN_SIDE, int(view["n"]), 10, key=f"{K}.n")
        names = [None, *ELEMENTWISE]
        compare = st.selectbox("compare with", names, index=names.index(view["compare"]), key=f"{K}.compare",
                               format_func=lambda n: "nothing" if n is None else n)
        compare_options = {}
        if compare is not None:
            cspec = OPTIMIZERS[compare]
            for p in ("lr", "momentum"):
                if p in cspec.names:
                    compare_options[p] = param_widget(cspec.param(p), view["compare_options"].get(p, cspec.param(p).initial),
                                                      key=f"{K}.compare.{compare}.{p}", label=f"{compare} {p}")
    with st.expander("other hyperparameters", expanded=mode == "basins"):
        options = options_widgets(spec.params, values, key=f"{K}.{mode}.{name}", hidden=swept)

for n in filter(None, notes):
    st.warning(n, icon="⚠️")
base = {"problem": {"surface": surface, "options": surface_options(surface)},
        "optimizer": {"name": name, "options": options}, "steps": steps}
try:
    if mode == "sweep":
        base["problem"]["start"] = [sx, sy]
        view.update(x={"param": "lr", "low": lr_lo, "high": lr_hi, "n": side, "log": True},
                    y={"param": ypar, "low": y_lo, "high": y_hi, "n": side, "log": y_log}, tol=tol, objective=objective)
        sweep = parse_sweep({"config": base, "x": view["x"], "y": view["y"], "tol": tol})
        config, key = sweep.config, json.dumps(sweep.to_dict(), sort_keys=True)
    else:
        config = parse_config(base)
        configs = [config]
        if compare is not None:
            configs.append(parse_config({**base, "optimizer": {"name": compare, "options": compare_options}}))
        view.update(n=side, compare=compare, compare_options=compare_options)
        key = json.dumps({"configs": [c.to_dict() for c in configs], "n": side}, sort_keys=True)
    result = cached_sweep(key) if mode == "sweep" else cached_basins(key)
except ConfigError as e:
    st.error(f"These settings can't run — **{e.field or 'settings'}**: {e.message}", icon="🚫")
    st.stop()
write_config(config, DEFAULTS[mode], map=mode, view=json.dumps(view, separators=(",", ":")))


def explorer_link(cfg) -> str:
    # the whole config, not a diff against our defaults: the Explorer merges a link onto its own defaults
    return "explorer?" + urlencode({"v": VERSION, "cfg": json.dumps(cfg.to_dict(), separators=(",", ":"))})


if mode == "sweep":
    event = st.plotly_chart(present.fit(sweep_chart(key, objective, result), notes=sum(map(bool, notes))), key=f"{K}.heat",
                            on_select="rerun",
                            selection_mode="points", width="stretch", theme=None)
    points = [p for p in (event.selection.points if event else []) if "customdata" in p]
    cell = tuple(points[-1]["customdata"][:2]) if points else result.best()
    st.caption(f"{sweep.x.n} × {sweep.y.n} runs × {steps} steps in {result.seconds:.2f} s ({result.method}). "
               "Hover a cell for its numbers; click one to open that run in the Explorer.")
    if cell is not None:
        i, j = int(cell[0]), int(cell[1])
        run_cfg = cell_config(sweep, i, j)
        what = "clicked cell" if points else "best cell ★"
        st.markdown(f"**{what}**: lr = {result.xs[j]:.4g}, {ypar} = {result.ys[i]:.4g} → final f − f* = "
                    f"{result.final_loss[i, j]:.3g}, steps to {tol:g}: {result.steps_to_tol[i, j]:.0f}")
        st.link_button("Open this run in the Explorer ↗", explorer_link(run_cfg))
    st.markdown("**What to look for.** On a quadratic the grey region (diverged) starts exactly at the theory's edge "
                "α = (2 + 2β)/λmax — momentum allows up to twice the step — and the fastest cells gather around the "
                "theory's α*, β* (white ×). Switch the surface to Rosenbrock: the run starts far from the minimum, the "
                "curvature along its path is not the local quadratic's, and the edge no longer follows 2 + 2β.")
else:
    st.plotly_chart(present.fit(basin_chart(key, result), notes=sum(map(bool, notes))), key=f"{K}.basins", width="stretch", theme=None)
    for r in result:
        st.caption(f"**{r.config.optimizer.name}** ({side} × {side} starts × {steps} steps, {r.seconds:.2f} s): "
                   + ", ".join(f"#{c} {percent(f)}" for c, _, f in r.shares()))
    st.markdown("**What to look for.** Where the basins are solid blocks, each start simply rolls into the valley it is "
                "in. Where they fray into interleaved stripes, the optimizer overshoots ridges — heavy momentum does "
                "this — and a tiny change of the start point changes which minimum the run ends in.")
