"""Small nets, the training: the seed's canonical loop on torch.optim, recorded into a NetTrace."""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from optviz.core.config import one_line
from optviz.core.optimizers import momentum_of
from optviz.core.schedulers import build_scheduler

from .model import DTYPE, MLP, NetConfig, build_model, flat_parameters, loss_function, make_optimizer, parse_net_config, score, tensors

MAX_FRAMES = 40             # decision-boundary frames
MAX_SNAPSHOTS = 101         # weight snapshots kept for the landscape
DIVERGED = 1e6              # a training loss this many times the initial one ends the run
GRID = 60                   # decision-boundary grid is GRID × GRID (regression: 4·GRID x values)
OnEpoch = Callable[[int, int], None]

# -- the result ----------------------------------------------------------------------------------

@dataclass
class NetTrace:
    """One training run. Per epoch (row 0 = the initial net): losses and scores. Per optimizer step: each group's lr and
    momentum/β₁ while the step ran; the gradient norm, update norm and optimizer-state norms of ``base`` and ``classifier``
    (columns in that order). Frames: the net's output on a grid at ``frame_epochs``. Snapshots: flattened weights."""

    config: NetConfig
    groups: tuple[str, ...]            # the optimizer's parameter groups
    train_loss: np.ndarray             # (E+1,)
    test_loss: np.ndarray
    train_score: np.ndarray
    test_score: np.ndarray
    lrs: np.ndarray                    # (S, G)
    momentums: np.ndarray              # (S, G), NaN where the optimizer has none
    grad_norms: np.ndarray             # (S, 2): ‖∇‖ of base, classifier
    update_norms: np.ndarray           # (S, 2): ‖θ_t − θ_{t−1}‖
    state_norms: dict[str, np.ndarray]  # name → (S, 2)
    evaluations: np.ndarray            # (S,) closure calls per step
    frame_epochs: np.ndarray           # (F,)
    frames: np.ndarray                 # (F, C, ny, nx) class probabilities | (F, nx) regression fit, float32
    grid_x: np.ndarray
    grid_y: np.ndarray | None
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    snapshot_epochs: np.ndarray        # (K,)
    snapshots: np.ndarray              # (K, P) float64, the last one is the final net
    n_base: int                        # the first n_base weights of a snapshot belong to model.base
    diverged_at: int | None = None     # epoch
    message: str = ""
    warnings: tuple[str, ...] = ()
    seconds: float = field(default=0.0, compare=False)   # model, training and records (not drawing the data)

    @property
    def epochs(self) -> int:
        """Completed epochs."""
        return len(self.train_loss) - 1

    @property
    def steps(self) -> int:
        return len(self.lrs)

    @property
    def score_name(self) -> str:
        return "R²" if self.config.dataset.regression else "accuracy"

    @property
    def final_weights(self) -> np.ndarray:
        return self.snapshots[-1]

    def metrics(self) -> dict:
        """The per-epoch metrics and per-step lrs, as the generated script prints them."""
        return {"train_loss": self.train_loss.tolist(), "test_loss": self.test_loss.tolist(),
                "train_score": self.train_score.tolist(), "test_score": self.test_score.tolist(), "lrs": self.lrs.tolist()}


# -- training ------------------------------------------------------------------------------------

def spread(n: int, k: int) -> np.ndarray:
    """At most k evenly spread integers of 0..n, always both ends."""
    return np.unique(np.linspace(0, n, min(k, n + 1)).round().astype(int))


def _grid(config: NetConfig, X: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, torch.Tensor]:
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = 0.1 * (hi - lo) + 1e-6
    if config.dataset.n_features == 1:
        xs = np.linspace(lo[0] - pad[0], hi[0] + pad[0], 4 * GRID)
        return xs, None, torch.as_tensor(xs, dtype=DTYPE).reshape(-1, 1)
    xs = np.linspace(lo[0] - pad[0], hi[0] + pad[0], GRID)
    ys = np.linspace(lo[1] - pad[1], hi[1] + pad[1], GRID)
    gx, gy = np.meshgrid(xs, ys)
    return xs, ys, torch.as_tensor(np.stack([gx.ravel(), gy.ravel()], axis=1), dtype=DTYPE)


class _Recorder:
    """Per-step records kept as tensors (no .item() per step). Every recorded quantity — the gradient before step(),
    the update θ_t − θ_{t−1}, each optimizer-state tensor after it — is flattened into one vector over the model's
    weights (parameters are views of one flat vector, so the update is one subtraction), and one matmul with a
    weight → submodule indicator gives its squared norm per submodule. Rows are stacked once per epoch."""

    def __init__(self, model: MLP, optimizer: torch.optim.Optimizer, flat: torch.Tensor, rescan: bool):
        self.params = list(model.parameters())
        self.optimizer = optimizer
        self.flat = flat
        n_base_tensors = len(list(model.base.parameters()))
        self.part_of = [0 if i < n_base_tensors else 1 for i in range(len(self.params))]
        self.onehot = self._indicator(range(len(self.params)))
        self.n_base = int(self.onehot[:, 0].sum())
        self.before, self.diff = torch.empty_like(flat), torch.empty_like(flat)
        self.rescan = rescan                # LBFGS: its state keys appear as its iterations need them
        self.layout: tuple[str, ...] | None = None
        self.pending: list[torch.Tensor] = []
        self.blocks: list[tuple[tuple[str, ...], torch.Tensor]] = []    # (row names, (steps, rows, 2) squared norms)
        self.lrs: list[list[float]] = []
        self.moms: list[list[float]] = []
        self.evaluations: list[int] = []
        self.grad = flat

    def _indicator(self, which, numels=None) -> torch.Tensor:
        """(Σ numel, 2) matrix: row k is 1 in the column of the submodule that weight k belongs to."""
        numels = numels or [self.params[i].numel() for i in which]
        parts = torch.tensor([self.part_of[i] for i in which]).repeat_interleave(torch.tensor(numels))
        return nn.functional.one_hot(parts, 2).to(self.flat.dtype)

    def start(self) -> None:
        groups = self.optimizer.param_groups
        self.lrs.append([g["lr"] for g in groups])
        self.moms.append([math.nan if (m := momentum_of(g)) is None else m for g in groups])
        self.before.copy_(self.flat)

    def gradients(self) -> None:
        self.grad = torch._C._nn.flatten_dense_tensors([p.grad for p in self.params])    # a copy, taken before step()

    def finish(self, evaluations: int = 1) -> None:
        if self.layout is None or self.rescan:
            layout, self.vectors = self._scan()
            if layout != self.layout:
                self.flush()
                self.layout = layout
        torch.sub(self.flat, self.before, out=self.diff)
        aligned, ragged = self.vectors()
        m = torch.stack([self.grad, self.diff, *aligned])
        sq = (m * m) @ self.onehot
        if ragged:
            sq = torch.cat([sq, torch.stack([(v * v) @ oh for v, oh in ragged])])
        self.pending.append(sq)
        self.evaluations.append(evaluations)

    def flush(self) -> None:
        """Stack the pending rows into one block (once per epoch keeps memory flat)."""
        if self.pending:
            self.blocks.append((self.layout, torch.stack(self.pending)))
            self.pending = []

    def _scan(self):
        """The tensor states worth a norm: those shaped like their parameters on every parameter (exp_avg,
        momentum_buffer, …) and LBFGS's flat vectors over the whole model stack with the gradient; others (Adafactor's
        factored row_var / col_var) get their own indicator. Returns the row names and a getter over torch's live state."""
        states = [self.optimizer.state[p] for p in self.params]     # torch updates these dicts in place
        total = self.flat.numel()
        names = dict.fromkeys(k for st in states for k, v in st.items()
                              if torch.is_tensor(v) and v.dim() > 0 and v.is_floating_point())
        aligned, flat_names, ragged = [], [], []
        for name in names:
            have = [i for i, st in enumerate(states) if torch.is_tensor(st.get(name)) and st[name].dim() > 0]
            if have == [0] and states[0][name].numel() == total:
                flat_names.append(name)
            elif len(have) == len(states) and all(states[i][name].shape == self.params[i].shape for i in have):
                aligned.append(name)
            elif all(states[i][name].numel() <= self.params[i].numel() for i in have):
                ragged.append((name, have, self._indicator(have, [states[i][name].numel() for i in have])))
        flatten = torch._C._nn.flatten_dense_tensors

        def vectors():
            rows = [flatten([st[name] for st in states]) for name in aligned]
            rows += [states[0][name].reshape(-1) for name in flat_names]
            return rows, [(flatten([states[i][name] for i in have]), oh) for name, have, oh in ragged]

        return ("grad", "update", *aligned, *flat_names, *(r[0] for r in ragged)), vectors

    def arrays(self) -> dict[str, Any]:
        """Per step and submodule: ‖(a, b, …)‖ = √(‖a‖² + ‖b‖² + …) over the submodule's weights."""
        self.flush()
        n, g = len(self.evaluations), len(self.optimizer.param_groups)
        names = dict.fromkeys(name for layout, _ in self.blocks for name in layout)
        norms = {name: np.full((n, 2), np.nan) for name in names}
        start = 0
        for layout, block in self.blocks:
            values = np.sqrt(block.numpy())
            for j, name in enumerate(layout):
                norms[name][start: start + len(block)] = values[:, j]
            start += len(block)
        empty = np.zeros((0, 2))
        return {"lrs": np.array(self.lrs[:n], dtype=np.float64).reshape(n, g),
                "momentums": np.array(self.moms[:n], dtype=np.float64).reshape(n, g),
                "grad_norms": norms.pop("grad", empty), "update_norms": norms.pop("update", empty),
                "state_norms": norms, "evaluations": np.array(self.evaluations, dtype=np.int64)}


def train(config: NetConfig | dict, on_epoch: OnEpoch | None = None) -> NetTrace:
    """Train the config's MLP with torch.optim in the seed's canonical loop and record everything the page shows.
    Never raises for a bad run: a non-finite loss or a torch error ends it with ``diverged_at`` (the epoch) and a message."""
    if not isinstance(config, NetConfig):
        config = parse_net_config(config)
    torch.set_num_threads(1)    # tiny tensors: extra threads only add contention
    E = config.epochs
    X_train, y_train, X_test, y_test = tensors(config)
    t0 = time.perf_counter()
    model = build_model(config)
    flat = flat_parameters(model)
    loss_fn = loss_function(config)
    grid_x, grid_y, grid = _grid(config, np.concatenate([X_train.numpy(), X_test.numpy()]))
    frame_at = set(spread(E, MAX_FRAMES).tolist())
    snap_at = set(spread(E, MAX_SNAPSHOTS).tolist())
    metrics: list[torch.Tensor] = []
    frames: list[torch.Tensor] = []
    frame_epochs: list[int] = []
    snapshots: list[torch.Tensor] = []
    snapshot_epochs: list[int] = []
    regression = config.dataset.regression
    last_good = [flat]
    diverged_at, message = None, ""

    def observe(epoch: int) -> bool:
        """Metrics on the whole train and test sets in one batch each; False once the loss is not finite or has grown
        DIVERGED× past the start (the net is lost; its outputs would only overflow the figures)."""
        with torch.no_grad():
            out_train, out_test = model(X_train), model(X_test)
            m = torch.stack([loss_fn(out_train, y_train), loss_fn(out_test, y_test),
                             score(config, out_train, y_train), score(config, out_test, y_test)])
            if not bool(torch.isfinite(m[0])) or (metrics and bool(m[0] > DIVERGED * (1 + metrics[0][0]))):
                return False
            metrics.append(m)
            if epoch in frame_at:
                out = model(grid)
                frames.append(out.reshape(-1) if regression else torch.softmax(out, dim=1).T.reshape(-1, GRID, GRID))
                frame_epochs.append(epoch)
            if epoch in snap_at:
                snapshots.append(flat.clone())
                snapshot_epochs.append(epoch)
            last_good[0] = snapshots[-1] if epoch in snap_at else flat.clone()
        return True

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        optimizer = make_optimizer(config, model)
        scheduler = build_scheduler(config.scheduler_spec, config.scheduler.options, optimizer) if config.scheduler else None
        per_step = scheduler is not None and config.scheduler.interval == "step"
        needs_metric = scheduler is not None and config.scheduler_spec.needs_metric
        rec = _Recorder(model, optimizer, flat, rescan=config.full_batch)
        generator = torch.Generator().manual_seed(config.seed)
        batch_size = config.batch_size
        every = max(1, E // 100)
        observe(0)
        for epoch in range(1, E + 1):
            try:
                if config.full_batch:
                    loss = _full_batch_step(model, optimizer, loss_fn, X_train, y_train, rec)
                    if per_step:
                        scheduler.step(loss.detach()) if needs_metric else scheduler.step()
                else:
                    # the seed's canonical loop: zero_grad → output → loss → backward → step, once per mini-batch
                    perm = torch.randperm(len(X_train), generator=generator)
                    for inputs, target in zip(X_train[perm].split(batch_size), y_train[perm].split(batch_size), strict=True):
                        rec.start()
                        optimizer.zero_grad()
                        output = model(inputs)
                        loss = loss_fn(output, target)
                        loss.backward()
                        rec.gradients()
                        optimizer.step()
                        rec.finish()
                        if per_step:
                            scheduler.step(loss.detach()) if needs_metric else scheduler.step()
                rec.flush()
                if not observe(epoch):
                    diverged_at = epoch
                    message = (f"diverged in epoch {epoch}: the training loss is no longer finite or grew more than "
                               f"{DIVERGED:,.0f}-fold (the learning rate is probably too large)")
                    break
                if scheduler is not None and not per_step:
                    scheduler.step(metrics[-1][0]) if needs_metric else scheduler.step()
            except Exception as e:  # torch refused mid-run (e.g. OneCycleLR past total_steps): end with its message
                diverged_at = epoch
                message = f"torch stopped in epoch {epoch}: {type(e).__name__}: {one_line(e)}"
                break
            if on_epoch is not None and (epoch % every == 0 or epoch == E):
                on_epoch(epoch, E)
        warns = tuple(dict.fromkeys(str(w.message).splitlines()[0] for w in caught))

    done = len(metrics) - 1
    if snapshot_epochs[-1] != done:     # stopped early: the last finite net closes the trajectory
        snapshots.append(last_good[0])
        snapshot_epochs.append(done)
    m = torch.stack(metrics).numpy()
    arrays = rec.arrays()
    if not message:
        spe = config.steps_per_epoch
        steps = (f"{done} full-batch steps ({int(arrays['evaluations'].sum())} closure calls)" if config.full_batch
                 else f"{done} epochs × {spe} step{'s' if spe > 1 else ''}")
        message = f"{steps}; final train loss {m[-1, 0]:.4g}, test {('R²' if regression else 'accuracy')} {m[-1, 3]:.3g}"
    frames_np = np.clip(torch.stack(frames).numpy(), -1e30, 1e30).astype(np.float32)    # float32 for the browser
    return NetTrace(
        config=config, groups=config.group_names,
        train_loss=m[:, 0], test_loss=m[:, 1], train_score=m[:, 2], test_score=m[:, 3], **arrays,
        frame_epochs=np.array(frame_epochs, dtype=np.int64), frames=frames_np, grid_x=grid_x, grid_y=grid_y,
        X_train=X_train.numpy().astype(np.float32), y_train=y_train.numpy().reshape(-1),
        X_test=X_test.numpy().astype(np.float32), y_test=y_test.numpy().reshape(-1),
        snapshot_epochs=np.array(snapshot_epochs, dtype=np.int64), snapshots=torch.stack(snapshots).numpy(),
        n_base=rec.n_base, diverged_at=diverged_at, message=message, warnings=warns, seconds=time.perf_counter() - t0)


def _full_batch_step(model, optimizer, loss_fn, X, y, rec: _Recorder) -> torch.Tensor:
    """One optimizer.step(closure) on the whole training set: LBFGS calls the closure as often as its line search needs."""
    calls = [0]

    def closure():
        optimizer.zero_grad()
        output = model(X)
        loss = loss_fn(output, y)
        loss.backward()
        if calls[0] == 0:
            rec.gradients()
        calls[0] += 1
        return loss

    rec.start()
    loss = optimizer.step(closure)
    rec.finish(calls[0])
    return loss


__all__ = ["NetTrace", "train"]
