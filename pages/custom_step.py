"""Write your own step(): a learner's optimizer, run as a real torch.optim.Optimizer and held against torch's, step by step."""
import json

import streamlit as st

from optviz.core.codegen import generate_script
from optviz.core.config import ConfigError
from optviz.core.custom import CUSTOM, FUNCTIONS, class_code
from optviz.core.surfaces import SURFACES
from optviz.lessons.custom_step import COMPARABLE, DEFAULT_PROBLEM, EXERCISES, TEMPLATES, custom_config, numbers_text, parse_numbers, template_of
from optviz.ui import custom_view, present
from optviz.ui import explorer_view as view
from optviz.ui.routing import inside_navigation
from optviz.ui.urlstate import read_config, write_config

inside_navigation()
present.start()

K = "custom"
OWN = ""                # the template picker's entry for a program that is no template
DEFAULT = custom_config(TEMPLATES["sgd"].program, TEMPLATES["sgd"].options)

st.title(":material/edit_note: Write your own `step()`")
present.intro(
    "An optimizer is a rule for the next point from this one and its gradient. Write that rule **one assignment per "
    "line** — `p` the parameter, `g` its gradient, `t` the step, `lr` and your other numbers — and optviz runs it as a "
    "real `torch.optim.Optimizer` beside the torch optimizer of your choice, on the same surface, and says step by "
    "step whether the two agree.")


def load(program: str, options: dict, compare: str, exercise: str | None = None) -> None:
    """Put a program in the editor (a template, an exercise or a link), with its numbers and its torch optimizer."""
    st.session_state[f"{K}.program"] = program
    st.session_state[f"{K}.numbers"] = numbers_text(options)
    st.session_state[f"{K}.compare"] = compare if compare in COMPARABLE else "SGD"
    st.session_state[f"{K}.exercise"] = exercise or ""
    if (t := template_of(program)) is not None:
        st.session_state[f"{K}.template"] = t.key


def pick_template() -> None:
    t = TEMPLATES.get(st.session_state[f"{K}.template"])
    if t is not None:
        load(t.program, t.options, t.compare)


def pick_exercise() -> None:
    e = EXERCISES.get(st.session_state[f"{K}.exercise"])
    if e is not None:
        load(e.start, e.options, e.compare, e.key)


# -- where the page starts: a link (?cfg=…&compare=…&exercise=…), or where this session left it --------------------------
config, warning = read_config(DEFAULT)
qp = st.query_params
link = (qp.get("cfg"), qp.get("exercise"), qp.get("compare"))
if st.session_state.get(f"{K}.seen") != link:
    if config.optimizer.name != CUSTOM:
        config, warning = DEFAULT, f"This page runs a {CUSTOM} optimizer; the link asks for {config.optimizer.name}."
    exercise = EXERCISES.get(link[1] or "")
    if exercise is not None and link[0] is None:
        load(exercise.start, exercise.options, exercise.compare, exercise.key)
    else:
        t = template_of(config.optimizer.program or "")
        load(config.optimizer.program or "", config.optimizer.options,
             link[2] or (exercise.compare if exercise else t.compare if t else "SGD"), exercise and exercise.key)
    st.session_state[f"{K}.surface"] = config.problem.surface if config.problem.surface in SURFACES else "rosenbrock"
    st.session_state[f"{K}.steps"] = min(max(config.steps, 10), 1000)
if warning:
    st.warning(view.md(warning), icon=":material/link_off:")

# the template picker names the program in the editor: a template, or (once edited) the learner's own
named = template_of(st.session_state.get(f"{K}.program") or "")
if st.session_state.get(f"{K}.template") != (named.key if named else OWN):
    st.session_state[f"{K}.template"] = named.key if named else OWN
with st.sidebar:
    st.header("Your optimizer")
    st.selectbox("start from a template", [OWN, *TEMPLATES], key=f"{K}.template", on_change=pick_template,
                 format_func=lambda k: TEMPLATES[k].label if k in TEMPLATES else "your own program (edited)",
                 help="Loads the template's program and numbers into the editor.")
    st.selectbox("exercise", ["", *EXERCISES], key=f"{K}.exercise", on_change=pick_exercise,
                 format_func=lambda k: EXERCISES[k].title if k else "none")
    compare = st.selectbox("compare with", COMPARABLE, key=f"{K}.compare", format_func=lambda n: f"torch.optim.{n}")
    surf = st.selectbox("surface", list(SURFACES), key=f"{K}.surface", format_func=lambda k: SURFACES[k].label)
    steps = st.slider("steps", 10, 1000, key=f"{K}.steps")

exercise = EXERCISES.get(st.session_state.get(f"{K}.exercise") or "")
if exercise is not None:
    st.info(f"**Exercise — {exercise.title}.** {exercise.task}", icon=":material/school:")
# on a projector the editor and the paths sit side by side under the verdict; on a laptop one above the other
if present.on():
    verdict = st.container()
    edit, show = st.columns([2, 3])
    left = right = edit
else:
    edit, verdict, show = st.container(), st.container(), st.container()
    left, right = edit.columns([3, 2])
program = left.text_area("your step(), one assignment per line", key=f"{K}.program", height=190, max_chars=2000,
                         help="Ctrl+Enter (⌘+Enter) runs it.")
numbers = right.text_input("your numbers (hyperparameters)", key=f"{K}.numbers", max_chars=1000,
                           help="name = number, separated by commas; the program reads them by name.")
right.caption(f"`p` the parameter (the last `p = …` is the update), `g` its gradient, `t` the step from 1, and your numbers. "
              f"Any other name you assign is **state**: it starts at 0 and is kept in `optimizer.state`. "
              f"Functions: {', '.join(f'`{f}`' for f in FUNCTIONS)}; `a if t == 1 else b` chooses.")

try:
    start = DEFAULT_PROBLEM["start"] if surf == DEFAULT_PROBLEM["surface"] else None
    config = custom_config(program, parse_numbers(numbers), {"surface": surf, "start": start}, steps)
except ConfigError as e:
    where = "your numbers" if e.field == "hyperparameters" or e.field.startswith("optimizer.options") else "your program"
    verdict.error(f"**{where} can't run** — {view.md(e.message)}", icon=":material/block:")
    st.stop()
t = template_of(program)
fixed = exercise.fixed if exercise and exercise.compare == compare else t.fixed if t and t.compare == compare else {}
label = t.label if t else "program"
write_config(config, DEFAULT, compare=compare, exercise=exercise.key if exercise else None)
st.session_state[f"{K}.seen"] = (qp.get("cfg"), qp.get("exercise"), qp.get("compare"))
run = (config.key(), compare, json.dumps(fixed, sort_keys=True), label)     # the comparison's cache key, and its figures'
try:
    mine, theirs, result = custom_view.cached_comparison(*run)
except ConfigError as e:
    verdict.error(f"**torch.optim.{compare} can't run with these numbers** — {view.md(e.message)}", icon=":material/block:")
    st.stop()

# -- the verdict, the two paths, the difference per step, the state ------------------------------------------------
if result.equal:
    verdict.success(f"✓ {result.verdict[0].upper() + result.verdict[1:]}." + (" **Exercise solved.**" if exercise else ""),
               icon=":material/check_circle:")
else:
    hint = f" **Hint:** {exercise.hint}" if exercise and exercise.compare == compare else ""
    verdict.error(f"✗ {view.md(result.verdict[0].upper() + result.verdict[1:])}.{hint}", icon=":material/difference:")
if t is not None and t.note:
    verdict.caption(t.note)
if mine.diverged_at is not None:
    verdict.warning(f"Your run: {view.md(mine.message)}.", icon=":material/warning:")

contour, difference, *states = custom_view.comparison_charts(*run)      # built once per comparison, for every session
boxes = 1 + (exercise is not None) + bool(warning) + (mine.diverged_at is not None)     # the verdict and notes above it
show.plotly_chart(present.fit(contour, notes=boxes), width="stretch", key=f"{K}.contour", theme=None)
st.plotly_chart(difference, width="stretch", key=f"{K}.difference", theme=None)
st.caption("The difference is |yours − torch's| (relative where the value is above 1), over the point and every state entry "
           f"both optimizers keep under the same name ({', '.join(result.compared) or 'none here'}).")
for column, fig, who in zip(st.columns(2), states, ("mine", "torch")):
    column.plotly_chart(fig, width="stretch", key=f"{K}.state.{who}", theme=None)

with st.expander("Your step() as a `torch.optim.Optimizer` class", icon=":material/code:"):
    st.code(class_code(program, config.optimizer.options), language="python")
    st.download_button("Download the whole run as a script", generate_script(config), file_name="my_optimizer.py",
                       key=f"{K}.download")
with st.expander("Exercises", expanded=exercise is None, icon=":material/school:"):
    st.markdown("\n".join(f"- [{e.title}](?exercise={e.key}) — {e.task}" for e in EXERCISES.values()))

st.markdown("**What to look for.** Written the way torch writes its update, your program gives torch's numbers bit for bit "
            "(`a - lr * b` is one rounding, like torch's `add_(b, alpha=-lr)`). Written another way that is equal on "
            "paper, it differs in the last digits — and on a curved valley such differences can grow.")
