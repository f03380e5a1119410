"""Small Nets: a tiny MLP trained by real torch.optim with per-group options, watched epoch by epoch."""
import json

import streamlit as st

from optviz.core.specs import ConfigError
from optviz.figures.nets import runs_of
from optviz.nets.model import default_net_config, parse_net_config
from optviz.nets.netcode import generate_net_script, optimizer_text
from optviz.ui import present
from optviz.ui.explorer_view import md
from optviz.ui.net_controls import compare_controls, net_controls
from optviz.ui.net_state import (
    PLANES,
    boundary_chart,
    cached_landscape,
    cached_train,
    compare_config,
    landscape_chart,
    read_state,
    runs_chart,
    tab_from_query,
    write_state,
)
from optviz.ui.routing import inside_navigation
from optviz.ui.urlstate import url_tabs

inside_navigation()
present.start()

KEY = "nets"
DEFAULT = default_net_config()
TABS = {"boundary": "Decision boundary", "metrics": "Loss & accuracy", "lr": "lr & momentum per group",
        "norms": "Per-group norms", "landscape": "Loss landscape", "code": "Code"}
PLANE_LABELS = {"pca": "PCA of the weight path", "random": "random filter-normalised plane"}

st.title("Small Nets")
present.intro(
    "The seed's own example, made real: an MLP whose hidden layers are `model.base` and whose output layer is "
    "`model.classifier`, each in its **own parameter group** of a real `torch.optim` optimizer. Train it in the canonical "
    "loop (`zero_grad → forward → loss → backward → step`, once per mini-batch) and watch each group learn.")

config, other, plane, notes = read_state(DEFAULT)
tab = tab_from_query(tuple(TABS))
with st.sidebar:
    raw = net_controls(config, KEY)
    st.subheader("Compare")
    compare = st.toggle("compare with a second optimizer", value=other is not None, key=f"{KEY}.compare",
                        help="Same data, same model, same initial weights and batches: only the optimizer differs.")
    raw_b = compare_controls(other, config, f"{KEY}.b") if compare else None
for note in notes:
    st.warning(md(note), icon=":material/link_off:")

try:
    config = parse_net_config(raw)
except ConfigError as e:
    st.error(f"These settings can't run — **{md(e.field or 'settings')}**: {md(e.message)}", icon=":material/block:")
    st.stop()
other = None
if raw_b is not None:
    try:
        other = compare_config(config, raw_b)
    except ConfigError as e:
        st.error(f"The second optimizer can't run — **{md(e.field or 'settings')}**: {md(e.message)}",
                 icon=":material/block:")

if not present.on():     # presentation: the boundary first; the Code tab holds the script
    st.code(optimizer_text(config) + ("" if other is None else "\n# compared with\n" + optimizer_text(other)), language="python")
trace = cached_train(config, "Training")
traces = [trace] if other is None else [trace, cached_train(other, "Training the second optimizer")]
names = [t.config.optimizer.name for t in traces]
labels = names if len(set(names)) == len(names) else [f"{n} ({c})" for n, c in zip(names, "AB", strict=False)]
runs = runs_of(traces, labels)
for r in runs:
    tr = r.trace
    if tr.diverged_at is not None:
        st.warning(f"**{r.label}: {md(tr.message)}.** The plots show the {tr.epochs} epochs before it.",
                   icon=":material/warning:")
    else:
        st.caption(f"**{r.label}**: {tr.message} · {tr.seconds:.2f} s")
    for w in tr.warnings:
        st.caption(f"torch warned: {md(w)}")

tab_names = list(TABS)
tabs = url_tabs([TABS[k] for k in tab_names], f"{KEY}.tab", TABS[tab])
for kind, box in zip(tab_names, tabs, strict=True):
    if not box.open:
        continue
    tab = kind
    with box:
        if kind == "boundary":
            cols = st.columns(len(runs))
            for col, r in zip(cols, runs, strict=True):
                col.plotly_chart(present.fit(boundary_chart(r.trace, height=620 if len(runs) == 1 else 520), above=70, notes=len(notes)), width="stretch",
                                 key=f"{KEY}.boundary.{r.label}", theme=None)
                if len(runs) > 1:
                    col.caption(f"**{r.label}**")
            shown = ("the red line is the net's prediction over x" if config.dataset.regression
                     else "colour: the class the net predicts, paler where it is unsure")
            st.caption(f"{shown.capitalize()}; ● training points, ✕ test points. ▶ Play replays the epochs in your browser.")
        elif kind == "metrics":
            st.plotly_chart(runs_chart("metrics", runs), width="stretch", key=f"{KEY}.metrics", theme=None)
        elif kind == "lr":
            st.plotly_chart(runs_chart("lr", runs), width="stretch", key=f"{KEY}.lr", theme=None)
            st.caption("Read from `optimizer.param_groups` before every step: each group keeps its own lr, while the "
                       "keyword arguments (momentum, betas, …) apply to every group that does not override them — "
                       "where the groups share a value, their lines lie on top of each other.")
        elif kind == "norms":
            st.plotly_chart(runs_chart("norms", runs), width="stretch", key=f"{KEY}.norms", theme=None)
            st.caption("Norms over each submodule's tensors: the gradient `backward()` left, the change `step()` made, "
                       "and every tensor torch keeps in `optimizer.state` (momentum buffer, Adam's `exp_avg`, …).")
        elif kind == "landscape":
            plane = st.radio("plane", PLANES, index=PLANES.index(plane), key=f"{KEY}.plane", horizontal=True,
                             format_func=PLANE_LABELS.get)
            land = cached_landscape(config, other, plane, tuple(labels))
            st.plotly_chart(landscape_chart(land, runs), width="stretch", key=f"{KEY}.landscape", theme=None)
            st.caption(f"The training loss on the plane through the final weights of {labels[0]} (★; ○ the start). "
                       f"The two directions hold {100 * land.explained.sum():.1f} % of the path's variance: "
                       + ("a PCA plane shows the path faithfully." if plane == "pca" else
                          "a random plane sees almost none of the path — which is why Li et al. project on the PCA plane."))
        else:
            for r in runs:
                script = generate_net_script(r.trace.config)
                with st.expander(f"Standalone script for {r.label}", expanded=len(runs) == 1):
                    st.caption("Reproduces this training exactly and prints the metrics of every epoch as JSON.")
                    st.code(script, language="python")
                    c1, c2 = st.columns(2)
                    c1.download_button("⬇ script (.py)", script, f"small_net_{r.label[0]}.py", "text/x-python",
                                       key=f"{KEY}.dl.{r.label}", on_click="ignore")
                    c2.download_button("⬇ metrics (.json)", json.dumps(r.trace.metrics()), f"small_net_{r.label[0]}.json",
                                       "application/json", key=f"{KEY}.dl_json.{r.label}", on_click="ignore")

write_state(config, DEFAULT, other, plane, None if tab == tab_names[0] else tab)
st.markdown(
    "**What to look for.** By default `model.classifier` runs at a tenth of the base's lr: its update norm stays about ten "
    "times smaller, while `momentum=0.9`, a keyword argument, applies to both groups. Compare with Adam: its updates are "
    "scaled per coordinate, so their size follows the lr rather than the gradient. LBFGS takes one full-batch "
    "`step(closure)` per epoch and calls the closure many times inside it. On the PCA plane the path is drawn faithfully; "
    "a random plane sees almost none of it.")
