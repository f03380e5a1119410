"""Sidebar controls of the Small Nets lesson, drawn from the specs: data, model, optimizer with per-group options, training.

Each block starts from a NetConfig part (what the URL said) and returns the plain JSON that `parse_net_config`
validates. Widget keys are ``<page key>.<block>...``; keys that depend on a choice (dataset, optimizer) include it,
so switching starts from that choice's own defaults.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import streamlit as st

from optviz.core.config import OptimizerChoice
from optviz.core.optimizers import OPTIMIZERS
from optviz.nets.datasets import DATASETS, DataChoice
from optviz.nets.model import GROUPS, MODEL_PARAMS, NET_OPTIMIZERS, NET_STARTS, TRAIN_PARAMS, NetConfig
from optviz.ui.controls import scheduler_controls
from optviz.ui.widgets import options_widgets

GROUP_HELP = {"base": "model.base: the hidden layers", "classifier": "model.classifier: the output layer"}


def data_controls(choice: DataChoice, key: str, container=st) -> dict:
    names = list(DATASETS)
    name = container.selectbox("dataset", names, index=names.index(choice.name), key=f"{key}.name",
                               format_func=lambda k: DATASETS[k].label, help="Every dataset is drawn from its seed.")
    spec = DATASETS[name]
    container.caption(spec.summary)
    values = choice.to_dict() if name == choice.name else spec.defaults()
    return {"name": name, **options_widgets(spec.params, values, key=f"{key}.{name}", container=container)}


def model_controls(model, key: str, container=st) -> dict:
    return options_widgets(MODEL_PARAMS, dict(model.__dict__), key=key, container=container)


def optimizer_controls(choice: OptimizerChoice, key: str, container=st, label: str = "optimizer") -> dict:
    """The optimizer, its keyword options (the defaults of every group) and each group's own overrides."""
    names = list(NET_OPTIMIZERS)
    name = container.selectbox(label, names, index=names.index(choice.name) if choice.name in names else 0, key=f"{key}.name",
                               format_func=lambda n: f"{n} — {OPTIMIZERS[n].summary[:50]}",
                               help="Any torch.optim optimizer that suits a net (SparseAdam and Muon need other parameters).")
    spec = OPTIMIZERS[name]
    same = name == choice.name
    values = dict(choice.options) if same else {**spec.defaults(), **NET_STARTS.get(name, {})}
    container.caption("keyword arguments (every group's defaults):")
    options = options_widgets(spec.params, values, key=f"{key}.{name}", container=container)
    out: dict[str, Any] = {"name": name, "options": options, "groups": {g: {} for g in GROUPS}}
    if not spec.groups_ok:
        container.info(f"{name} takes no parameter groups: it runs on `model.parameters()` with one set of options, "
                       "one full-batch `step(closure)` per epoch.", icon=":material/info:")
        return out
    given = (choice.groups or {}) if same else {"classifier": {"lr": options["lr"] / 10}}
    per_group = [p.name for p in spec.params if p.per_group]
    for g in GROUPS:
        box = container.expander(f"group '{g}' — {GROUP_HELP[g]}", expanded=bool(given.get(g)))
        chosen = box.multiselect(f"own options of '{g}'", per_group, default=[n for n in per_group if n in given.get(g, {})],
                                 key=f"{key}.{name}.{g}.names",
                                 help="Options not chosen here fall back to the keyword arguments.")
        vals = {n: given.get(g, {}).get(n, options.get(n)) for n in chosen}
        out["groups"][g] = options_widgets([spec.param(n) for n in chosen], vals, key=f"{key}.{name}.{g}", container=box)
    return out


def schedule_controls(config: NetConfig, key: str, container=st) -> dict | None:
    """Any lr scheduler, stepped once per epoch or after every optimizer step (its steps per epoch follow from the data)."""
    block = scheduler_controls(config.scheduler, key, hidden={"steps_per_epoch"}, container=container)
    if block is not None:
        block.pop("steps_per_epoch", None)
        if block["name"] == "OneCycleLR":
            block["options"].pop("total_steps", None)
    return block


def training_controls(config: NetConfig, n_train: int, key: str, container=st) -> dict:
    """Batch size (capped at the training set), epochs and the seed of the initial weights and of the shuffling."""
    params = [replace(p, high=min(p.high, n_train)) if p.name == "batch_size" else p for p in TRAIN_PARAMS]
    values = {"batch_size": min(config.batch_size, n_train), "epochs": config.epochs, "seed": config.seed}
    return options_widgets(params, values, key=key, container=container)


def net_controls(config: NetConfig, key: str, container=st) -> dict:
    """Every control of a run, in the order a lesson reads: data, model, optimizer, schedule, training."""
    container.subheader("Data")
    data = data_controls(config.data, f"{key}.data", container)
    container.subheader("Model")
    model = model_controls(config.model, f"{key}.model", container)
    container.subheader("Optimizer")
    optimizer = optimizer_controls(config.optimizer, f"{key}.optimizer", container)
    scheduler = schedule_controls(config, f"{key}.scheduler", container)
    container.subheader("Training")
    n_train = data["n_points"] - int(round(data["n_points"] * data["test_fraction"]))
    training = training_controls(config, max(1, n_train), f"{key}.train", container)
    return {"data": data, "model": model, "optimizer": optimizer, "scheduler": scheduler, **training}


def compare_controls(other: NetConfig | None, config: NetConfig, key: str, container=st) -> dict:
    """The second run's optimizer and scheduler (everything else is the first run's)."""
    start = other if other is not None else config.replace(optimizer=OptimizerChoice(
        "Adam", {**OPTIMIZERS["Adam"].defaults(), **NET_STARTS["Adam"]}, {g: {} for g in GROUPS}), scheduler=None)
    return {"optimizer": optimizer_controls(start.optimizer, f"{key}.optimizer", container, label="second optimizer"),
            "scheduler": schedule_controls(start, f"{key}.scheduler", container)}


__all__ = ["net_controls", "compare_controls", "data_controls", "model_controls", "optimizer_controls", "schedule_controls",
           "training_controls"]
