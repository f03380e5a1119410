"""The typed result of a run: positions (row 0 = the start), losses, gradients, per-group lrs, torch's state over time."""
from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field

import numpy as np

from .config import Config


def _jsonable(a):
    """numpy → lists with non-finite numbers as null (JSON has no NaN)."""
    if a is None:
        return None
    if isinstance(a, np.ndarray):
        if a.dtype.kind in "iu":
            return a.tolist()
        return _jsonable(a.tolist())
    if isinstance(a, list):
        return [_jsonable(x) for x in a]
    if isinstance(a, float):
        return a if math.isfinite(a) else None
    return a


@dataclass
class Trace:
    """One run. ``lrs[t]`` / ``momentums[t]`` are what each group had while step t+1 ran;
    ``state[name][t]`` is torch's state after step t+1, assembled into (x, y), NaN on a coordinate whose parameter
    group keeps no such entry (e.g. momentum in one group only); ``grads[t]`` is the gradient
    step t+1 used (noise included), taken at ``positions[t]``. Batched runs add a K axis after the step axis."""

    config: Config
    groups: tuple[str, ...]
    positions: np.ndarray                 # (n+1, 2) | (n+1, K, 2)
    losses: np.ndarray                    # (n+1,) | (n+1, K): the surface's value (without noise)
    grads: np.ndarray | None              # (n, 2) | (n, K, 2)
    lrs: np.ndarray                       # (n, G)
    momentums: np.ndarray                 # (n, G), NaN where the optimizer has no momentum or β₁
    state: dict[str, np.ndarray]          # name → (n, 2), NaN where a group keeps no such entry
    evaluations: np.ndarray               # (n,) closure calls per step
    diverged_at: int | None | np.ndarray  # single: step number or None; batched: (K,) with -1 for "never"
    message: str = ""
    warnings: tuple[str, ...] = ()
    probes: list[np.ndarray] | None = None   # LBFGS: the points of every closure call, per step
    seconds: float = field(default=0.0, compare=False)

    @property
    def steps(self) -> int:
        """Number of completed steps."""
        return len(self.positions) - 1

    @property
    def batched(self) -> bool:
        return self.positions.ndim == 3

    @property
    def has_momentum(self) -> bool:
        return bool(np.isfinite(self.momentums).any()) if self.momentums.size else False

    @property
    def final_position(self) -> np.ndarray:
        return self.positions[-1]

    @property
    def final_loss(self) -> float:
        return float(self.losses[-1]) if not self.batched else float("nan")

    def to_dict(self) -> dict:
        diverged = self.diverged_at
        if isinstance(diverged, np.ndarray):
            diverged = [None if d < 0 else int(d) for d in diverged]
        return {
            "config": self.config.to_dict(),
            "groups": list(self.groups),
            "positions": _jsonable(self.positions),
            "losses": _jsonable(self.losses),
            "grads": _jsonable(self.grads),
            "lrs": _jsonable(self.lrs),
            "momentums": _jsonable(self.momentums),
            "state": {k: _jsonable(v) for k, v in self.state.items()},
            "evaluations": _jsonable(self.evaluations),
            "probes": None if self.probes is None else [_jsonable(p) for p in self.probes],
            "diverged_at": diverged,
            "message": self.message,
            "warnings": list(self.warnings),
        }

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def to_csv(self) -> str:
        """One row per position: step, x, y, loss, then the gradient, lrs, momentums and state used/after that step."""
        if self.batched:
            raise ValueError("CSV export is for single runs; use JSON for batched runs")
        out = io.StringIO()
        w = csv.writer(out)
        names = sorted(self.state)
        head = ["step", "x", "y", "loss", "grad_x", "grad_y"]
        head += [f"lr_{g}" for g in self.groups] + [f"momentum_{g}" for g in self.groups]
        head += [f"{n}_{c}" for n in names for c in ("x", "y")] + ["evaluations"]
        w.writerow(head)
        for t in range(self.steps + 1):
            row = [t, *self.positions[t], self.losses[t]]
            if t < self.steps:
                row += [*self.grads[t], *self.lrs[t], *self.momentums[t]]
                row += [v for n in names for v in self.state[n][t]] + [int(self.evaluations[t])]
            else:
                row += [""] * (len(head) - len(row))
            w.writerow(["" if isinstance(v, float) and not math.isfinite(v) else (repr(float(v)) if isinstance(v, (float, np.floating)) else v)
                        for v in row])
        return out.getvalue()
