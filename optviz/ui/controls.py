"""Sidebar control blocks shared by the surface pages, drawn from the registries' specs.

Each block starts from a Config part (what the URL said), honours the lesson's hidden controls, and returns the
plain JSON that `parse_config` validates. Widget keys are ``<page key>.<block>...`` so a page can reset them all.
"""
from __future__ import annotations

from typing import Any

import streamlit as st

from optviz.core.config import GROUP_NAMES, Config, OptimizerChoice, Problem, SchedulerChoice
from optviz.core.config import MAX_STEPS as MAX_CONFIG_STEPS
from optviz.core.engine import surface_of
from optviz.core.expr import MAX_EXPRESSION_LENGTH
from optviz.core.optimizers import OPTIMIZERS, get_optimizer
from optviz.core.schedulers import SCHEDULERS
from optviz.core.specs import Param
from optviz.core.surfaces import SURFACES
from optviz.ui.widgets import optimizer_select, options_widgets, param_widget, scheduler_select

CUSTOM = "custom"
MAX_UI_STEPS = 1000
STEPS = Param("steps", "int", 200, "How many times optimizer.step() is called.", 1, MAX_UI_STEPS)
NOISE = Param("noise", "float", 0.0, "Mini-batch noise: σ of the Gaussian added to every gradient (seeded).",
              0.01, 100.0, log=True)
SEED = Param("seed", "int", 0, "Seed of the gradient noise: the same seed gives the same run.", 0, 2**31 - 1)


def _surface_label(k: str) -> str:
    if k == CUSTOM:
        return "Your own formula f(x, y)"
    return "Quadratic (your λ₁, λ₂, angle)" if k == "quadratic" else SURFACES[k].label


def problem_controls(problem: Problem, key: str, hidden: set[str], container=st) -> dict:
    """Surface (or a typed formula, in a form so typing does not rerun), its options, start point and noise σ."""
    current = CUSTOM if problem.expression is not None else problem.surface
    names = [*SURFACES, CUSTOM]
    surface = current
    if "surface" not in hidden:
        surface = container.selectbox("surface", names, index=names.index(current), key=f"{key}.surface",
                                      format_func=_surface_label, help="A classic test function, or type your own f(x, y).")
    out: dict[str, Any] = {"noise": problem.noise}
    if surface == CUSTOM:
        out.update(_expression_form(problem, key, hidden, container))
    else:
        out["surface"] = surface
        if surface == "quadratic":
            out["options"] = _quadratic_options(problem.options if current == "quadratic" else {}, key, hidden, container)
    default_start = problem.start if surface == current and problem.start is not None else None
    out["start"] = start_controls(out, default_start, key, hidden, container)
    if "noise" not in hidden:
        out["noise"] = param_widget(NOISE, problem.noise, f"{key}.noise", label="gradient noise σ", container=container)
    return out


def _expression_form(problem: Problem, key: str, hidden: set[str], container) -> dict:
    text = problem.expression or "x**2 + 10*y**2"
    (x0, x1), (y0, y1) = problem.domain or ((-3.0, 3.0), (-3.0, 3.0))
    if "expression" in hidden:
        return {"expression": text, "domain": [[x0, x1], [y0, y1]]}
    form = container.form(f"{key}.expression_form", border=True)
    # the box holds what the parser accepts, so a link's formula is never cut; the browser drops text pasted past it
    text = form.text_input("f(x, y) =", text, key=f"{key}.expression", max_chars=MAX_EXPRESSION_LENGTH,
                           help="Python-style formula in x and y: + - * / **, sin, cos, exp, log, sqrt, abs, pi, e … "
                                f"(at most {MAX_EXPRESSION_LENGTH} characters)")
    if len(text) >= MAX_EXPRESSION_LENGTH:
        form.warning(f"The formula fills the box's {MAX_EXPRESSION_LENGTH} characters: anything typed or pasted past "
                     "that was dropped. Check its end.", icon=":material/warning:")
    c1, c2 = form.columns(2)
    x0 = c1.number_input("x from", value=float(x0), key=f"{key}.domain.x0", format="%g")
    x1 = c2.number_input("x to", value=float(x1), key=f"{key}.domain.x1", format="%g")
    y0 = c1.number_input("y from", value=float(y0), key=f"{key}.domain.y0", format="%g")
    y1 = c2.number_input("y to", value=float(y1), key=f"{key}.domain.y1", format="%g")
    form.form_submit_button("Use this formula", key=f"{key}.expression_submit")
    return {"expression": text, "domain": [[x0, x1], [y0, y1]]}


def _quadratic_options(options: dict, key: str, hidden: set[str], container) -> dict:
    l1, l2 = options.get("eigenvalues", (1.0, 10.0))
    angle = float(options.get("angle", 30.0))
    cx, cy = options.get("center", (0.0, 0.0))
    if "quadratic" in hidden:
        return {"eigenvalues": [l1, l2], "angle": angle, "center": [cx, cy]}
    c1, c2 = container.columns(2)
    l1 = c1.number_input("eigenvalue λ₁", value=float(l1), key=f"{key}.quad.l1", format="%g",
                         help="Curvature along the first axis; one negative eigenvalue makes a saddle.")
    l2 = c2.number_input("eigenvalue λ₂", value=float(l2), key=f"{key}.quad.l2", format="%g")
    angle = container.slider("rotation (degrees)", -90.0, 90.0, angle, 5.0, key=f"{key}.quad.angle")
    return {"eigenvalues": [l1, l2], "angle": angle, "center": [cx, cy]}


def start_key(key: str, problem: dict) -> str:
    """Start inputs are keyed by surface, so a new surface starts at its own default point."""
    return f"{key}.start.{problem.get('surface', CUSTOM)}"


def start_controls(problem: dict, start, key: str, hidden: set[str], container=st) -> list[float] | None:
    """The start point; None when it is the surface's own default start (short links, presets compare equal)."""
    try:
        default = surface_of(Config(problem=Problem(**_problem_kwargs(problem)))).start
    except (ValueError, TypeError):
        default = (1.0, 1.0)
    start = default if start is None else start
    if "start" not in hidden:
        k = start_key(key, problem)
        c1, c2 = container.columns(2)
        start = (c1.number_input("start x", key=_initial(f"{k}.x", float(start[0])), format="%.4g", step=0.1,
                                 help="Or click on the contour plot to start there."),
                 c2.number_input("start y", key=_initial(f"{k}.y", float(start[1])), format="%.4g", step=0.1))
    return None if tuple(map(float, start)) == tuple(map(float, default)) else [float(start[0]), float(start[1])]


def _initial(key: str, value: Any) -> str:
    """Seed a widget's value through st.session_state (so callbacks may move it) and return its key."""
    if key not in st.session_state:
        st.session_state[key] = value
    return key


def _problem_kwargs(problem: dict) -> dict:
    if problem.get("expression") is not None:
        d = problem.get("domain")
        return {"expression": problem["expression"], "domain": tuple(map(tuple, d)) if d else None}
    return {"surface": problem["surface"], "options": problem.get("options") or {}}


def set_start(start_widget: str, x: float, y: float) -> None:
    """Move the start inputs (used by a click on the contour, in a callback before the widgets are drawn)."""
    st.session_state[f"{start_widget}.x"] = float(x)
    st.session_state[f"{start_widget}.y"] = float(y)


def start_on_click(chart_key: str, start_widget: str):
    """The on_select callback of a clickable contour (st.plotly_chart key ``chart_key``): the clicked point, rounded to
    3 decimals, becomes the start."""
    def clicked() -> None:
        points = (st.session_state.get(chart_key) or {}).get("selection", {}).get("points", [])
        if points:
            set_start(start_widget, round(points[0]["x"], 3), round(points[0]["y"], 3))

    return clicked


def optimizer_controls(choice: OptimizerChoice, key: str, hidden: set[str], container=st, groups: bool = True,
                       label: str = "optimizer") -> dict:
    """The optimizer, every hyperparameter from its spec, and optional per-group (x / y) overrides."""
    name = choice.name
    if "optimizer" not in hidden or name not in OPTIMIZERS:  # a link's Custom optimizer has its own page: pick one here
        name = optimizer_select(choice.name, key=f"{key}.name", container=container, label=label, external=True)
    spec = OPTIMIZERS[name] if name in OPTIMIZERS else get_optimizer(name)
    if spec.source != "torch":
        container.caption("".join(f"**{b}** · " for b in spec.badges) + f"{spec.summary} {spec.note}")
    same = name == choice.name
    values = choice.options if same else spec.defaults()
    options = options_widgets(spec.params, values, key=f"{key}.{name}", hidden=hidden, container=container)
    out: dict[str, Any] = {"name": name, "options": options}
    current = choice.groups if same else None
    if not groups or "groups" in hidden:
        if current is not None and same:
            out["groups"] = current
        return out
    if not spec.groups_ok:
        container.caption(f"ⓘ {spec.note}")
        return out
    on = container.toggle("separate groups for x and y", value=current is not None, key=f"{key}.{name}.groups_on",
                          help="Make x and y two parameter groups, each with its own options — "
                               "like optim.SGD([{'params': x, 'lr': …}, {'params': y}], lr=…).")
    if on:
        # y starts at a tenth of the lr, as in the seed's example: visibly slower, and never less stable than the lr itself
        out["groups"] = _group_overrides(spec, current or {"x": {}, "y": {"lr": float(f"{options['lr'] / 10:.6g}")}}, options,
                                         f"{key}.{name}", hidden, container)
    return out


def _group_overrides(spec, groups: dict, base: dict, key: str, hidden: set[str], container) -> dict:
    names = [p.name for p in spec.params if p.per_group]
    out = {}
    for g in GROUP_NAMES:
        box = container.expander(f"group {g}: its own options", expanded=True)
        given = groups.get(g, {})
        chosen = box.multiselect(f"override in group {g}", names, default=[n for n in names if n in given],
                                 key=f"{key}.group.{g}.names", help="Unset options fall back to the defaults above.")
        values = {n: given.get(n, base.get(n)) for n in chosen}
        params = [spec.param(n) for n in chosen]
        out[g] = options_widgets(params, values, key=f"{key}.group.{g}", hidden=hidden, container=box)
    return out


def scheduler_controls(choice: SchedulerChoice | None, key: str, hidden: set[str], container=st,
                       lr: float | None = None) -> dict | None:
    """An lr scheduler from torch.optim.lr_scheduler with its options, stepped per epoch or per optimizer step.
    A newly picked scheduler starts from its defaults, its lr-valued options relative to the optimizer's ``lr``."""
    name = None if choice is None else choice.name
    if "scheduler" in hidden:
        return None if choice is None else _scheduler_dict(choice)
    name = scheduler_select(name, key=f"{key}.name", container=container)
    if name is None:
        return None
    spec = SCHEDULERS[name]
    same = choice is not None and choice.name == name
    values = choice.options if same else spec.defaults(lr)
    params = [p for p in spec.params if not (name == "OneCycleLR" and p.name == "total_steps")]
    options = options_widgets(params, values, key=f"{key}.{name}", hidden=hidden, container=container)
    interval = choice.interval if choice else "epoch"
    spe = choice.steps_per_epoch if choice else 10
    if "interval" not in hidden:
        interval = container.radio("call scheduler.step()", ["epoch", "step"], index=["epoch", "step"].index(interval),
                                   key=f"{key}.interval", horizontal=True,
                                   format_func=lambda v: "once per epoch" if v == "epoch" else "after every optimizer step")
    if "steps_per_epoch" not in hidden and interval == "epoch":
        spe = int(container.number_input("optimizer steps per epoch", 1, 10_000, int(spe), key=f"{key}.steps_per_epoch",
                                          help="Mini-batches per epoch: the scheduler steps once per this many steps."))
    return {"name": name, "options": options, "interval": interval, "steps_per_epoch": spe}


def _scheduler_dict(choice: SchedulerChoice) -> dict:
    return {"name": choice.name, "options": dict(choice.options), "interval": choice.interval,
            "steps_per_epoch": choice.steps_per_epoch}


def steps_control(steps: int, key: str, hidden: set[str], container=st) -> int:
    """The steps slider: 1 … 1,000, reaching further when a link or "One more step" asked for more (up to the cap)."""
    if "steps" in hidden:
        return steps
    k = _initial(f"{key}.steps", steps)
    current = max(1, min(MAX_CONFIG_STEPS, int(st.session_state[k])))
    st.session_state[k] = current
    return container.slider("steps", 1, max(MAX_UI_STEPS, steps, current), key=k, help=STEPS.help)


def seed_control(seed: int, key: str, hidden: set[str], container=st) -> int:
    if "seed" in hidden:
        return seed
    return int(container.number_input("seed", 0, 2**31 - 1, int(seed), key=f"{key}.seed", help=SEED.help))


def step_by(key: str, delta: int) -> None:
    """Callback of the single-step buttons: move the steps slider by ``delta`` (before it is drawn)."""
    k = f"{key}.steps"
    st.session_state[k] = max(1, min(MAX_CONFIG_STEPS, int(st.session_state.get(k, STEPS.default)) + delta))


def step_buttons(key: str, steps: int, plus=st, minus=st) -> None:
    """"One more step" / "One step back", each disabled (saying why) at its end of 1 … MAX_CONFIG_STEPS."""
    last, first = steps >= MAX_CONFIG_STEPS, steps <= 1
    plus.button("One more step", key=f"{key}.step_plus", icon=":material/skip_next:", on_click=step_by, args=(key, 1),
                width="stretch", disabled=last,
                help=f"A run takes at most {MAX_CONFIG_STEPS:,} steps." if last
                else "Run one more optimizer.step() and read what it did on the right.")
    minus.button("One step back", key=f"{key}.step_minus", icon=":material/skip_previous:", on_click=step_by,
                 args=(key, -1), width="stretch", disabled=first,
                 help="The run has a single step: there is no step before it." if first else "Drop the last step of the run.")


def config_controls(config: Config, key: str, hidden: set[str], container=st) -> dict:
    """Every control of a single run, in the sidebar order a lesson reads: problem, optimizer, scheduler, steps."""
    container.subheader("Surface")
    problem = problem_controls(config.problem, f"{key}.problem", hidden, container)
    container.subheader("Optimizer")
    optimizer = optimizer_controls(config.optimizer, f"{key}.optimizer", hidden, container)
    container.subheader("Schedule and length")
    scheduler = scheduler_controls(config.scheduler, f"{key}.scheduler", hidden, container, lr=optimizer["options"].get("lr"))
    steps = steps_control(config.steps, key, hidden, container)
    seed = config.seed if problem.get("noise", 0) == 0 else seed_control(config.seed, key, hidden, container)
    return {"problem": problem, "optimizer": optimizer, "scheduler": scheduler, "steps": steps, "seed": seed}


def entry_controls(entries, key: str, hidden: set[str], container=st, on_remove=None, min_entries: int = 2) -> list[dict]:
    """One expander per racer: its optimizer and every hyperparameter (keys ``<key>.e<i>``), with a remove button."""
    out = []
    for i, e in enumerate(entries):
        name = st.session_state.get(f"{key}.e{i}.name", e.name)
        box = container.expander(f"{i + 1}. {name}", expanded=False, key=f"{key}.e{i}.box")
        out.append(optimizer_controls(e, f"{key}.e{i}", hidden, box, groups=False, label=f"optimizer {i + 1}"))
        if on_remove is not None and len(entries) > min_entries and "racers" not in hidden:
            box.button("Remove this racer", key=f"{key}.e{i}.remove", on_click=on_remove, args=(i,))
    return out


def reset_widgets(key: str) -> None:
    """Forget every widget of a page so the next run draws them from a new config (a preset, a link)."""
    for k in [k for k in st.session_state if isinstance(k, str) and k.startswith(key + ".")]:
        del st.session_state[k]


__all__ = ["config_controls", "entry_controls", "problem_controls", "optimizer_controls", "scheduler_controls", "steps_control",
           "seed_control", "start_controls", "start_key", "start_on_click", "set_start", "step_by", "step_buttons", "reset_widgets"]
