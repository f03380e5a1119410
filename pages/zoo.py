"""Optimizer Zoo: any set of torch.optim and pytorch-optimizer optimizers on one surface, each at its tuned lr."""
import json
from urllib.parse import urlencode

import streamlit as st

from optviz.core import external as ext
from optviz.core.config import VERSION, ConfigError, parse_config
from optviz.core.specs import Param
from optviz.lessons import zoo
from optviz.lessons.race import DEFAULT_TOL, MAX_ENTRIES, OBJECTIVES, f_star
from optviz.ui import explorer_view as view
from optviz.ui import predict_view, present, zoo_view
from optviz.ui.controls import problem_controls, seed_control, start_key, start_on_click, steps_control
from optviz.ui.routing import inside_navigation
from optviz.ui.runner import surface
from optviz.ui.urlstate import hidden_controls, read_config, write_config
from optviz.ui.widgets import param_widget

inside_navigation()
present.start()

KEY = "zoo"
DEFAULT = zoo.Zoo(parse_config({"problem": {"surface": "rosenbrock"}, "steps": zoo.DEFAULT_STEPS}), zoo.DEFAULT_NAMES)
LR = Param("lr", "float", 1e-3, "", 1e-6, 100.0, log=True)
TOL = Param("tol", "float", DEFAULT_TOL, "A run has arrived once f − f* ≤ tol.", 1e-8, 1.0, log=True)

st.title(":material/pets: Optimizer Zoo")
present.intro("Any set of optimizers — **torch.optim**'s and the **pytorch-optimizer** package's (Lion, Prodigy, Adan, "
              "MADGRAD, SOAP, …) — from one start on one surface. Each runs at the learning rate a protocol stated below "
              "found for it, with raw gradients: **nothing is clipped**, so every path is the optimizer's own behaviour. "
              "The **Gallery** page shows every entry alone.")


def _names_from_url() -> tuple[tuple[str, ...], str | None]:
    raw = st.query_params.get("zoo")
    if raw is None:
        return st.session_state.get(f"{KEY}.names", zoo.DEFAULT_NAMES), None
    try:
        names = json.loads(raw[:4000])
        zoo.parse_zoo({"base": DEFAULT.base.to_dict(), "optimizers": names})
        return tuple(names), None
    except (ValueError, RecursionError, ConfigError) as e:
        why = e.message if isinstance(e, ConfigError) else "not a JSON list of names"
        return zoo.DEFAULT_NAMES, f"The link's optimizers could not be used ({why}); showing the default zoo."


def _pick(names: list[str]) -> None:
    st.session_state[f"{KEY}.names.widget"] = names


base, warning = read_config(DEFAULT.base, carry=("problem",))
names, names_warning = _names_from_url()
tune = view.tune_param(zoo.Grid().to_dict())
hidden = hidden_controls()
with st.sidebar:
    st.subheader("Surface")
    problem = problem_controls(base.problem, f"{KEY}.problem", hidden, st)
    steps = steps_control(base.steps, KEY, hidden, st)
    seed = base.seed if problem.get("noise", 0) == 0 else seed_control(base.seed, KEY, hidden, st)
    st.subheader("Optimizers")
    everything = zoo.catalogue()
    badges = {s.name: s.badges for s in ext.available()}

    def shown(n: str) -> str:
        b = badges.get(n)
        return f"{n.removeprefix(ext.PREFIX)} · pytorch-optimizer" + (f" — {'; '.join(b)}" if b else "") if n in badges else n

    if f"{KEY}.names.widget" not in st.session_state:
        st.session_state[f"{KEY}.names.widget"] = [n for n in names if n in everything]
    picked = st.multiselect(f"up to {zoo.MAX_ZOO} optimizers", everything,
                            key=f"{KEY}.names.widget", max_selections=zoo.MAX_ZOO, format_func=shown,
                            help=f"torch.optim's {len(everything) - len(badges)} optimizers and the {len(badges)} of "
                                 "pytorch-optimizer that run on a 2-D point, with what optviz measured on each.")
    c1, c2 = st.columns(2)
    c1.button("torch.optim's", key=f"{KEY}.pick.torch", help="Every torch.optim optimizer", on_click=_pick, args=(zoo.catalogue(external=False),))
    c2.button("default zoo", key=f"{KEY}.pick.default", on_click=_pick, args=(list(zoo.DEFAULT_NAMES),))
    st.subheader("Tuning grid")
    low = param_widget(LR, tune["low"], f"{KEY}.tune.low", label="lowest lr")
    high = param_widget(LR, tune["high"], f"{KEY}.tune.high", label="highest lr")
    per_decade = st.slider("lrs per factor of 10", 1, 6, int(tune["per_decade"]), key=f"{KEY}.tune.per_decade")
    objective = st.radio("judge each run by", list(OBJECTIVES), index=list(OBJECTIVES).index(tune["objective"]),
                         key=f"{KEY}.tune.objective", format_func=lambda k: OBJECTIVES[k])
for note in filter(None, [warning, names_warning]):
    st.warning(view.md(note), icon=":material/link_off:")
if not picked:
    st.info("Pick at least one optimizer in the sidebar.", icon=":material/pets:")
    st.stop()

tune = {"low": low, "high": high, "per_decade": per_decade, "objective": objective}
try:
    cfg = parse_config({"problem": problem, "steps": steps, "seed": seed})
    z = zoo.parse_zoo({"base": cfg.to_dict(), "optimizers": picked, "tune": tune})
except ConfigError as e:
    st.error(f"These settings can't run — **{view.md(e.field or 'settings')}**: {view.md(e.message)}", icon=":material/block:")
    st.stop()
st.session_state[f"{KEY}.names"] = z.names

zkey = z.key()
live = zoo.live_cost(z)
tune_now = live <= zoo.AUTO_TUNE or st.session_state.get(f"{KEY}.go") == zkey
if not tune_now:
    c1, c2 = st.columns([3, 1])
    c1.info(f"Tuning these needs {live:,} gradient evaluations that the stored table does not hold (about "
            f"{max(1, round(live * zoo.SECONDS_PER_EVALUATION))} s). Until then, untuned optimizers are drawn at their "
            "class's default lr.", icon=":material/hourglass_empty:")
    if c2.button("Tune them now", type="primary", key=f"{KEY}.tune.run", icon=":material/tune:"):
        st.session_state[f"{KEY}.go"] = zkey
        tune_now = True
found = zoo_view.tune_all(z) if tune_now else zoo_view.entries(z, False)
surf = surface(z.base)
start_widget = start_key(f"{KEY}.problem", problem)


_clicked = start_on_click(f"{KEY}.contour", start_widget)


boxes = sum(map(bool, [warning, names_warning])) + (not tune_now)
st.plotly_chart(present.fit(zoo_view.zoo_figure("contour", zkey, tune_now), notes=boxes), key=f"{KEY}.contour", width="stretch",
                theme=None, on_select=_clicked, selection_mode="points")
st.caption(f"{surf.watch} ▶ Play animates every optimizer at its tuned lr · click the plot to start there "
           "(the tuning reruns for the new start).")
st.markdown(f"**Protocol.** {z.describe()}")
st.plotly_chart(zoo_view.zoo_figure("loss", zkey, tune_now), key=f"{KEY}.loss", width="stretch", theme=None)


@st.fragment
def results() -> None:
    st.subheader("Results at the tuned learning rates" if tune_now else "Results (some optimizers not tuned yet)")
    tol = param_widget(TOL, view.float_param("tol", DEFAULT_TOL, TOL.low, TOL.high), f"{KEY}.tol",
                       label="tolerance for “arrived” (f − f* ≤ tol)", container=st.columns([1, 2])[0])
    view.set_param("tol", None if tol == DEFAULT_TOL else f"{tol:g}")
    st.dataframe(zoo_view.results_rows(z, found, tol), hide_index=True, width="stretch")
    fs = f_star(surf)
    table = sum(zoo.from_table(z, n) is not None for n in z.names if z.protocol(n) is not None)
    st.caption((f"f* = {fs:.6g}. " if fs is not None else "This surface lists no minimum value, so no run can be judged "
                "to have arrived. ") + f"Score: the protocol's {OBJECTIVES[z.grid.objective]}. "
               + (f"{table} of these tunings come from the gallery's table (written from the same real runs by "
                  "`python -m optviz zoo --write-table`); the others ran here." if table else "Every tuning ran here (cached)."))


results()
st.subheader(":material/tune: How each lr was chosen")
st.plotly_chart(zoo_view.zoo_figure("tuning", zkey, tune_now), key=f"{KEY}.tuning", width="stretch", theme=None)
for t in found:
    if t.tuning is not None and (t.tuning.edge or t.tuning.best_lr is None):
        st.warning(f"**{view.md(t.label)}**: {view.md(t.lr_note())}.", icon=":material/warning:")
if 2 <= len(z.names) <= MAX_ENTRIES and tune_now:
    racers = [{"name": n, "options": {} if t.lr is None else {"lr": t.lr}} for n, t in zip(z.names, found, strict=True)]
    query = {"v": VERSION, "cfg": json.dumps(z.base.to_dict(), separators=(",", ":")), "race": json.dumps(racers, separators=(",", ":"))}
    st.markdown(f"[Race these at their tuned learning rates]({predict_view.page_link('race?' + urlencode(query))}) — the Race "
                "page lets you change any other hyperparameter and add groups or schedulers.")

write_config(z.base, DEFAULT.base, hide=",".join(sorted(hidden)),
             zoo=None if z.names == zoo.DEFAULT_NAMES else json.dumps(list(z.names), separators=(",", ":")),
             tune=None if z.grid == zoo.Grid() else json.dumps(z.grid.to_dict(), separators=(",", ":")), tol=st.query_params.get("tol"))
