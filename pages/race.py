"""Optimizer Race: several torch.optim optimizers from one start on one surface, with a stated lr-tuning protocol."""
import json
from urllib.parse import urlencode

import streamlit as st

from optviz.core.config import VERSION, ConfigError, parse_config
from optviz.core.specs import Param
from optviz.lessons.race import DEFAULT_TOL, MAX_ENTRIES, OBJECTIVES, TuneProtocol, f_star, lr_grid, parse_race, race_results, tune_entry
from optviz.ui import explorer_view as view
from optviz.ui import predict_view, present
from optviz.ui.controls import entry_controls, problem_controls, seed_control, start_key, start_on_click, steps_control
from optviz.ui.routing import inside_navigation
from optviz.ui.runner import cached_run, surface
from optviz.ui.urlstate import hidden_controls, read_config, write_config
from optviz.ui.widgets import param_widget

inside_navigation()
present.start()

KEY = "race"
DEFAULT = parse_race({"base": {"problem": {"surface": "rosenbrock"}, "steps": 300},
                      "entries": [{"name": "SGD", "options": {"lr": 1e-3, "momentum": 0.9}},
                                  {"name": "Adam", "options": {"lr": 0.05}}, {"name": "RMSprop", "options": {"lr": 0.01}}]})
TUNE = {"low": 1e-4, "high": 1.0, "per_decade": 3, "objective": "tail"}
LR = Param("lr", "float", 1e-3, "", 1e-6, 10.0, log=True)
TOL = Param("tol", "float", DEFAULT_TOL, "A run has arrived once f − f* ≤ tol.", 1e-8, 1.0, log=True)

st.title(":material/sports_score: Optimizer Race")
present.intro("Several **real `torch.optim`** optimizers start from the same point on the same surface — the same "
            "optimizer may race twice with different settings. Hand-picked learning rates often decide such a race, "
            "so the page also tunes them with a protocol it states in full.")

notes = [view.take_preset_link("race", KEY)]
base, warning = read_config(DEFAULT.base, carry=("problem",))
entries, entries_warning = view.read_entries(base, DEFAULT)
notes += [warning, entries_warning]
hidden = hidden_controls()
with st.sidebar:
    if hidden:
        st.caption(f"This lesson hides: {', '.join(sorted(hidden))}.")
        st.button("Show all controls", key=f"{KEY}.show_all", on_click=view.show_all_controls)
    st.subheader("Surface")
    problem = problem_controls(base.problem, f"{KEY}.problem", hidden, st)
    steps = steps_control(base.steps, KEY, hidden, st)
    seed = base.seed if problem.get("noise", 0) == 0 else seed_control(base.seed, KEY, hidden, st)
    st.subheader(f"Racers ({len(entries)})")
    raw_entries = entry_controls(entries, KEY, hidden, st, on_remove=lambda i: view.remove_entry(KEY, DEFAULT, i))
    if len(entries) < MAX_ENTRIES and "racers" not in hidden:
        st.button("Add a racer", icon=":material/add:", key=f"{KEY}.add", on_click=view.add_entry, args=(KEY, DEFAULT))
for note in filter(None, notes):
    st.warning(view.md(note), icon=":material/link_off:")

try:
    base = parse_config({"problem": problem, "optimizer": DEFAULT.base.to_dict()["optimizer"], "steps": steps, "seed": seed})
    race = parse_race({"base": base.to_dict(), "entries": raw_entries})
except ConfigError as e:
    st.error(f"These settings can't run — **{view.md(e.field or 'settings')}**: {view.md(e.message)}", icon=":material/block:")
    st.stop()

rkey = view.race_key(race)
lesson = view.current_lesson(KEY, "race", rkey)
if not present.on():
    view.presets_block("race", KEY, lesson)
view.lesson_note(lesson)

traces = view.race_traces(race)
paths = view.race_paths(race, traces)
surf = surface(race.base)
for p in paths:
    if p.trace.diverged_at is not None:
        st.warning(f"**{view.md(p.label)}**: {view.md(p.trace.message)}. Its path ends there.", icon=":material/warning:")

start_widget = start_key(f"{KEY}.problem", problem)


_clicked = start_on_click(f"{KEY}.contour", start_widget)


clickable = "start" not in hidden
boxes = sum(map(bool, [*notes, lesson])) + sum(p.trace.diverged_at is not None for p in paths)    # message boxes above the plot
st.plotly_chart(present.fit(view.race_figure("contour", rkey, 25 if clickable else 0), notes=boxes), key=f"{KEY}.contour", width="stretch", theme=None,
                on_select=_clicked if clickable else "ignore", selection_mode="points")
st.caption(f"{surf.watch} ▶ Play animates all racers together" + (" · click the plot to start there." if clickable else "."))
st.plotly_chart(view.race_figure("loss", rkey), key=f"{KEY}.loss", width="stretch", theme=None)


@st.fragment
def results(race, traces, surf) -> None:
    """The results table; moving the tolerance reruns only this part."""
    st.subheader("Results")
    tol = param_widget(TOL, view.float_param("tol", DEFAULT_TOL, TOL.low, TOL.high), f"{KEY}.tol",
                       label="tolerance for “arrived” (f − f* ≤ tol)", container=st.columns([1, 2])[0])
    view.set_param("tol", None if tol == DEFAULT_TOL else f"{tol:g}")
    st.table(view.results_rows(race_results(traces, race.labels(), surf, tol)))
    fs = f_star(surf)
    if fs is not None:
        st.caption(predict_view.race_ask_link(race.to_dict(), tol))
    st.caption("f* is " + (f"{fs:.6g}, the lowest listed minimum." if fs is not None else "unknown for this surface, so no "
                           "run can be judged to have arrived.") + " Distances are to the listed minimum nearest the end point.")


@st.fragment
def tuning(race, paths, rkey: str, fs) -> None:
    """The stated protocol, its grid controls and its results; editing the grid reruns only this part."""
    st.subheader(":material/tune: Tune learning rates")
    tune = view.tune_param(TUNE)
    c1, c2, c3, c4 = st.columns(4)
    low = param_widget(LR, tune["low"], f"{KEY}.tune.low", label="lowest lr", container=c1)
    high = param_widget(LR, tune["high"], f"{KEY}.tune.high", label="highest lr", container=c2)
    per_decade = c3.slider("lrs per factor of 10", 1, 6, int(tune["per_decade"]), key=f"{KEY}.tune.per_decade")
    objective = c4.radio("judge each run by", list(OBJECTIVES), index=list(OBJECTIVES).index(tune["objective"]),
                         key=f"{KEY}.tune.objective", format_func=lambda k: OBJECTIVES[k])
    tune = {"low": low, "high": high, "per_decade": per_decade, "objective": objective}
    view.set_param("tune", None if tune == TUNE else json.dumps(tune, separators=(",", ":")))
    try:
        protocol = TuneProtocol(lr_grid(low, high, per_decade), race.base.steps, race.base.seed, objective)
    except ConfigError as e:
        st.error(f"This lr grid can't run: {view.md(e.message)}", icon=":material/block:")
        return
    st.markdown(f"**Protocol.** For every racer, {protocol.describe()} Each lr is its own torch run (lr is a per-group "
                "setting, so one optimizer cannot give each start its own lr); runs are cached, so asking again is instant.")
    zoo_query = {"v": VERSION, "cfg": json.dumps({"problem": race.base.to_dict()["problem"], "steps": race.base.steps},
                                                 separators=(",", ":")),
                 "zoo": json.dumps(list(dict.fromkeys(e.name for e in race.entries)), separators=(",", ":"))}
    st.caption(f"To compare optimizers each at its own tuned lr, with the rest at their defaults — and pytorch-optimizer's "
               f"Lion, Prodigy, Adan, … too — open [these optimizers in the Zoo]({predict_view.page_link('zoo?' + urlencode(zoo_query))}).")
    tkey = json.dumps([rkey, tune], sort_keys=True)
    done = st.session_state.get(f"{KEY}.tuned")
    n, k = len(protocol.lrs), len(race.entries)
    guess = n * sum(p.trace.seconds for p in paths)     # each racer's own run, once per lr (large lrs may cost more)
    if st.button(f"Run the tuning: {k} racers × {n} learning rates (about {max(1, round(guess))} s)", key=f"{KEY}.tune.run",
                 type="primary"):
        bar = st.progress(0.0, text="tuning…")
        found = [tune_entry(c, protocol, label, cached_run,
                            lambda j, i=i, label=label: bar.progress((i * n + j) / (k * n), text=f"tuning {label}…"))
                 for i, (c, label) in enumerate(zip(race.configs(), race.labels(), strict=True))]
        bar.empty()
        done = st.session_state[f"{KEY}.tuned"] = (tkey, tuple(found))
    if done and done[0] == tkey:
        found = done[1]
        st.plotly_chart(view.tuning_figure(tkey, found, tuple(paths), objective, fs), key=f"{KEY}.tune.fig",
                        width="stretch", theme=None)
        st.table([{"optimizer": r.label, "best lr": "all diverged" if r.best_lr is None else f"{r.best_lr:g}",
                   "its score": f"{r.best_score:.4g}", "lr raced above": f"{e.options['lr']:g}", "time": f"{r.seconds:.2f} s",
                   "note": r.edge_note()}
                  for r, e in zip(found, race.entries, strict=True)])
        for r in found:
            if r.edge is not None:
                st.warning(f"**{view.md(r.label)}**: the {view.md(r.edge_note())}.", icon=":material/warning:")
        if st.button("Race again with the tuned learning rates", key=f"{KEY}.tune.use"):
            view.use_lrs(KEY, race, [r.best_lr for r in found])
            st.rerun(scope="app")


results(race, traces, surf)
tuning(race, paths, rkey, f_star(surf))

write_config(race.base, DEFAULT.base, hide=",".join(sorted(hidden)), lesson=lesson,
             race=None if race.entries == DEFAULT.entries else json.dumps(race.entries_json(), separators=(",", ":")),
             tol=st.query_params.get("tol"), tune=st.query_params.get("tune"))
