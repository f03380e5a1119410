"""The torch objects a config asks for: its parameters, its optimizer (built as the seed writes it) and its lr scheduler.

It sits below the config (it reads a Config's fields but never imports the module), so validating a config can build
the optimizer with the same code the engine runs."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import torch

from .schedulers import build_scheduler

if TYPE_CHECKING:
    from .config import Config

DTYPE = torch.float64


def make_params(config: Config, starts: torch.Tensor, batched: bool = False) -> list[torch.Tensor]:
    """Leaf tensors for K starts: one `xy` (2,)/(K, 2), or `x` and `y` for two groups; Muon gets 2-D shapes."""
    spec = config.optimizer_spec
    k = starts.shape[0]
    matrix = spec.point_shape == "matrix"
    if config.optimizer.groups is None:
        xy = starts.clone() if (batched or matrix) else starts[0].clone()
        return [xy.requires_grad_(True)]
    cols = [starts[:, i].clone() for i in range(2)]
    if matrix:
        cols = [c.reshape(k, 1) for c in cols]
    return [c.requires_grad_(True) for c in cols]


def make_optimizer(config: Config, starts: torch.Tensor, batched: bool = False) -> tuple[list[torch.Tensor], torch.optim.Optimizer]:
    """torch's optimizer, built as the seed writes it: a list of per-group dicts when there are groups."""
    spec = config.optimizer_spec
    params = make_params(config, starts.to(DTYPE), batched)
    options = dict(config.optimizer.options)
    if config.optimizer.program is not None:  # the Custom optimizer's step(), written by the user (optviz.core.custom)
        options["program"] = config.optimizer.program
    if config.optimizer.groups is None:
        return params, spec.cls(params, **options)
    groups = [{"params": [p], **config.optimizer.groups.get(g, {})} for g, p in zip(("x", "y"), params)]
    return params, spec.cls(groups, **options)


def scheduler_stepper(config: Config, optimizer: torch.optim.Optimizer) -> tuple[Any, Callable[[int, float], None]]:
    """Returns (scheduler, step(t, loss)) where step is called after optimizer step t (1-based)."""
    if config.scheduler is None:
        return None, lambda t, loss: None
    sch = build_scheduler(config.scheduler_spec, config.scheduler.options, optimizer)
    per_step = config.scheduler.interval == "step"
    spe = config.scheduler.steps_per_epoch
    metric = config.scheduler_spec.needs_metric
    epoch_losses: list[float] = []
    n_steps = config.steps

    def step(t: int, loss: float) -> None:
        if per_step:
            sch.step(loss) if metric else sch.step()
            return
        epoch_losses.append(loss)
        if t % spe == 0 or t == n_steps:
            sch.step(sum(epoch_losses) / len(epoch_losses)) if metric else sch.step()
            epoch_losses.clear()

    return sch, step
