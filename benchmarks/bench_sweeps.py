"""Sweep and basin-map benchmark: one batched computation vs the same cells run one by one through torch.optim.

Run: python benchmarks/bench_sweeps.py [--repeats 5] [--sample 32]
torch.set_num_threads(1); medians over repeats. "One by one" is measured on a random sample of cells and
extrapolated to the whole grid, two ways: the engine's single run (records every step) and a bare torch.optim loop.
"""
import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from optviz import parse_config, run  # noqa: E402
from optviz.core.engine import surface_of  # noqa: E402
from optviz.lessons.basins import basin_map  # noqa: E402
from optviz.lessons.sweeps import cell_config, parse_sweep, run_sweep  # noqa: E402

torch.set_num_threads(1)


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bare_loop(config):
    """torch.optim on one (x, y) parameter with the surface's exact gradient: the least a one-by-one run costs."""
    vg = surface_of(config).value_and_grad
    p = torch.tensor(config.problem.start, dtype=torch.float64, requires_grad=True)
    opt = config.optimizer_spec.cls([p], **config.optimizer.options)

    def closure():
        x, y = p.detach().tolist()
        f, gx, gy = vg(x, y)
        p.grad = torch.tensor([gx, gy], dtype=torch.float64)
        return f

    for _ in range(config.steps):
        opt.step(closure)
    return p


def one_by_one(configs, total, repeats):
    """Seconds for `total` cells, extrapolated from the sample: (engine single run, bare torch.optim loop)."""
    t_engine = median_time(lambda: [run(c) for c in configs], repeats) / len(configs) * total
    t_bare = median_time(lambda: [bare_loop(c) for c in configs], repeats) / len(configs) * total
    return t_engine, t_bare


def groups_per_cell(sweep, side):
    """The torch.optim alternative with per-cell hyperparameters: one parameter group per cell (on a side × side grid)."""
    small = parse_sweep({**sweep.to_dict(), "x": {**sweep.x.to_dict(), "n": side}, "y": {**sweep.y.to_dict(), "n": side}})
    opts = [cell_config(small, i, j).optimizer.options for i in range(side) for j in range(side)]
    start = torch.tensor(sweep.config.problem.start, dtype=torch.float64)
    params = [start.clone().requires_grad_(True) for _ in opts]
    opt = torch.optim.SGD([{"params": [q], **o} for q, o in zip(params, opts, strict=True)])
    vgb = surface_of(sweep.config).value_and_grad_batch

    def go():
        with torch.no_grad():
            for _ in range(sweep.config.steps):
                P = torch.stack(params)
                _, gx, gy = vgb(P[:, 0], P[:, 1])
                for q, g in zip(params, torch.stack((gx, gy), 1), strict=True):
                    q.grad = g.clone()
                opt.step()
    t = time.perf_counter()
    go()
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--sample", type=int, default=32)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, medians of {a.repeats}, "
          f"one-by-one sampled on {a.sample} cells\n")

    print("1. 64 × 64 lr × momentum sweep, 300 steps of SGD + momentum on Rosenbrock (goal ≤ 1 s)")
    sweep = parse_sweep({"config": {"problem": {"surface": "rosenbrock", "start": [-1.5, 2.0]},
                                    "optimizer": {"name": "SGD", "options": {"momentum": 0.9}}, "steps": 300},
                         "x": {"param": "lr", "low": 1e-5, "high": 3e-3, "n": 64},
                         "y": {"param": "momentum", "low": 0.0, "high": 0.99, "n": 64, "log": False}})
    run_sweep(sweep)
    t_sweep = median_time(lambda: run_sweep(sweep), a.repeats)
    cells = [cell_config(sweep, int(i), int(j)) for i, j in rng.integers(0, 64, size=(a.sample, 2))]
    t_engine, t_bare = one_by_one(cells, 64 * 64, max(1, a.repeats // 2))
    t_groups = groups_per_cell(sweep, 16) * (64 * 64) / (16 * 16)
    print(f"   vectorised rule, one batch      {t_sweep:8.3f} s")
    print(f"   torch.optim, 1 group per cell   {t_groups:8.3f} s  (16 × 16 measured)  ratio {t_groups / t_sweep:6.0f}×")
    print(f"   one by one, engine single run   {t_engine:8.3f} s                      ratio {t_engine / t_sweep:6.0f}×")
    print(f"   one by one, bare torch.optim    {t_bare:8.3f} s                      ratio {t_bare / t_sweep:6.0f}×\n")

    print("2. 200 × 200 basin map, 300 steps of Adam on Himmelblau (goal ≤ 2 s)")
    config = parse_config({"problem": {"surface": "himmelblau"}, "optimizer": {"name": "Adam", "options": {"lr": 0.05}},
                           "steps": 300})
    basin_map(config, n=50)
    res = {}
    t_basin = median_time(lambda: res.setdefault("r", basin_map(config, n=200)), a.repeats)
    (x0, x1), (y0, y1) = surface_of(config).domain
    starts = rng.uniform((x0, y0), (x1, y1), size=(a.sample, 2))
    singles = [parse_config({**config.to_dict(), "problem": {"surface": "himmelblau", "start": list(s)}}) for s in starts]
    t_engine, t_bare = one_by_one(singles, 200 * 200, max(1, a.repeats // 2))
    shares = ", ".join(f"#{c} {100 * f:.1f}%" for c, _, f in res["r"].shares())
    print(f"   batched torch.optim + labels    {t_basin:8.3f} s   ({shares})")
    print(f"   one by one, engine single run   {t_engine:8.3f} s                      ratio {t_engine / t_basin:6.0f}×")
    print(f"   one by one, bare torch.optim    {t_bare:8.3f} s                      ratio {t_bare / t_basin:6.0f}×")


if __name__ == "__main__":
    main()
