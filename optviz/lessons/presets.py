"""Lesson presets (one click or one link each) and, per optimizer, what to watch for on the plots."""
from __future__ import annotations

from dataclasses import dataclass, field

from optviz.core.config import Config, parse_config

from .race import Race, parse_race


@dataclass(frozen=True)
class Preset:
    """A lesson: the page it opens, the settings it loads, one sentence on what to notice, controls it hides."""

    key: str
    title: str
    notice: str
    page: str                         # "explorer" | "race"
    config: dict                      # explorer: a run config; race: {"base": config, "entries": [...]}
    hidden: tuple[str, ...] = ()      # control names a lesson link hides (?hide=...)
    view: dict = field(default_factory=dict)   # page view options, e.g. {"tab": "lr"}

    def load(self) -> Config | Race:
        return parse_race(self.config) if self.page == "race" else parse_config(self.config)

    def url(self) -> str:
        return f"{self.page}?preset={self.key}"


def _sgd(lr: float, **kw) -> dict:
    return {"name": "SGD", "options": {"lr": lr, **kw}}


ROSENBROCK = {"surface": "rosenbrock"}

PRESETS: dict[str, Preset] = {p.key: p for p in [
    Preset("momentum_overshoot", "Momentum overshoots Rosenbrock's valley",
           "The momentum arrow keeps pointing the old way: the path swings past the curved valley floor and back "
           "before it turns toward (1, 1) — compare momentum 0 with the same lr, which has barely left the start.",
           "explorer", {"problem": ROSENBROCK, "optimizer": _sgd(1e-3, momentum=0.9), "steps": 300}),
    Preset("nesterov_vs_classical", "Nesterov vs classical momentum",
           "Same lr and β: Nesterov evaluates the step after a look-ahead along the buffer, so it brakes earlier in "
           "the bends and ends closer to (1, 1) than classical momentum; plain SGD is far behind.",
           "race", {"base": {"problem": ROSENBROCK, "steps": 300},
                    "entries": [_sgd(1e-3), _sgd(1e-3, momentum=0.9), _sgd(1e-3, momentum=0.9, nesterov=True)]}),
    Preset("adam_on_beale", "Adam on Beale",
           "Adam divides each coordinate's step by √v̂: on Beale's flat plateau it still takes lr-sized steps, "
           "then slows near the minimum (3, 0.5); watch exp_avg (the purple arrow) lag behind the gradient.",
           "explorer", {"problem": {"surface": "beale"}, "optimizer": {"name": "Adam", "options": {"lr": 0.1}},
                        "steps": 300}),
    Preset("lr_too_large", "A learning rate too large diverges",
           "With lr = 0.003 the first steps overshoot the steep walls and every step overshoots more: the run diverges "
           "at step 5. Set lr to 0.002 and the same start converges.",
           "explorer", {"problem": ROSENBROCK, "optimizer": _sgd(3e-3), "steps": 200}, hidden=("optimizer",)),
    Preset("saddle_escape", "Escaping the saddle",
           "Starting almost on the ridge y = 0, the gradient along y is tiny: plain SGD drifts towards the saddle "
           "point before it leaves, momentum accumulates the small push and leaves much sooner, Adam rescales it.",
           "race", {"base": {"problem": {"surface": "saddle"}, "steps": 40},
                    "entries": [_sgd(0.05), _sgd(0.05, momentum=0.9), {"name": "Adam", "options": {"lr": 0.05}}]}),
    Preset("per_group_lrs", "Per-group learning rates: x slow, y fast",
           "x and y are two parameter groups, like optim.SGD([{'params': x}, {'params': y, 'lr': 0.5}], lr=0.02): "
           "y reaches 0 in a few steps while x crawls, so the path bends into an L although the bowl curves "
           "the same way in x and y (λ₁ = λ₂ = 1).",
           "explorer", {"problem": {"surface": "quadratic", "options": {"eigenvalues": [1, 1], "angle": 0}},
                        "optimizer": {**_sgd(0.02), "groups": {"x": {}, "y": {"lr": 0.5}}}, "steps": 100},
           view={"tab": "lr"}),
    Preset("rastrigin_local_minima", "Rastrigin's local minima",
           "From (−2, 3.5) small steps stop in the nearest dip of the egg-box; momentum rolls through a few of "
           "them before it settles; none reaches the global minimum at (0, 0).",
           "race", {"base": {"problem": {"surface": "rastrigin", "start": [-2, 3.5]}, "steps": 300},
                    "entries": [_sgd(2e-3), _sgd(2e-3, momentum=0.95), {"name": "Adam", "options": {"lr": 0.1}}]}),
    Preset("noisy_gradients", "Noisy gradients with and without momentum",
           "Both runs take the same effective step (lr / (1 − β) = 0.02) on gradients with noise σ = 3: momentum "
           "averages the noise over ~10 steps, so its path is smoother than plain SGD's.",
           "race", {"base": {"problem": {"surface": "quadratic", "options": {"eigenvalues": [1, 10], "angle": 30},
                                         "noise": 3.0}, "steps": 200},
                    "entries": [_sgd(0.02), _sgd(2e-3, momentum=0.9)]}),
    Preset("lbfgs_closure", "LBFGS calls the closure many times per step",
           "LBFGS with a strong-Wolfe line search reaches (1, 1) in about 20 step() calls, but each call evaluates "
           "the loss and gradient several times: see the evaluations tab and the hover.",
           "explorer", {"problem": ROSENBROCK, "optimizer": {"name": "LBFGS", "options": {"line_search_fn": "strong_wolfe"}},
                        "steps": 20}, view={"tab": "evaluations"}),
    Preset("one_cycle_momentum", "OneCycleLR cycles momentum too",
           "OneCycleLR raises the lr to max_lr and back down, and by default moves SGD's momentum the opposite way "
           "(0.95 → 0.85 → 0.95): the lr plot shows both, per step.",
           "explorer", {"problem": ROSENBROCK, "optimizer": _sgd(1e-3, momentum=0.9),
                        "scheduler": {"name": "OneCycleLR", "options": {"max_lr": 2e-3}, "interval": "step"},
                        "steps": 300}, view={"tab": "lr"}),
    Preset("step_lr_per_epoch", "StepLR stepped once per epoch",
           "scheduler.step() runs once per epoch of 20 optimizer steps: the lr halves every 3 epochs (dotted lines "
           "are epoch boundaries) and the path slows down in stages.",
           "explorer", {"problem": ROSENBROCK, "optimizer": _sgd(2e-3),
                        "scheduler": {"name": "StepLR", "options": {"step_size": 3, "gamma": 0.5}, "interval": "epoch",
                                      "steps_per_epoch": 20}, "steps": 300}, view={"tab": "lr"}),
    Preset("ill_conditioned_bowl", "Zig-zag in a narrow bowl",
           "Booth's bowl is 9× steeper across its valley than along it: SGD with lr 0.08 overshoots across the valley "
           "at every step and zig-zags (yet arrives first here), while Adam and RMSprop rescale each coordinate and "
           "head almost straight for (1, 3).",
           "race", {"base": {"problem": {"surface": "booth"}, "steps": 100},
                    "entries": [_sgd(0.08), {"name": "Adam", "options": {"lr": 0.3}},
                                {"name": "RMSprop", "options": {"lr": 0.3}}]}),
]}


def presets_for(page: str) -> list[Preset]:
    return [p for p in PRESETS.values() if p.page == page]


# What to watch for on the plots, per torch.optim class (one or two sentences each).
WATCH: dict[str, str] = {
    "SGD": "Without momentum the step is −lr·g: short where the surface is flat, huge on steep walls. With momentum "
           "the purple arrow (−momentum_buffer) carries the path on through bends; Nesterov brakes earlier.",
    "Adam": "The step is about lr in each coordinate whatever the gradient's size, because m̂ is divided by √v̂: "
            "watch exp_avg lag the gradient and exp_avg_sq in the state tab set each axis's scale.",
    "AdamW": "Like Adam, plus weight decay that shrinks θ by lr·weight_decay·θ each step outside the gradient, so "
             "unlike Adam's weight_decay it is not divided by √v̂.",
    "Adagrad": "The sum of squared gradients only grows, so every coordinate's step keeps shrinking: fast at first, "
               "then a crawl — see the state tab's `sum`.",
    "Adadelta": "No real learning rate at first: the step is the ratio of two running RMS values, so it starts tiny "
                "(√ε) and grows; lr = 1 is torch's default.",
    "Adamax": "Adam with a decaying max of |g| instead of an average of g²: steps stay bounded by lr after a spike.",
    "NAdam": "Adam with a Nesterov look-ahead on the first moment: it turns a little earlier than Adam in bends.",
    "RAdam": "For the first few steps the variance estimate is unreliable, so RAdam takes plain momentum steps, then "
             "switches to Adam's rescaled steps: watch the step length change early on.",
    "RMSprop": "Each coordinate's step is divided by the RMS of its recent gradients (square_avg in the state tab): "
               "steep and flat directions move at similar speeds.",
    "Rprop": "Only the gradient's sign matters: each coordinate's step size grows ×1.2 while the sign holds and "
             "halves when it flips — see step_size in the state tab.",
    "ASGD": "Plain SGD steps plus a running average of the iterates (`ax`) that starts at step t0; the path is the "
            "SGD iterate, the average is in the state tab.",
    "LBFGS": "One step() may call the closure many times (line search): the evaluations tab counts them; the path "
             "jumps far along the curvature-corrected direction.",
    "Adafactor": "The step is relative to the parameter's RMS and clipped by the update's RMS: far from the origin it "
                 "takes larger absolute steps.",
    "Muon": "The update is orthogonalised: on a 1×2 point it becomes the momentum direction with length ≈ 0.7 "
            "times lr, so the path moves at nearly constant speed and jitters at the minimum.",
    "SparseAdam": "Adam that only updates coordinates with a non-zero gradient; on a dense 2-D surface it behaves like "
                  "Adam without weight decay.",
}
