"""The built-in Predict-then-reveal questions, in four short sequences. Only the settings, prompts and explanations
are written here; every answer is computed from the runs by ``optviz.lessons.predict.answer``."""
from __future__ import annotations

from .predict import Question, answer, code_question, curve_question, fate_question, link_url, race_question, runs_of, where_question

SEQUENCES = {"momentum": "momentum", "schedulers": "schedulers", "loop": "the training loop", "adaptive": "adaptive methods"}


def _bowl(eigenvalues=(1, 10), angle=0, noise=0.0) -> dict:
    return {"surface": "quadratic", "options": {"eigenvalues": list(eigenvalues), "angle": angle}, "noise": noise}


def _sgd(lr: float, **kw) -> dict:
    return {"name": "SGD", "options": {"lr": lr, **kw}}


def _lab(scheduler: str, options: dict, epochs: int = 6, **kw) -> dict:
    """A Scheduler Lab setup with one parameter group at lr 0.1 and 10 batches per epoch."""
    return {"scheduler": scheduler, "options": options, "base_lrs": [0.1], "epochs": epochs, "steps_per_epoch": 10, **kw}


STEP_LR = _lab("StepLR", {"step_size": 3, "gamma": 0.5}, epochs=12)
WARMUP = _lab("LinearLR", {"start_factor": 0.25, "total_iters": 3})
ONE_CYCLE = _lab("OneCycleLR", {"max_lr": 0.1}, interval="step", momentum=0.9)
COSINE = _lab("CosineAnnealingLR", {"T_max": 10})

QUESTIONS: dict[str, Question] = {q.id: q for q in [
    # -- momentum ------------------------------------------------------------------------------------------------
    fate_question(
        "momentum_lr", "momentum",
        "Plain SGD diverges on this bowl once lr > 2/λ_max = 0.2. Here lr = 0.3, with momentum 0.9. "
        "In 200 steps, does it converge, oscillate or diverge?",
        {"problem": _bowl(), "optimizer": _sgd(0.3, momentum=0.9), "steps": 200},
        "Heavy-ball momentum is stable while lr·λ < 2(1 + β), here while lr < 0.38, so lr 0.3 converges where plain SGD "
        "could not. The path swings across the bowl a few times before the buffer's memory lets it settle.", shown=0),
    fate_question(
        "nesterov_lr", "momentum",
        "The same bowl, lr 0.3 and momentum 0.9, now with nesterov=True. In 200 steps, does it converge, oscillate or "
        "diverge?",
        {"problem": _bowl(), "optimizer": _sgd(0.3, momentum=0.9, nesterov=True), "steps": 200},
        "Nesterov adds β times the new buffer to the gradient step, which tightens the limit to lr·λ < 2(1 + β)/(1 + 2β) "
        "≈ 1.36, that is lr < 0.136 here. At lr 0.3 each swing along the steep axis is larger than the last, and the run "
        "leaves the plot.", shown=0),
    fate_question(
        "momentum_099", "momentum",
        "SGD with lr 0.01 and momentum 0.99 on a bowl with curvatures 1 and 10. In 100 steps, does it converge, "
        "oscillate or diverge?",
        {"problem": _bowl(), "optimizer": _sgd(0.01, momentum=0.99), "steps": 100},
        "With β = 0.99 the buffer forgets only 1 % per step, so the point keeps circling the minimum and its swings "
        "shrink only by about √0.99 per step. It never blows up, but 100 steps are far too few for it to settle."),
    where_question(
        "momentum_where", "momentum",
        "SGD with lr 0.02 and momentum 0.9 starts at (−2.5, 2) on a tilted bowl. Click where the point is after 20 steps.",
        {"problem": _bowl(angle=30), "optimizer": _sgd(0.02, momentum=0.9), "steps": 20},
        "The buffer keeps adding gradients that point the same way, so the point gathers speed and overshoots: after 20 "
        "steps it is past the minimum, on the far side of the bowl. Plain SGD with the same lr is still on the near side."),
    race_question(
        "nesterov_race", "momentum",
        "SGD with lr 0.001: without momentum, with momentum 0.9, and with Nesterov momentum 0.9, from (−1.5, 2) on "
        "Rosenbrock. Which first comes within 0.001 of f* = 0 (or none, in 1,000 steps)?",
        {"base": {"problem": {"surface": "rosenbrock"}, "steps": 1000},
         "entries": [_sgd(1e-3), _sgd(1e-3, momentum=0.9), _sgd(1e-3, momentum=0.9, nesterov=True)]},
        "Both momentum runs gather speed along Rosenbrock's long curved valley, which plain SGD at this lr never gets "
        "through in 1,000 steps. Nesterov's look-ahead brakes before each bend instead of after it, so it swings less and "
        "arrives first."),
    fate_question(
        "noise_fate", "momentum",
        "SGD with lr 0.05, but every gradient carries Gaussian noise with σ = 3 (like a mini-batch's). In 200 steps, "
        "does it converge, oscillate or diverge?",
        {"problem": _bowl(angle=30, noise=3.0), "optimizer": _sgd(0.05), "steps": 200},
        "Even at the minimum each step is lr times the noise, so the point keeps jittering around it instead of settling. "
        "A smaller lr, or a schedule that lowers it, shrinks the jitter; nothing at a fixed lr removes it."),
    # -- schedulers ------------------------------------------------------------------------------------------------
    curve_question(
        "per_batch_curve", "schedulers",
        "SGD with lr 0.1 and StepLR(step_size=3, gamma=0.5), 10 batches per epoch, 12 epochs — but scheduler.step() "
        "sits inside the batch loop. Which curve is the lr of each optimizer step?",
        {**STEP_LR, "interval": "step"},
        [STEP_LR, {**STEP_LR, "interval": "step"}, {**STEP_LR, "order": "scheduler_first"}],
        "StepLR counts scheduler.step() calls, not epochs: called every batch, it halves the lr every 3 batches instead "
        "of every 3 epochs. After 12 epochs it has halved 40 times, and the lr is effectively zero."),
    curve_question(
        "order_curve", "schedulers",
        "A LinearLR warmup (start_factor 0.25 over 3 epochs, lr 0.1), stepped once per epoch — but scheduler.step() comes "
        "at the start of each epoch, before its optimizer.step() calls. Which curve is the lr of each optimizer step?",
        {**WARMUP, "order": "scheduler_first"},
        [WARMUP, {**WARMUP, "order": "scheduler_first"}, {**WARMUP, "interval": "step"}],
        "The scheduler sets the lr for the steps that come after it, so stepping it first skips the warmup's first value: "
        "the first epoch already runs at 0.05 instead of 0.025. torch warns about this order."),
    curve_question(
        "onecycle_momentum", "schedulers",
        "SGD(lr=0.1, momentum=0.9) with OneCycleLR(max_lr=0.1), stepped every batch for 60 steps. Which curve is SGD's "
        "momentum during each step?",
        ONE_CYCLE,
        [_lab("OneCycleLR", {"max_lr": 0.1, "cycle_momentum": False}, interval="step", momentum=0.9),
         _lab("CyclicLR", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 15}, interval="step", momentum=0.9),
         ONE_CYCLE],
        "OneCycleLR's cycle_momentum=True (its default) overwrites the momentum when it is built and moves it against the "
        "lr: from 0.95 down to 0.85 while the lr rises, and back up while it falls. The momentum=0.9 you passed is never used.",
        series="momentum"),
    curve_question(
        "cosine_per_batch", "schedulers",
        "CosineAnnealingLR(T_max=10), meant as 10 epochs, but stepped every batch (10 batches per epoch, 6 epochs). "
        "Which curve is the lr of each optimizer step?",
        {**COSINE, "interval": "step"},
        [COSINE, {**COSINE, "interval": "step"}, _lab("CosineAnnealingWarmRestarts", {"T_0": 10}, interval="step")],
        "Past T_max, CosineAnnealingLR does not stay at eta_min: it keeps following the cosine, so stepped every batch it "
        "falls to 0 in 10 steps and climbs back in the next 10, again and again. A jump back to the top is "
        "CosineAnnealingWarmRestarts, a different scheduler."),
    fate_question(
        "schedule_rescue", "schedulers",
        "SGD with lr 0.25, above 2/λ_max = 0.2 on this bowl — but MultiStepLR(milestones=[2], gamma=0.5) halves it after "
        "2 epochs of 5 steps. In 100 steps, does it converge, oscillate or diverge?",
        {"problem": _bowl(), "optimizer": _sgd(0.25),
         "scheduler": {"name": "MultiStepLR", "options": {"milestones": [2], "gamma": 0.5}, "interval": "epoch",
                       "steps_per_epoch": 5}, "steps": 100},
        "For 10 steps each one multiplies the error along the steep axis by |1 − 0.25·10| = 1.5, about 58× in all; then "
        "lr 0.125 multiplies it by 0.25 per step, and that wins quickly. A schedule can rescue a too-large lr if it "
        "lowers it before the run blows up.", shown=0),
    # -- the training loop --------------------------------------------------------------------------------------------
    code_question(
        "zero_grad_code", "loop",
        "SGD (lr 0.002) on the mini-batches of a least-squares problem: this is ‖w.grad‖, the gradient each "
        "optimizer.step() used. Which loop drew it?",
        "zero_grad", 1, 0,
        "loss.backward() adds into .grad, so without optimizer.zero_grad() every step uses the sum of all the gradients "
        "so far. That sum acts like momentum that never decays, and the loss swings instead of settling."),
    fate_question(
        "lr_too_large", "loop",
        "SGD with lr 0.25 on a bowl with curvatures λ = 1 and 10. In 60 steps, does it converge, oscillate or diverge?",
        {"problem": _bowl(), "optimizer": _sgd(0.25), "steps": 60},
        "Along a curvature λ each step multiplies the error by |1 − lr·λ|, and along λ = 10 that is |1 − 2.5| = 1.5: the "
        "error grows by half each step. Gradient descent converges only while lr < 2/λ_max = 0.2.", shown=0),
    where_question(
        "per_group_where", "loop",
        "Two parameter groups, like optim.SGD([{'params': x}, {'params': y, 'lr': 0.5}], lr=0.02), on a round bowl "
        "(curvature 1 in every direction). Click where the point is after 10 steps.",
        {"problem": _bowl((1, 1)), "optimizer": {**_sgd(0.02), "groups": {"x": {}, "y": {"lr": 0.5}}}, "steps": 10},
        "Each group steps with its own lr: y's error halves every step and is all but gone after 10, while x's shrinks by "
        "only 2 % per step. The path bends into an L although the bowl is perfectly round."),
    where_question(
        "lbfgs_where", "loop",
        "LBFGS with line_search_fn='strong_wolfe' from (−1.5, 2) on Rosenbrock. Click where the point is after one "
        "single optimizer.step(closure).",
        {"problem": {"surface": "rosenbrock"}, "optimizer": {"name": "LBFGS", "options": {"line_search_fn": "strong_wolfe"}},
         "steps": 1},
        "One LBFGS step() is not one gradient step: it runs up to max_iter = 20 inner iterations, each with a line search "
        "that calls the closure again. That is why LBFGS needs step(closure), and why one call can cross most of the plot."),
    code_question(
        "per_batch_code", "loop",
        "SGD (lr 0.05) with StepLR(step_size=2, gamma=0.5) and 8 batches per epoch: this is the lr each optimizer.step() "
        "used. Which loop drew it?",
        "per_batch", 1, 0,
        "The lr halves every 2 optimizer steps, so scheduler.step() runs once per batch: it is inside the batch loop. A "
        "schedule written in epochs runs steps-per-epoch times too fast when it is stepped per batch."),
    code_question(
        "order_code", "loop",
        "SGD (lr 0.05) with a LinearLR warmup (start_factor 0.25 over 3 epochs): this is the lr of each epoch. Which loop "
        "drew it?",
        "order", 0, 0,
        "The warmup starts at 0.25 × 0.05 = 0.0125 and reaches 0.05 after 3 epochs: no value is skipped, so "
        "scheduler.step() comes after the epoch's optimizer steps. Stepped first, the first epoch would already run at "
        "the second value, and torch would warn."),
    # -- adaptive methods ------------------------------------------------------------------------------------------------
    fate_question(
        "adam_large_lr", "adaptive",
        "SGD diverges on this bowl above lr 0.2. Adam with lr 0.5: in 200 steps, does it converge, oscillate or diverge?",
        {"problem": _bowl(), "optimizer": {"name": "Adam", "options": {"lr": 0.5}}, "steps": 200},
        "Adam divides each step by √v̂, the running size of the gradient, so a step is about lr long whatever the "
        "curvature: there is no lr·λ < 2 limit as for SGD. It overshoots at first, but as m̂ averages the flipping "
        "gradients towards zero its steps shrink and it settles."),
    where_question(
        "adam_where", "adaptive",
        "Adam with lr 0.1 from (−2.5, 2) on a bowl 100× steeper in y than in x. Click where the point is after 10 steps.",
        {"problem": _bowl((1, 100)), "optimizer": {"name": "Adam", "options": {"lr": 0.1}}, "steps": 10},
        "Adam's first steps are about lr = 0.1 in each coordinate, because m̂/√v̂ is about ±1 whatever the gradient's "
        "size: the point moves diagonally, about 1 in x and 1 in y. SGD would rush down the steep y axis and barely "
        "move in x."),
    race_question(
        "booth_race", "adaptive",
        "On Booth's narrow bowl, SGD (lr 0.08), Adam (lr 0.3) and RMSprop (lr 0.3) race from (−7, −8). Which first comes "
        "within 0.001 of f* = 0 (or none, in 100 steps)?",
        {"base": {"problem": {"surface": "booth"}, "steps": 100},
         "entries": [_sgd(0.08), {"name": "Adam", "options": {"lr": 0.3}}, {"name": "RMSprop", "options": {"lr": 0.3}}]},
        "SGD zig-zags across the valley, but with lr 0.08 its steps are large where the slope is steep and each zig-zag is "
        "smaller than the last. Adam and RMSprop take steps of about lr per coordinate whatever the slope, so they spend "
        "most of the 100 steps just covering the distance."),
    code_question(
        "adamw_code", "adaptive",
        "f = 50(x − 1)² + 0.05(y − 1)², steep in x and flat in y, with weight_decay 0.5 and lr 0.05: this is y, the flat "
        "coordinate, over 3,000 steps. Which loop drew it?",
        "adamw", 1, 1,
        "Adam adds weight_decay·p to the gradient and then divides by √v̂, so on the flat axis, where the gradient is "
        "small, the decay wins and y settles at the L2-regularised minimum far below 1. AdamW shrinks p by "
        "lr·weight_decay·p outside the gradient, the same on both axes."),
    fate_question(
        "adam_noise", "adaptive",
        "Adam with lr 0.05, and every gradient carries Gaussian noise with σ = 2. In 200 steps, does it converge, "
        "oscillate or diverge?",
        {"problem": _bowl(angle=30, noise=2.0), "optimizer": {"name": "Adam", "options": {"lr": 0.05}}, "steps": 200},
        "Near the minimum the true gradient is tiny and the noise fills both m̂ and √v̂, so their ratio, and with it "
        "Adam's step, does not shrink to zero. The point keeps jittering around the minimum; only a smaller lr or a "
        "decaying schedule calms it."),
]}


def sequence(key: str) -> list[Question]:
    """The questions of one sequence, in order."""
    return [q for q in QUESTIONS.values() if q.sequence == key]


def quiz() -> list[dict]:
    """Every built-in question with the answer its runs give, the run configs to re-check it with
    ``python -m optviz run`` (fate, where, race) and the page that opens the same run."""
    return [{**q.to_dict(), "answer": answer(q).to_dict(), "runs": runs_of(q), "opens": link_url(q)} for q in QUESTIONS.values()]
