"""Loss landscapes of a trained net (Li et al. 2018): a plane through the final weights, the loss over it, the path on it."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from optviz.core.specs import ConfigError

from .model import DTYPE, build_model, flat_parameters, loss_function, tensors
from .training import NetTrace

METHODS = ("pca", "random")
MAX_GRID = 61


@dataclass(frozen=True)
class Landscape:
    """The training loss on the plane θ* + α·d₁ + β·d₂ and each run's weights projected onto it (θ* at the origin)."""

    method: str                         # "pca": the path's principal directions; "random": filter-normalised directions
    alphas: np.ndarray                  # (na,)
    betas: np.ndarray                   # (nb,)
    losses: np.ndarray                  # (nb, na)
    paths: tuple[np.ndarray, ...]       # (K, 2) per run: (α, β) of each weight snapshot
    epochs: tuple[np.ndarray, ...]      # (K,) per run
    labels: tuple[str, ...]
    explained: np.ndarray               # (2,): share of the paths' variance along d₁ and d₂, each in [0, 1]


def pca_directions(deltas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The two principal directions of the rows of ``deltas`` (θ_i − θ*) and their explained-variance ratios.

    As in Li et al. (2018) and sklearn's PCA: the rows are centred, d₁, d₂ are the top right singular vectors and
    the ratio of direction k is s_k² / Σ s². A path with no spread gives ratios of 0."""
    centred = deltas - deltas.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    total = float((s ** 2).sum())
    dirs = np.zeros((2, deltas.shape[1]))
    k = min(2, vt.shape[0])
    dirs[:k] = vt[:k]
    if k < 2 or total == 0:
        return _orthonormal_fill(dirs, k if total > 0 else 0), np.zeros(2)
    ratio = np.zeros(2)
    ratio[:k] = s[:k] ** 2 / total
    return dirs, np.clip(ratio, 0.0, 1.0)


def _orthonormal_fill(dirs: np.ndarray, k: int) -> np.ndarray:
    """Completes the first k rows to two orthonormal directions (for degenerate paths)."""
    rng = np.random.default_rng(0)
    for i in range(k, 2):
        v = rng.normal(size=dirs.shape[1])
        for j in range(i):
            v -= (v @ dirs[j]) * dirs[j]
        dirs[i] = v / np.linalg.norm(v)
    return dirs


def filter_normalised_directions(trace: NetTrace, seed: int) -> np.ndarray:
    """Two Gaussian directions, each row of each weight matrix (one neuron's filter) rescaled to the norm of the same
    row of the final weights; biases get no component (Li et al. 2018, ignore='biasbn')."""
    model = build_model(trace.config)
    flat = flat_parameters(model)
    flat.copy_(torch.as_tensor(trace.final_weights))
    gen = torch.Generator().manual_seed(seed)
    out = np.zeros((2, flat.numel()))
    for k in range(2):
        parts = []
        for p in model.parameters():
            d = torch.randn(p.shape, generator=gen, dtype=DTYPE)
            if p.dim() <= 1:
                d.zero_()
            else:
                d *= p.detach().norm(dim=1, keepdim=True) / (d.norm(dim=1, keepdim=True) + 1e-10)
            parts.append(d.reshape(-1))
        out[k] = torch.cat(parts).numpy()
    return out


def project(deltas: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    """(α, β) with α d₁ + β d₂ closest to each delta (least squares; a dot product when d₁ ⟂ d₂ are unit vectors)."""
    coef, *_ = np.linalg.lstsq(dirs.T, deltas.T, rcond=None)
    return coef.T


def explained_ratio(deltas: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    """Share of the centred deltas' variance along each of the plane's orthonormalised directions."""
    centred = deltas - deltas.mean(axis=0)
    total = float((centred ** 2).sum())
    if total == 0:
        return np.zeros(2)
    q, _ = np.linalg.qr(dirs.T)
    return np.clip(((centred @ q) ** 2).sum(axis=0) / total, 0.0, 1.0)


def loss_grid(trace: NetTrace, center: np.ndarray, dirs: np.ndarray, alphas: np.ndarray, betas: np.ndarray) -> np.ndarray:
    """Training loss of the net with weights center + α d₁ + β d₂ at every grid point (rows: β, columns: α)."""
    config = trace.config
    X, y, _, _ = tensors(config)
    model = build_model(config)
    flat = flat_parameters(model)
    loss_fn = loss_function(config)
    c = torch.as_tensor(center)
    d1, d2 = torch.as_tensor(dirs[0]), torch.as_tensor(dirs[1])
    out = []
    with torch.no_grad():
        for b in betas.tolist():
            row = c + b * d2
            for a in alphas.tolist():
                torch.add(row, d1, alpha=a, out=flat)
                out.append(loss_fn(model(X), y))
    return torch.stack(out).reshape(len(betas), len(alphas)).numpy()


def landscape(trace: NetTrace, method: str = "pca", other: NetTrace | None = None, n_grid: int = 31,
              labels: tuple[str, ...] = ("run", "other")) -> Landscape:
    """The loss over a plane through the final weights of ``trace``, with its path (and ``other``'s, on the same plane).

    "pca": the plane of the paths' two principal directions; "random": two filter-normalised random directions."""
    if method not in METHODS:
        raise ConfigError("landscape.method", f"expected one of {', '.join(METHODS)}, got {method!r}")
    if not 5 <= n_grid <= MAX_GRID:
        raise ConfigError("landscape.n_grid", f"must be between 5 and {MAX_GRID}, got {n_grid}")
    torch.set_num_threads(1)
    runs = [trace] if other is None else [trace, other]
    if other is not None:
        same = (trace.config.data, trace.config.model, trace.config.seed)
        if (other.config.data, other.config.model, other.config.seed) != same:
            raise ConfigError("compare", "a shared plane needs the same data, model and seed (the same initial weights)")
    center = trace.final_weights
    deltas = [r.snapshots - center for r in runs]
    stacked = np.concatenate(deltas)
    if method == "pca":
        dirs, explained = pca_directions(stacked)
    else:
        dirs = filter_normalised_directions(trace, trace.config.seed)
        explained = explained_ratio(stacked, dirs)
    paths = tuple(project(d, dirs) for d in deltas)
    reach = np.abs(np.concatenate(paths)).max(axis=0) if stacked.size else np.zeros(2)
    floor = 1.0 if method == "random" else 1e-3
    ra, rb = (max(floor, 1.2 * float(v)) for v in reach)
    alphas, betas = np.linspace(-ra, ra, n_grid), np.linspace(-rb, rb, n_grid)
    losses = loss_grid(trace, center, dirs, alphas, betas)
    return Landscape(method, alphas, betas, losses, paths, tuple(r.snapshot_epochs for r in runs),
                     tuple(labels[: len(runs)]), explained)


__all__ = ["Landscape", "landscape", "pca_directions", "filter_normalised_directions", "project", "explained_ratio",
           "loss_grid", "METHODS"]
