"""Every pytorch-optimizer entry the pickers offer runs on every surface: a few steps from the surface's default start
at the entry's probe lr end in steps or in divergence (a normal outcome with its own message), never in an error."""
import pytest

from optviz.core import external as ext
from optviz.core.engine import run
from optviz.core.specs import ConfigError
from optviz.core.surfaces import SURFACES

STEPS = 3


def _config(spec, surface: str) -> dict:
    options = {"lr": ext.facts(spec.name[len(ext.PREFIX):]).lr} if "lr" in spec.names else {}
    return {"optimizer": {"name": spec.name, "options": options}, "problem": {"surface": surface}, "steps": STEPS}


@pytest.mark.parametrize("surface", SURFACES)
def test_every_available_entry_runs_on_the_surface(surface):
    entries = ext.available()
    assert len(entries) >= 100
    failed = []
    for spec in entries:
        try:
            tr = run(_config(spec, surface))
        except ConfigError as e:  # refused before running: an entry the picker offers must not be
            failed.append(f"{spec.name}: {e}")
            continue
        if tr.diverged_at is None:
            assert tr.steps == STEPS, spec.name
        elif not tr.message.startswith("diverged at step"):  # the engine ends a run cleanly on an exception ("torch stopped …")
            failed.append(f"{spec.name}: {tr.message}")
    assert not failed, "\n".join(failed)


def test_a_run_that_raises_is_told_apart_from_divergence(monkeypatch):
    """The check above can fail: an optimizer whose step() raises ends the run with the engine's "torch stopped" message."""
    spec = ext.spec_of("Lion")

    def broken(self, closure=None):
        raise RuntimeError("shape mismatch")

    monkeypatch.setattr(spec.cls, "step", broken)
    tr = run(_config(spec, "rosenbrock"))
    assert tr.diverged_at is not None and tr.message.startswith("torch stopped at step 1") and "shape mismatch" in tr.message
