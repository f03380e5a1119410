"""Trajectory Explorer: one torch.optim optimizer on a 2-D surface, seen from the inside."""
import streamlit as st

from optviz.core.codegen import generate_script
from optviz.core.config import ConfigError, parse_config
from optviz.lessons.presets import WATCH
from optviz.ui import explorer_view as view
from optviz.ui import predict_view, present
from optviz.ui.controls import config_controls, start_key, start_on_click, step_buttons
from optviz.ui.routing import inside_navigation
from optviz.ui.runner import cached_run
from optviz.ui.urlstate import hidden_controls, read_config, remember_query, url_tabs, write_config

inside_navigation()
present.start()

KEY = "ex"
DEFAULT = parse_config({"problem": {"surface": "rosenbrock"},
                        "optimizer": {"name": "SGD", "options": {"lr": 1e-3, "momentum": 0.9}}, "steps": 200})
TABS = {"loss": ":material/trending_down: Loss", "lr": ":material/tune: lr & momentum",
        "state": ":material/memory: Optimizer state", "surface3d": ":material/landscape: 3-D surface",
        "evaluations": ":material/repeat: Evaluations per step", "code": ":material/code: Code & data"}

st.title(":material/explore: Trajectory Explorer")
present.intro("One **real `torch.optim`** optimizer steps a point `(x, y)` downhill. The arrows show what `step()` "
            "used at each point — the gradient and torch's own state (momentum buffer, Adam's `exp_avg`) — and every "
            "setting lives in the address bar, so a link reproduces exactly this run.")

notes = [view.take_preset_link("explorer", KEY)]
config, warning = read_config(DEFAULT, carry=("problem", "optimizer"))   # no query: where this session left off
notes.append(warning)
hidden = hidden_controls()
with st.sidebar:
    if hidden:
        st.caption(f"This lesson hides: {', '.join(sorted(hidden))}.")
        st.button("Show all controls", key=f"{KEY}.show_all", on_click=view.show_all_controls)
    raw = config_controls(config, KEY, hidden)
for note in filter(None, notes):
    st.warning(view.md(note), icon=":material/link_off:")

try:
    config = parse_config(raw)
except ConfigError as e:
    st.error(f"These settings can't run — **{view.md(e.field or 'settings')}**: {view.md(e.message)}", icon=":material/block:")
    st.stop()

key = config.key()
lesson = view.current_lesson(KEY, "explorer", key)
if not present.on():
    view.presets_block("explorer", KEY, lesson)
view.lesson_note(lesson)

trace = cached_run(config)
if trace.diverged_at is not None:
    st.warning(f"**{view.md(trace.message[:1].upper() + trace.message[1:])}.** The plots show the path up to step {trace.steps}.",
               icon=":material/warning:")
for w in trace.warnings:
    st.caption(f"torch warned: {view.md(w)}")

start_widget = start_key(f"{KEY}.problem", raw["problem"])


_clicked = start_on_click(f"{KEY}.contour", start_widget)


clickable = "start" not in hidden
boxes = sum(map(bool, [*notes, lesson, trace.diverged_at is not None]))    # message boxes above the plot
st.plotly_chart(present.fit(view.contour_figure(key, 25 if clickable else 0), notes=boxes), key=f"{KEY}.contour", width="stretch", theme=None,
                on_select=_clicked if clickable else "ignore", selection_mode="points")
st.caption(f"{trace.message} · {'click the plot to start there · ' if clickable else ''}"
           f"▶ Play animates the path in your browser; hover a point for its step, gradient and state. "
           "Arrows show directions; their length grows with √ of the size (relative to the run's largest).")
st.caption(predict_view.ask_links(config))
c1, c2, c3 = st.columns([1, 1, 3], vertical_alignment="top")
if "steps" not in hidden:
    step_buttons(KEY, config.steps, c1, c2)
with c3.expander(f"Step {trace.steps} in numbers", icon=":material/search:", key=f"{KEY}.last_step"):
    st.markdown(view.last_step_table(trace))

spec = config.optimizer_spec
with st.container(border=True):
    st.markdown(f"**{spec.name}** — {spec.summary} {WATCH.get(spec.name, '')}")
    st.latex(spec.update_rule)


@st.fragment
def figure_tabs(config, trace) -> None:
    """The other figures, one tab each, built only when opened; switching tabs reruns only this part."""
    key = config.key()
    kinds = [k for k in TABS if k != "evaluations" or int(trace.evaluations.max(initial=1)) > 1]
    tab = view.view_option(KEY, "tab", kinds, "loss")
    tabs = url_tabs([TABS[k] for k in kinds], f"{KEY}.tab", TABS[tab])
    for kind, box in zip(kinds, tabs, strict=True):
        if not box.open:
            continue
        tab = kind
        with box:
            if kind == "code":
                script = generate_script(config)
                st.caption("A standalone PyTorch script that reproduces this run and prints its trace as JSON.")
                st.code(script, language="python")
                d1, d2, d3 = st.columns(3)
                d1.download_button("⬇ script (.py)", script, "optviz_run.py", "text/x-python", key=f"{KEY}.dl_py",
                                   on_click="ignore")
                d2.download_button("⬇ trace (.csv)", trace.to_csv, "optviz_trace.csv", "text/csv", key=f"{KEY}.dl_csv",
                                   on_click="ignore")
                d3.download_button("⬇ trace (.json)", trace.to_json, "optviz_trace.json", "application/json",
                                   key=f"{KEY}.dl_json", on_click="ignore")
            else:
                st.plotly_chart(view.single_figure(kind, key), key=f"{KEY}.fig.{kind}", width="stretch", theme=None)
    view.set_param("tab", None if tab == "loss" else tab)
    remember_query(DEFAULT)


figure_tabs(config, trace)
write_config(config, DEFAULT, hide=",".join(sorted(hidden)), lesson=lesson,
             tab=st.query_params.get("tab"))
