"""Lesson presets: well-formed data, and each sentence on what to notice is true of the real torch run."""
import math
import re

import numpy as np
import pytest

from optviz.core.config import Config
from optviz.core.engine import run
from optviz.core.optimizers import OPTIMIZERS
from optviz.lessons.presets import PRESETS, WATCH, presets_for
from optviz.lessons.race import Race, parse_race

CONTROL_NAMES = {"surface", "expression", "quadratic", "start", "noise", "seed", "optimizer", "groups", "scheduler",
                 "interval", "steps_per_epoch", "steps", "racers"}
HYPERPARAMETERS = {p.name for s in OPTIMIZERS.values() for p in s.params}


def traces(key: str):
    loaded = PRESETS[key].load()
    return [run(c) for c in loaded.configs()] if isinstance(loaded, Race) else [run(loaded)]


def path_length(tr) -> float:
    return float(np.hypot(*np.diff(tr.positions, axis=0).T).sum())


def test_at_least_eight_presets_on_both_pages():
    assert len(PRESETS) >= 8
    assert presets_for("explorer") and presets_for("race")
    by_key = lambda p: p.key
    assert sorted(presets_for("explorer") + presets_for("race"), key=by_key) == sorted(PRESETS.values(), key=by_key)


@pytest.mark.parametrize("key", PRESETS)
def test_preset_is_well_formed(key):
    p = PRESETS[key]
    assert p.key == key and re.fullmatch(r"[a-z][a-z0-9_]*", key)
    assert p.title and p.notice.endswith(".") and len(p.notice) < 400
    assert p.page in ("explorer", "race") and p.url() == f"{p.page}?preset={key}"
    loaded = p.load()
    assert isinstance(loaded, Race if p.page == "race" else Config)
    assert set(p.hidden) <= CONTROL_NAMES | HYPERPARAMETERS
    assert set(p.view) <= {"tab"}
    if p.page == "race":
        assert parse_race(loaded.to_dict()) == loaded      # the URL form of a race reads back the same


def test_every_optimizer_has_a_text_on_what_to_watch():
    assert set(WATCH) == set(OPTIMIZERS)
    assert all(len(t) > 40 for t in WATCH.values())


# -- each notice says something a learner can check on the plot; check it here on the same run ---------

def test_momentum_overshoot_is_far_ahead_of_plain_sgd():
    (tr,) = traces("momentum_overshoot")
    plain = run(tr.config.to_dict() | {"optimizer": {"name": "SGD", "options": {"lr": 1e-3}}})
    assert tr.losses[-1] < 0.1 < 1.0 < plain.losses[-1]
    # the path swings past the valley floor: y − x² changes sign along the way
    valley = tr.positions[:, 1] - tr.positions[:, 0] ** 2
    assert (np.diff(np.sign(valley)) != 0).sum() >= 2


def test_nesterov_ends_closer_than_classical_and_plain():
    plain, classical, nesterov = traces("nesterov_vs_classical")
    assert nesterov.losses[-1] < classical.losses[-1] < plain.losses[-1]


def test_adam_on_beale_reaches_the_minimum():
    (tr,) = traces("adam_on_beale")
    assert np.hypot(*(tr.positions[-1] - (3.0, 0.5))) < 0.1 and "exp_avg" in tr.state


def test_lr_too_large_diverges_at_step_5_and_lr_0_002_converges():
    (tr,) = traces("lr_too_large")
    assert tr.diverged_at == 5
    calm = run(tr.config.to_dict() | {"optimizer": {"name": "SGD", "options": {"lr": 2e-3}}})
    assert calm.diverged_at is None and calm.losses[-1] < 1e-2


def test_saddle_momentum_leaves_sooner():
    sgd, momentum, adam = traces("saddle_escape")
    def first_away(tr):  # first step with |y| > 1
        return int(np.argmax(np.abs(tr.positions[:, 1]) > 1)) or math.inf
    assert min(np.hypot(*sgd.positions.T)) < 0.5          # plain SGD drifts towards the saddle point
    assert first_away(momentum) < first_away(adam) < math.inf and first_away(momentum) < first_away(sgd)


def test_per_group_lrs_bend_the_path_into_an_l():
    (tr,) = traces("per_group_lrs")
    assert tr.groups == ("x", "y") and np.allclose(tr.lrs[0], [0.02, 0.5])
    assert abs(tr.positions[15, 1]) < 1e-3 < 1.0 < abs(tr.positions[15, 0])


def test_rastrigin_nobody_reaches_the_global_minimum():
    sgd, momentum, adam = traces("rastrigin_local_minima")
    assert all(t.losses[-1] > 0.5 for t in (sgd, momentum, adam))
    assert momentum.losses[-1] < sgd.losses[-1] and path_length(momentum) > 3 * path_length(sgd)


def test_noisy_gradients_momentum_path_is_smoother():
    sgd, momentum = traces("noisy_gradients")
    assert sgd.config.problem.noise > 0
    assert sgd.config.optimizer.options["lr"] == pytest.approx(momentum.config.optimizer.options["lr"] / (1 - 0.9))
    assert path_length(momentum) < 0.6 * path_length(sgd)


def test_lbfgs_reaches_the_minimum_with_several_evaluations_per_step():
    (tr,) = traces("lbfgs_closure")
    assert np.hypot(*(tr.positions[-1] - 1.0)) < 1e-4 and tr.evaluations.sum() > 2 * tr.steps


def test_one_cycle_moves_momentum_opposite_to_the_lr():
    (tr,) = traces("one_cycle_momentum")
    peak = int(np.argmax(tr.lrs[:, 0]))
    assert tr.momentums[0, 0] == pytest.approx(0.95) and tr.momentums[peak, 0] == pytest.approx(0.85, abs=1e-3)
    assert tr.momentums[-1, 0] == pytest.approx(0.95, abs=1e-3)


def test_step_lr_halves_every_three_epochs_of_twenty_steps():
    (tr,) = traces("step_lr_per_epoch")
    lr = tr.lrs[:, 0]
    assert lr[59] == lr[0] and lr[60] == pytest.approx(lr[0] / 2) and lr[120] == pytest.approx(lr[0] / 4)


def test_ill_conditioned_sgd_zig_zags_and_adaptive_methods_do_not():
    def reversals(tr):  # sign changes of the step across the valley (Booth's steep direction is (1, 1))
        across = np.diff(tr.positions, axis=0) @ np.array([1.0, 1.0])
        return int((np.sign(across[1:]) != np.sign(across[:-1])).sum())
    sgd, adam, rmsprop = traces("ill_conditioned_bowl")
    def straightness(tr):
        return float(np.hypot(*(tr.positions[-1] - tr.positions[0]))) / path_length(tr)
    assert reversals(sgd) > 50 and max(reversals(adam), reversals(rmsprop)) <= 3
    assert straightness(sgd) < 0.5 < 0.85 < min(straightness(adam), straightness(rmsprop))
    assert sgd.losses[-1] < min(adam.losses[-1], rmsprop.losses[-1])
