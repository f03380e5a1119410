"""Basins of attraction: a grid of starts run as one torch.optim batch, each start labelled by the minimum it reaches."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import numpy as np
import torch

from optviz.core.config import MAX_WORK, Config, ConfigError, parse_config
from optviz.core.engine import run, surface_of

from .sweeps import Progress, check_map_config

MAX_BASIN_SIDE = 200          # basin maps up to 200 × 200 starts
DIVERGED, NOT_CONVERGED = -1, -2


@dataclass(frozen=True)
class FoundMinimum:
    point: tuple[float, float]
    value: float
    kind: str          # "global" or "local" (among the minima found)
    listed: bool       # one of the surface's listed minima (else found by polishing where runs ended)

    @property
    def label(self) -> str:
        v = 0.0 if abs(self.value) < 1e-12 else self.value
        return f"{self.kind} min ({self.point[0]:.3g}, {self.point[1]:.3g}), f = {v:.4g}"


@dataclass
class BasinResult:
    """For a grid of starts: which minimum each run ends at (index into ``minima``), or DIVERGED / NOT_CONVERGED."""

    config: Config
    xs: np.ndarray
    ys: np.ndarray
    labels: np.ndarray          # (ny, nx) int: ≥ 0 minimum index, -1 diverged, -2 not converged
    finals: np.ndarray          # (ny, nx, 2)
    minima: list[FoundMinimum]
    radius: float
    seconds: float

    def fractions(self) -> dict[int, float]:
        vals, counts = np.unique(self.labels, return_counts=True)
        return {int(v): float(c) / self.labels.size for v, c in zip(vals, counts, strict=True)}

    def shares(self) -> list[tuple[int, str, float]]:
        """(category number, name, fraction of starts) for every outcome that occurs, in category order."""
        names = {DIVERGED: "diverged", NOT_CONVERGED: "not converged"}
        return sorted((category(k), names.get(k) or self.minima[k].label, f) for k, f in self.fractions().items())


def category(label: int) -> int:
    """A label's category number in legends: 0 diverged, 1 not converged, minimum k → k + 2."""
    return {DIVERGED: 0, NOT_CONVERGED: 1}.get(int(label), int(label) + 2)


def _domain_of(surface, domain) -> tuple[tuple[float, float], tuple[float, float]]:
    if domain is None:
        return surface.domain
    try:
        (a, b), (c, d) = ((float(u), float(v)) for u, v in domain)
    except (TypeError, ValueError):
        raise ConfigError("domain", f"expected [[xmin, xmax], [ymin, ymax]], got {domain!r}") from None
    if not (a < b and c < d and all(map(math.isfinite, (a, b, c, d)))):
        raise ConfigError("domain", f"needs finite xmin < xmax and ymin < ymax, got {domain!r}")
    return (a, b), (c, d)


def basin_maps(configs: list[Config | dict], n: int = 100, domain=None, radius: float | None = None,
               on_progress: Progress | None = None) -> list[BasinResult]:
    """Run every config from an n × n grid of starts (engine's batched torch.optim, final points only) and
    label each start by the minimum it reaches; the minima are shared, so colours match between configs."""
    t0 = time.perf_counter()
    configs = [c if isinstance(c, Config) else parse_config(c) for c in configs]
    if not configs:
        raise ConfigError("optimizer", "no optimizer to map")
    if not isinstance(n, int) or not 2 <= n <= MAX_BASIN_SIDE:
        raise ConfigError("n", f"a basin map has 2 to {MAX_BASIN_SIDE} starts per side, got {n!r}")
    for c in configs:
        check_map_config(c, "basin maps")
    surface = surface_of(configs[0])
    (x0, x1), (y0, y1) = _domain_of(surface, domain)
    if radius is None:
        radius = 0.02 * max(x1 - x0, y1 - y0)
    if not (isinstance(radius, (int, float)) and radius > 0 and math.isfinite(radius)):
        raise ConfigError("radius", f"the radius must be a positive number, got {radius!r}")
    xs, ys = np.linspace(x0, x1, n), np.linspace(y0, y1, n)
    gx, gy = np.meshgrid(xs, ys)
    starts = np.stack([gx.ravel(), gy.ravel()], axis=1)
    total = sum(c.steps for c in configs)
    done = 0
    finals, divs = [], []
    for c in configs:
        chunk = max(1, MAX_WORK // c.steps)
        fin = np.empty_like(starts)
        dv = np.empty(len(starts), dtype=np.int64)
        for s in range(0, len(starts), chunk):
            part = starts[s: s + chunk]
            cfg = replace(c, problem=replace(c.problem, start=None, starts=tuple(map(tuple, part.tolist()))))
            frac = len(part) / len(starts)

            def step(t, m, base=done, frac=frac, steps=c.steps):
                if on_progress is not None:
                    on_progress(min(1.0, (base + frac * t) / total))
            tr = run(cfg, on_step=step, record={"final"})
            done += frac * c.steps
            fin[s: s + chunk] = tr.positions[-1]
            dv[s: s + chunk] = tr.diverged_at
        finals.append(fin)
        divs.append(dv)
    minima = find_minima(surface, np.concatenate(finals), np.concatenate(divs) >= 0, radius)
    out = []
    for c, fin, dv in zip(configs, finals, divs, strict=True):
        labels = label_points(minima, fin, dv >= 0, radius).reshape(n, n)
        out.append(BasinResult(c, xs, ys, labels, fin.reshape(n, n, 2), minima, radius, time.perf_counter() - t0))
    return out


def basin_map(config: Config | dict, n: int = 100, domain=None, radius: float | None = None,
              on_progress: Progress | None = None) -> BasinResult:
    return basin_maps([config], n, domain, radius, on_progress)[0]


def label_points(minima: list[FoundMinimum], points, diverged, radius: float) -> np.ndarray:
    """Index of the minimum within ``radius`` of each point, DIVERGED, or NOT_CONVERGED."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    div = np.asarray(diverged, dtype=bool).reshape(-1) | ~np.isfinite(pts).all(axis=1)
    labels = np.full(len(pts), NOT_CONVERGED, dtype=np.int64)
    if minima:
        m = np.array([mm.point for mm in minima])
        d = np.hypot(pts[:, None, 0] - m[None, :, 0], pts[:, None, 1] - m[None, :, 1])
        near = np.nanargmin(np.where(np.isfinite(d), d, np.inf), axis=1)
        ok = np.take_along_axis(d, near[:, None], axis=1)[:, 0] <= radius
        labels[ok] = near[ok]
    labels[div] = DIVERGED
    return labels


def find_minima(surface, finals, diverged, radius: float, max_clusters: int = 256) -> list[FoundMinimum]:
    """The surface's listed minima plus the minima where runs ended: clusters of final points polished by
    Newton's method (exact gradients, Hessian from their differences) and kept if they land on a minimum nearby."""
    known = [(m.point, m.value) for m in surface.minima if m.kind != "saddle"]
    pts = np.asarray(finals, dtype=np.float64)[~np.asarray(diverged, dtype=bool)]
    pts = pts[np.isfinite(pts).all(axis=1)]
    found: list[tuple[tuple[float, float], float]] = []
    if len(pts):
        cells = np.floor(pts / radius).astype(np.int64)
        cells -= cells.min(axis=0)
        keys = cells[:, 0] * (int(cells[:, 1].max()) + 1) + cells[:, 1]     # one integer per grid cell
        uniq, inv, counts = np.unique(keys, return_inverse=True, return_counts=True)
        order = np.argsort(-counts, kind="stable")[:max_clusters]
        centres = np.stack([np.bincount(inv, weights=pts[:, d], minlength=len(uniq))[order] / counts[order]
                            for d in range(2)], axis=1) if len(order) else np.empty((0, 2))
        if len(centres):
            polished, ok = _newton_minima(surface, centres)
            for c, p, good in zip(centres, polished, ok, strict=True):
                if good and np.hypot(*(p - c)) <= radius:
                    found.append(((float(p[0]), float(p[1])), 0.0))
    points: list[tuple[tuple[float, float], bool]] = [(p, True) for p, _ in known]
    for p, _ in found:
        if all(math.hypot(p[0] - q[0], p[1] - q[1]) > radius / 2 for q, _ in points):
            points.append((p, False))
    if not points:
        return []
    P = torch.tensor([p for p, _ in points], dtype=torch.float64)
    values = surface.value_and_grad_batch(P[:, 0], P[:, 1])[0].tolist()
    best = min(values)
    out = [FoundMinimum(p, v, "global" if v <= best + 1e-9 * (1 + abs(best)) else "local", listed)
           for (p, listed), v in zip(points, values, strict=True)]
    return sorted(out, key=lambda m: (m.value, m.point))


def _newton_minima(surface, centres: np.ndarray, iters: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Newton's method from each centre; ok where it ends with a vanishing gradient and a positive definite Hessian."""
    P = torch.tensor(centres, dtype=torch.float64)
    g = surface.value_and_grad_batch

    def hessian(P):
        h = 1e-5 * (1 + P.abs())
        cols = []
        for d in range(2):
            e = torch.zeros_like(P)
            e[:, d] = h[:, d]
            _, gx1, gy1 = g((P + e)[:, 0], (P + e)[:, 1])
            _, gx0, gy0 = g((P - e)[:, 0], (P - e)[:, 1])
            cols.append(torch.stack(((gx1 - gx0) / (2 * h[:, d]), (gy1 - gy0) / (2 * h[:, d])), dim=1))
        H = torch.stack(cols, dim=2)
        return (H + H.transpose(1, 2)) / 2

    with torch.no_grad():
        for _ in range(iters):
            _, gx, gy = g(P[:, 0], P[:, 1])
            G = torch.stack((gx, gy), dim=1)
            H = hessian(P)
            det = H[:, 0, 0] * H[:, 1, 1] - H[:, 0, 1] ** 2
            safe = torch.where(det.abs() > 1e-300, det, torch.ones_like(det))
            step = torch.stack((H[:, 1, 1] * G[:, 0] - H[:, 0, 1] * G[:, 1],
                                H[:, 0, 0] * G[:, 1] - H[:, 0, 1] * G[:, 0]), dim=1) / safe[:, None]
            step = torch.where(torch.isfinite(step), step, torch.zeros_like(step))
            P = P - step
            if float(step.abs().max()) <= 1e-14 * (1 + float(P.abs().max())):
                break
        _, gx, gy = g(P[:, 0], P[:, 1])
        H = hessian(P)
        gn = torch.hypot(gx, gy)
        scale = 1e-6 * (1 + H.abs().amax(dim=(1, 2)) * (1 + P.abs().amax(dim=1)))
        pd = (H[:, 0, 0] > 0) & (H[:, 0, 0] * H[:, 1, 1] - H[:, 0, 1] ** 2 > 0)
        ok = torch.isfinite(P).all(dim=1) & (gn <= scale) & pd
    return P.numpy(), ok.numpy()
