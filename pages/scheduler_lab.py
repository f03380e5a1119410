"""Scheduler Lab: any torch lr scheduler in the real training loop, stepped per epoch and per batch side by side."""
import json
from dataclasses import asdict

import streamlit as st

from optviz.core.optimizers import OPTIMIZERS
from optviz.core.schedulers import SCHEDULERS
from optviz.core.specs import ConfigError
from optviz.core.surfaces import SURFACES
from optviz.figures.lessons import epoch_line_stride, overlay_figure, schedule_figure
from optviz.lessons.schedlab import (
    LAB_OPTIMIZERS,
    MAX_GROUPS,
    MAX_OVERLAYS,
    MOMENTUM_OPTIMIZERS,
    overlay_setup,
    parse_setup,
    run_pair,
    run_schedule,
    setup_from_query,
    setup_to_query,
)
from optviz.ui import present
from optviz.ui.routing import inside_navigation
from optviz.ui.widgets import options_widgets, param_widget

inside_navigation()
present.start()

st.title("Scheduler Lab")
present.intro(
    "`scheduler.step()` changes the learning rate that the **next** `optimizer.step()` calls will use. The seed calls it "
    "once per epoch, in the outer loop, while `optimizer.step()` runs once per mini-batch. Here each curve is read from "
    "torch, in that loop: a point at step *t* is the lr that step *t* ran with.")

DEFAULT = parse_setup({"scheduler": "StepLR", "options": {"step_size": 10, "gamma": 0.5}, "base_lrs": [0.1, 0.01],
                       "epochs": 30, "steps_per_epoch": 10})
GROUP_LRS = (0.1, 0.01, 0.001)
LR = OPTIMIZERS["SGD"].param("lr")


@st.cache_data(max_entries=64, show_spinner=False)
def cached_pair(key: str):
    return run_pair(parse_setup(json.loads(key)))


@st.cache_data(max_entries=128, show_spinner=False)
def cached_overlay(key: str, name: str):
    return run_schedule(overlay_setup(parse_setup(json.loads(key)), name), name)


setup, url_warning = setup_from_query(st.query_params.get("lab"), DEFAULT)
if url_warning:
    st.warning(url_warning)

with st.sidebar:
    st.header("Scheduler")
    names = list(SCHEDULERS)
    name = st.selectbox("lr scheduler", names, index=names.index(setup.scheduler), key="lab.scheduler",
                        help="Every class of torch.optim.lr_scheduler, with all its options.")
    spec = SCHEDULERS[name]
    st.caption(spec.summary)
    values = dict(setup.options) if name == setup.scheduler else {}
    groups = st.slider("parameter groups", 1, MAX_GROUPS, len(setup.base_lrs), key="lab.groups",
                       help="Each group has its own base lr, as in the seed's list of dicts.")
    per_group = False
    if "lr_lambda" in spec.names:
        per_group = st.checkbox("one lambda per group", value=isinstance(values.get("lr_lambda"), list), key="lab.per_group")
    options = options_widgets(spec.params, values, key=f"lab.{name}", hidden={"lr_lambda"} if per_group else set())
    if per_group:
        given = values.get("lr_lambda")
        texts = given if isinstance(given, list) else [spec.param("lr_lambda").initial] * groups
        options["lr_lambda"] = [param_widget(spec.param("lr_lambda"), texts[g] if g < len(texts) else texts[0],
                                             key=f"lab.{name}.lr_lambda.{g}", label=f"lr_lambda, group {g}")
                                for g in range(groups)]
    st.header("Optimizer and loop")
    optimizer = st.selectbox("optimizer", LAB_OPTIMIZERS, index=LAB_OPTIMIZERS.index(setup.optimizer), key="lab.optimizer")
    momentum = setup.momentum
    if optimizer in MOMENTUM_OPTIMIZERS:
        momentum = st.slider("momentum", 0.0, 0.99, float(setup.momentum), 0.01, key="lab.momentum",
                             help="Leave it at 0 and pick CyclicLR or OneCycleLR to see it switched on.")
    base_lrs = [param_widget(LR, setup.base_lrs[g] if g < len(setup.base_lrs) else GROUP_LRS[g], key=f"lab.lr.{g}",
                             label=f"base lr, group {g}") for g in range(groups)]
    epochs = st.slider("epochs", 1, 200, setup.epochs, key="lab.epochs")
    spe = st.slider("steps (batches) per epoch", 1, 50, setup.steps_per_epoch, key="lab.spe")
    order = st.radio("order in the loop", ("optimizer_first", "scheduler_first"), index=int(setup.order == "scheduler_first"),
                     key="lab.order", disabled=spec.needs_metric,
                     format_func=lambda o: "optimizer.step(), then scheduler.step()" if o == "optimizer_first"
                     else "scheduler.step() first (wrong)")
    loss = asdict(setup.loss)
    if spec.needs_metric:
        st.header("The loss it watches")
        loss["source"] = st.radio("loss", ("curve", "surface"), index=int(setup.loss.source == "surface"), key="lab.source",
                                  format_func=lambda s: "a noisy curve you shape" if s == "curve" else "a real run on a surface")
        if loss["source"] == "curve":
            loss["start"] = st.slider("loss at step 0", 0.0, 5.0, float(setup.loss.start), 0.1, key="lab.start")
            loss["floor"] = st.slider("floor it levels off at", 0.0, 5.0, float(setup.loss.floor), 0.05, key="lab.floor")
            loss["tau"] = st.slider("decay time (optimizer steps)", 1.0, 500.0, float(setup.loss.tau), 1.0, key="lab.tau")
            loss["noise"] = st.slider("noise σ", 0.0, 0.5, float(setup.loss.noise), 0.005, key="lab.noise")
        else:
            keys = list(SURFACES)
            loss["surface"] = st.selectbox("surface", keys, index=keys.index(setup.loss.surface), key="lab.surface",
                                           format_func=lambda k: SURFACES[k].label)
            loss["surface_noise"] = st.slider("gradient noise σ", 0.0, 5.0, float(setup.loss.surface_noise), 0.1,
                                              key="lab.snoise")
        loss["seed"] = st.number_input("seed", 0, 2**31 - 1, setup.loss.seed, key="lab.seed")
    st.header("View")
    overlays = st.multiselect("overlay other schedulers", [n for n in names if n != name], max_selections=MAX_OVERLAYS,
                              key="lab.overlays", help="Each with its default options, in the same loop.")
    log_y = st.checkbox("log scale for the lr", key="lab.log")

try:
    setup = parse_setup({"scheduler": name, "options": options, "optimizer": optimizer, "momentum": momentum,
                         "base_lrs": base_lrs, "epochs": epochs, "steps_per_epoch": spe, "order": order, "loss": loss})
    per_epoch, per_batch = cached_pair(setup.key())
except ConfigError as e:
    st.error(f"These settings can't run: {e}")
    st.stop()
query = setup_to_query(setup, DEFAULT)
if st.query_params.get("lab", "") != query:
    if query:
        st.query_params["lab"] = query
    else:
        del st.query_params["lab"]

st.plotly_chart(present.fit(schedule_figure([per_epoch, per_batch], log_y), notes=bool(url_warning)), width="stretch", key="lab.figure", theme=None)
k = min(epochs, 3)
stride = epoch_line_stride(epochs, spe)
lines = {None: "", 1: " Dotted lines mark the epochs."}.get(stride, f" Dotted lines mark every {stride}th epoch.")
st.markdown(
    f"**Per epoch vs per batch.** After {k} epoch{'s' if k > 1 else ''} (optimizer step {k * spe}), group 0 runs at "
    f"lr **{per_epoch.lrs[min(k * spe, per_epoch.steps - 1), 0]:.4g}** when the scheduler steps once per epoch and at "
    f"**{per_batch.lrs[min(k * spe, per_batch.steps - 1), 0]:.4g}** when it steps every batch: the schedule's clock "
    f"ticks {spe}× faster.{lines}")
for note in dict.fromkeys(per_epoch.notes + per_batch.notes):
    (st.warning if note.startswith(("torch", "building")) else st.info)(f"Note: {note}")

if overlays:
    others = [cached_overlay(setup.with_interval("epoch").key(), o) for o in overlays]
    st.plotly_chart(overlay_figure([per_epoch, *others], log_y=log_y), width="stretch", key="lab.overlay", theme=None)
    for o in others:
        for note in o.notes:
            st.caption(f"{o.label}: {note}")

st.subheader("The loop that drew these curves")
for tab, sched in zip(st.tabs(["scheduler.step() per epoch", "scheduler.step() per batch"]), (per_epoch, per_batch), strict=True):
    with tab:
        st.code(sched.code, language="python")
        st.download_button("Download the curve as CSV", sched.to_csv(), file_name=f"{name}_{sched.setup.interval}.csv",
                           mime="text/csv", key=f"lab.csv.{sched.setup.interval}")

st.markdown(
    "**What to look for.** Construction already changes the lr: LinearLR and ConstantLR start at a fraction, CyclicLR "
    "and OneCycleLR ignore the base lrs. CyclicLR and OneCycleLR also cycle momentum (or Adam's β₁) — with SGD at "
    "momentum 0, building them silently turns momentum on. Every group keeps its own base lr under the same schedule.")
