"""Predict, then reveal: a question is data (kind, prompt, configs, explanation); its answer and the learner's score
are functions of the real runs (torch.optim, torch.optim.lr_scheduler, the Pitfalls Lab's loops), never a typed key.

Kinds and how the answer is read from the runs:

- **fate**: one run config. *diverges*: the engine stopped the run (a non-finite loss or a point far outside the
  plot) or the loss ends higher than it started. *converges*: the surface's gradient at the last point is at most
  ``CONVERGED`` (1e-3) times the one at the start. *oscillates*: neither, and over the last half of the steps the
  loss rose on at least one step in five or the path turned back (by more than 90°) on at least one step in three.
  Anything else (a slow, straight crawl) has no fate within the run's steps, and no question is made of it.
- **where**: one run config; the answer is the point after its ``steps`` steps. A guess scores by its distance
  relative to the plot's span: full marks on the point, none from a quarter of the span on, right within a tenth.
- **race**: a race (``{"base", "entries"}``); the answer is the racer whose loss first comes within ``tol`` of f*
  (``optviz.lessons.race``), or none of them; racers that arrive at the same step all count as right.
- **curve**: a Scheduler Lab setup and candidate setups drawn as curves A, B, …; the answer is the candidate whose
  real lr (or momentum) curve equals the asked setup's.
- **code**: a Pitfalls Lab pitfall, one of its loops and one of its plotted series; the answer is the loop whose real
  run draws that series (the loops are run again and compared).
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable
from urllib.parse import urlencode

import numpy as np

from optviz.core.config import Config, ConfigError, parse_config
from optviz.core.engine import run, surface_of
from optviz.core.optimizers import get_optimizer
from optviz.core.schedulers import get_scheduler
from optviz.core.trace import Trace

from .pitfalls import PITFALLS, Outcome
from .race import DEFAULT_TOL, Race, parse_race, race_results
from .schedlab import Schedule, parse_setup, run_schedule

KINDS = ("fate", "where", "race", "curve", "code")
FATES = ("converges", "oscillates", "diverges")
NONE = "none of them"
CONVERGED = 1e-3          # fate: ‖∇f‖ at the end ≤ this × ‖∇f‖ at the start
ROSE, TURNED = 0.2, 1 / 3  # fate: shares of the last half's steps where the loss rose / the path turned back
WHERE_ZERO = 0.25         # where: no points from this fraction of the plot's span on
WHERE_RIGHT = 0.1         # where: counts as right within this fraction of the span
CURVE_RTOL = 1e-9
LETTERS = "ABCDEF"
LINKS = ("explorer", "race", "scheduler_lab", "pitfalls")


# -- records ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Question:
    """One question. ``configs`` by kind: fate/where: (run config,); race: (race,); curve: (asked setup, candidate
    A, candidate B, …); code: ({"pitfall", "loop", "series"},). ``shown``: steps drawn before the answer (fate, where)."""

    id: str
    sequence: str
    kind: str
    prompt: str
    configs: tuple[dict, ...]
    explanation: str                  # two sentences, shown with the answer
    choices: tuple[str, ...] = ()     # fate: FATES; race: racers + NONE; curve: curve A, …; code: loop A, …
    link: str = "explorer"            # the page that opens the same run: explorer, race, scheduler_lab, pitfalls
    shown: int = 0
    tol: float = DEFAULT_TOL          # race
    series: str = "lr"                # curve: "lr" or "momentum"

    def to_dict(self) -> dict:
        return {**asdict(self), "configs": [dict(c) for c in self.configs], "choices": list(self.choices)}

    @classmethod
    def from_dict(cls, data: dict) -> "Question":
        return cls(**{**data, "configs": tuple(data["configs"]), "choices": tuple(data.get("choices", ()))})

    def key(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


@dataclass(frozen=True)
class Answer:
    """What the runs say: a choice, or the point (where); ``accepted``: every choice that scores as right."""

    value: str | tuple[float, float]
    because: str                           # one sentence with the run's numbers
    accepted: tuple[str, ...] = ()
    facts: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        value = list(self.value) if isinstance(self.value, tuple) else self.value
        return {"value": value, "because": self.because, "accepted": list(self.accepted), "facts": self.facts}


@dataclass(frozen=True)
class Score:
    points: float        # 0 to 1
    right: bool
    text: str


# -- building questions -------------------------------------------------------------------------------------

def fate_question(id: str, sequence: str, prompt: str, config: dict, explanation: str, shown: int = 3) -> Question:
    return Question(id, sequence, "fate", prompt, (config,), explanation, FATES, "explorer", shown)


def where_question(id: str, sequence: str, prompt: str, config: dict, explanation: str, shown: int = 0) -> Question:
    return Question(id, sequence, "where", prompt, (config,), explanation, (), "explorer", shown)


def race_question(id: str, sequence: str, prompt: str, race: dict, explanation: str, tol: float = DEFAULT_TOL) -> Question:
    return Question(id, sequence, "race", prompt, (race,), explanation, (*parse_race(race).labels(), NONE), "race", tol=tol)


def curve_question(id: str, sequence: str, prompt: str, asked: dict, candidates: list[dict], explanation: str,
                   series: str = "lr") -> Question:
    choices = tuple(f"curve {LETTERS[i]}" for i in range(len(candidates)))
    return Question(id, sequence, "curve", prompt, (asked, *candidates), explanation, choices, "scheduler_lab", series=series)


def code_question(id: str, sequence: str, prompt: str, pitfall: str, loop: int, series: int, explanation: str) -> Question:
    choices = tuple(f"loop {LETTERS[i]}" for i in range(len(PITFALLS[pitfall].snippets)))
    return Question(id, sequence, "code", prompt, ({"pitfall": pitfall, "loop": loop, "series": series},), explanation,
                    choices, "pitfalls")


# -- what a run shows -----------------------------------------------------------------------------------------

def plot_span(config: Config) -> float:
    """The plot's span: the larger side of the surface's plotted domain."""
    (x0, x1), (y0, y1) = surface_of(config).domain
    return max(x1 - x0, y1 - y0)


def fate_of(trace: Trace) -> tuple[str | None, str]:
    """converges / oscillates / diverges by the criteria in the module's docstring (None: none of them), and why."""
    n, losses = trace.steps, trace.losses
    if trace.diverged_at is not None:
        return "diverges", f"{trace.message[:1].upper()}{trace.message[1:]}."
    if losses[-1] > losses[0]:
        return "diverges", f"After {_steps(n)} the loss is {losses[-1]:.3g}, higher than the {losses[0]:.3g} it started at."
    surface = surface_of(trace.config)
    g0 = math.hypot(*surface.value_and_grad(*trace.positions[0])[1:])
    gn = math.hypot(*surface.value_and_grad(*trace.positions[-1])[1:])
    ratio = gn / g0 if g0 > 0 else (0.0 if gn == 0 else math.inf)
    if ratio <= CONVERGED:
        return "converges", f"After {_steps(n)} the gradient is {ratio:.1e} times the one at the start (at most {CONVERGED:g} counts as converged)."
    rose, turned = _rose(losses), _turned(trace.positions)
    if rose >= ROSE or turned >= TURNED:
        what = f"the loss rose on {rose:.0%}" if rose >= ROSE else f"the path turned back on {turned:.0%}"
        return "oscillates", (f"After {_steps(n)} it has neither settled (gradient {ratio:.2g} times the start's) nor "
                              f"blown up, and over the last half {what} of the steps.")
    return None, (f"After {_steps(n)} it is still creeping: the gradient is {ratio:.2g} times the start's, and it neither "
                  "bounces nor blows up.")


def _steps(n: int) -> str:
    return "1 step" if n == 1 else f"{n:,} steps"


def _last_half(a: np.ndarray) -> np.ndarray:
    return a[len(a) // 2:]


def _rose(losses: np.ndarray) -> float:
    d = np.diff(_last_half(losses))
    return float(np.mean(d > 0)) if d.size else 0.0


def _turned(positions: np.ndarray) -> float:
    d = np.diff(_last_half(positions), axis=0)
    if len(d) < 2:
        return 0.0
    return float(np.mean(np.einsum("ij,ij->i", d[1:], d[:-1]) < 0))


def first_steps(trace: Trace, k: int) -> Trace:
    """The trace cut to its first ``k`` steps (the half-drawn figure of a question)."""
    k = max(0, min(k, trace.steps))
    return replace(trace, positions=trace.positions[: k + 1], losses=trace.losses[: k + 1], grads=trace.grads[:k],
                   lrs=trace.lrs[:k], momentums=trace.momentums[:k], state={n: v[:k] for n, v in trace.state.items()},
                   evaluations=trace.evaluations[:k], diverged_at=None, message=f"the first {k} steps",
                   probes=None if trace.probes is None else trace.probes[:k])


# -- answers ------------------------------------------------------------------------------------------------------

Runner = Callable[[Config], Trace]


def pitfall_outcome(key: str) -> Outcome:
    return PITFALLS[key].run()


def answer(q: Question, runner: Runner = run, outcome: Callable[[str], Outcome] = pitfall_outcome,
           schedule: Callable[[dict], Schedule] = lambda s: run_schedule(parse_setup(s))) -> Answer:
    """The question's answer, read from its runs (``runner``, ``outcome`` and ``schedule`` let a page pass cached ones)."""
    if q.kind == "fate":
        trace = runner(parse_config(q.configs[0]))
        fate, because = fate_of(trace)
        if fate is None:
            raise ConfigError("fate", because + " Give the run more steps, or ask where it ends.")
        return Answer(fate, because, (fate,), {"steps": trace.steps, "diverged_at": trace.diverged_at})
    if q.kind == "where":
        config = parse_config(q.configs[0])
        trace = runner(config)
        x, y = (float(v) for v in trace.positions[-1])
        return Answer((x, y), f"After {_steps(trace.steps)} the point is at ({x:.3g}, {y:.3g}).", (),
                      {"steps": trace.steps, "span": plot_span(config), "diverged_at": trace.diverged_at})
    if q.kind == "race":
        return race_answer(parse_race(q.configs[0]), q.tol, runner)
    if q.kind == "curve":
        return curve_answer(q, schedule)
    if q.kind == "code":
        return code_answer(q, outcome)
    raise ConfigError("kind", f"unknown kind of question {q.kind!r}; the kinds are {', '.join(KINDS)}")


def race_answer(race: Race, tol: float, runner: Runner = run) -> Answer:
    rows = race_results([runner(c) for c in race.configs()], race.labels(), surface_of(race.base), tol)
    arrived = {r.label: r.first_within for r in rows if r.first_within is not None}
    facts = {"first_within": {r.label: r.first_within for r in rows}, "tol": tol}
    if not arrived:
        return Answer(NONE, f"No racer came within {tol:g} of f* in {race.base.steps} steps.", (NONE,), facts)
    first = min(arrived.values())
    winners = tuple(label for label, t in arrived.items() if t == first)
    others = ", ".join(f"{label} at step {t}" for label, t in sorted(arrived.items(), key=lambda kv: kv[1]) if label not in winners)
    because = (f"{' and '.join(winners)} came within {tol:g} of f* first, at step {first}"
               + (f" ({others})." if others else "; no other racer did."))
    return Answer(winners[0], because, winners, facts)


def curve_values(s: Schedule, series: str) -> np.ndarray:
    return (s.momentums if series == "momentum" else s.lrs)[:, 0]


def curve_answer(q: Question, schedule: Callable[[dict], Schedule]) -> Answer:
    asked, *candidates = (curve_values(schedule(s), q.series) for s in q.configs)
    same = [i for i, c in enumerate(candidates) if c.shape == asked.shape and np.allclose(c, asked, rtol=CURVE_RTOL, atol=0)]
    if len(same) != 1:
        raise ConfigError("configs", f"the asked setup's curve equals {len(same)} of the candidates; a question needs one")
    i = same[0]
    others = [c for j, c in enumerate(candidates) if j != i]
    k = _unlike_all(asked, others)
    where = (f"during step {k + 1} its {q.series} is {asked[k]:.4g}, which no other curve has there" if k is not None
             else f"its {q.series} curve is the only one of this length")
    return Answer(q.choices[i], f"Run with torch, this setup draws {q.choices[i]}: {where}.", (q.choices[i],), {"curve": i})


def _unlike_all(a: np.ndarray, others: list[np.ndarray]) -> int | None:
    """The first step where ``a`` differs from every other curve (None if there is none)."""
    n = min([len(a), *(len(b) for b in others)])
    unlike = np.ones(n, dtype=bool)
    for b in others:
        unlike &= ~np.isclose(a[:n], b[:n], rtol=CURVE_RTOL, atol=0)
    hits = np.flatnonzero(unlike)
    return int(hits[0]) if hits.size else None


def code_series(q: Question, outcome: Callable[[str], Outcome]) -> tuple[np.ndarray, list[np.ndarray]]:
    """The plotted series, and the same series of every loop of the pitfall, from the loops' real runs."""
    c = q.configs[0]
    series = outcome(c["pitfall"]).series[c["series"]]
    return np.asarray(series.values[c["loop"]], dtype=np.float64), [np.asarray(v, dtype=np.float64) for v in series.values]


def code_answer(q: Question, outcome: Callable[[str], Outcome]) -> Answer:
    shown, runs = code_series(q, outcome)
    same = [i for i, v in enumerate(runs) if v.shape == shown.shape and np.array_equal(v, shown, equal_nan=True)]
    if len(same) != 1:
        raise ConfigError("configs", f"{len(same)} of the loops draw this plot; a question needs one")
    pitfall = PITFALLS[q.configs[0]["pitfall"]]
    i = same[0]
    return Answer(q.choices[i], f"Run again, {q.choices[i]} ({pitfall.snippets[i].label}) draws exactly this plot.",
                  (q.choices[i],), {"loop": i})


def runs_of(q: Question) -> list[dict]:
    """The complete run configs behind a fate, where or race question (each one `python -m optviz run` input)."""
    if q.kind in ("fate", "where"):
        return [parse_config(q.configs[0]).to_dict()]
    if q.kind == "race":
        return [c.to_dict() for c in parse_race(q.configs[0]).configs()]
    return []


# -- scoring ------------------------------------------------------------------------------------------------------

def score(q: Question, ans: Answer, guess: Any) -> Score:
    """A committed guess against the answer: a choice is right or wrong; a point scores by distance (see WHERE_*)."""
    if q.kind == "where":
        return score_where(ans, guess)
    right = guess in (ans.accepted or (ans.value,))
    return Score(1.0 if right else 0.0, right, "Right." if right else f"Not this time: the answer is {ans.value}.")


def score_where(ans: Answer, guess: tuple[float, float]) -> Score:
    span = ans.facts["span"]
    d = math.hypot(guess[0] - ans.value[0], guess[1] - ans.value[1])
    if not math.isfinite(d):
        return Score(0.0, False, "That guess is not a point on the plot.")
    rel = d / span
    points = max(0.0, 1.0 - rel / WHERE_ZERO)
    right = rel <= WHERE_RIGHT
    return Score(points, right, f"Your point is {d:.3g} from the real one ({rel:.0%} of the plot's span): "
                                f"{round(100 * points)} of 100 points" + (", close enough." if right else "."))


# -- links and words ---------------------------------------------------------------------------------------------

def link_url(q: Question) -> str:
    """The page that opens the same run (relative URL), with its settings in the query."""
    c = q.configs[0]
    if q.link == "explorer":
        return "explorer?" + urlencode({"v": "1", "cfg": _compact(parse_config(c).to_dict())})
    if q.link == "race":
        race = parse_race(c)
        return "race?" + urlencode({"v": "1", "cfg": _compact(race.base.to_dict()),
                                    "race": _compact(race.entries_json())})
    if q.link == "scheduler_lab":
        return "scheduler_lab?" + urlencode({"lab": _compact(parse_setup(c).to_dict())})
    return "pitfalls?" + urlencode({"pitfall": c["pitfall"]})


def _compact(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), sort_keys=True)


def options_text(name: str, options: dict) -> str:
    """``lr=0.1, momentum=0.9``: the lr, then the options that differ from torch's defaults."""
    defaults = get_optimizer(name).defaults()
    return ", ".join(f"{k}={_num(v)}" for k, v in options.items() if k == "lr" or v != defaults.get(k))


def scheduler_text(name: str, options: dict) -> str:
    """``StepLR(step_size=3, gamma=0.5)``: the options that differ from torch's defaults (lambdas as their text)."""
    spec = get_scheduler(name)
    shown = {p.name: options[p.name] for p in spec.params
             if p.name in options and options[p.name] is not None and (p.default is None or options[p.name] != p.default)}
    return f"{name}({', '.join(f'{k}={_num(v)}' for k, v in shown.items() if not _nested(v))})"


def _nested(v: Any) -> bool:
    return isinstance(v, list) and any(isinstance(x, dict) for x in v)


def _num(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_num(x) for x in v) + "]"
    if isinstance(v, str):
        return repr(v)
    return f"{v:g}" if isinstance(v, float) else str(v)


def describe(config: Config) -> list[tuple[str, str]]:
    """The settings in view while the learner guesses: (what, value) rows."""
    o, p = config.optimizer, config.problem
    rows = [("optimizer", f"torch.optim.{o.name}({options_text(o.name, o.options)})")]
    for g, opts in (o.groups or {}).items():
        if opts:
            rows.append((f"group {g}", ", ".join(f"{k}={_num(v)}" for k, v in opts.items())))
    if config.scheduler is not None:
        s = config.scheduler
        every = "every step" if s.interval == "step" else f"once per epoch of {s.steps_per_epoch} steps"
        rows.append(("scheduler", f"{scheduler_text(s.name, s.options)}, stepped {every}"))
    surface = surface_of(config)
    rows.append(("surface", surface.label + (f": {p.expression}" if p.expression else "")))
    start = p.start if p.start is not None else surface.start
    rows.append(("start", f"({float(start[0]):g}, {float(start[1]):g})"))
    if p.noise:
        rows.append(("gradient noise σ", _num(p.noise)))
    rows.append(("steps", str(config.steps)))
    return rows


def describe_setup(setup: dict) -> list[tuple[str, str]]:
    """The settings of a Scheduler Lab setup, as (what, value) rows."""
    s = parse_setup(setup)
    momentum = f", momentum={_num(s.momentum)}" if s.momentum else ""
    rows = [("optimizer", f"torch.optim.{s.optimizer}(lr={'/'.join(_num(v) for v in s.base_lrs)}{momentum})"),
            ("scheduler", scheduler_text(s.scheduler, s.options)),
            ("loop", f"{s.epochs} epochs of {s.steps_per_epoch} batches"),
            ("scheduler.step()", ("every batch" if s.interval == "step" else "once per epoch")
             + (", before optimizer.step()" if s.order == "scheduler_first" else ", after optimizer.step()"))]
    return rows


def describe_race(race: Race) -> list[tuple[str, str]]:
    """The race's settings: the problem and steps, then one row per racer."""
    rows = [r for r in describe(race.base) if r[0] != "optimizer"]
    for label, e in zip(race.labels(), race.entries, strict=True):
        rows.append((label, f"torch.optim.{e.name}({options_text(e.name, e.options)})"))
    return rows


# -- the teacher's own question --------------------------------------------------------------------------------

ASKABLE = ("fate", "where", "race")


def ask_question(data: Any, kind: str, tol: float = DEFAULT_TOL, runner: Runner = run) -> Question:
    """A question from any Explorer config (fate, where) or race (race), checked to have an answer. ConfigError
    (with a sentence a teacher can act on) when it cannot be asked."""
    if kind not in ASKABLE:
        raise ConfigError("kind", f"a question of your own is one of: {', '.join(ASKABLE)}")
    if kind == "race":
        race = parse_race(data)
        q = race_question("ask", "", f"{race.base.steps} steps on {surface_of(race.base).label}: which racer comes within "
                          f"{tol:g} of the minimum's value first?", race.to_dict(),
                          "Every racer is a real torch.optim run from the same start. The answer is read from their "
                          "losses, step by step.", tol)
        answer(q, runner)
        return q
    config = parse_config(data)
    if config.problem.starts is not None:
        raise ConfigError("problem.starts", "a question follows one start; remove the list of starts")
    text = config.to_dict()
    if kind == "fate":
        q = fate_question("ask", "", f"In {config.steps} steps, does this run converge, oscillate or diverge?", text,
                          "The run is real torch.optim on this surface. Converges: the gradient falls to a thousandth "
                          "of the start's; diverges: the loss ends higher or the run blows up; oscillates: neither, "
                          "while it keeps bouncing.", shown=min(3, config.steps - 1))
    else:
        q = where_question("ask", "", f"Click where the point will be after {config.steps} steps.", text,
                           "The run is real torch.optim on this surface. Your guess scores by its distance from "
                           "the real point, relative to the plot's span.")
    ans = answer(q, runner)
    if kind == "where":
        (x0, x1), (y0, y1) = surface_of(config).domain
        if ans.facts["diverged_at"] is not None:
            raise ConfigError("where", "this run diverges, so it ends nowhere: ask its fate instead")
        if not (x0 <= ans.value[0] <= x1 and y0 <= ans.value[1] <= y1):
            raise ConfigError("where", "this run ends outside the plotted domain, where nobody can click: ask its fate, "
                              "or use fewer steps")
    return q


def ask_query(q: Question) -> dict:
    """The query of a teacher's question link: ``predict?ask=<config>&kind=<kind>`` (and tol for a race)."""
    out = {"ask": _compact(q.configs[0]), "kind": q.kind}
    if q.kind == "race" and q.tol != DEFAULT_TOL:
        out["tol"] = f"{q.tol:g}"
    return out

