"""Engine benchmark: full-recording runs vs a naive notebook loop, batched starts, contour grids.

Run: python benchmarks/bench_engine.py [--repeats 7]
Medians over repeats, one process, torch.set_num_threads(1). Ratios are against the naive loop in the same run.
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
from optviz.core.surfaces import SURFACES  # noqa: E402

torch.set_num_threads(1)


def naive(opt_name, options, steps, start=(-1.5, 2.0)):
    """The notebook loop: zero_grad, loss, backward, step, append p.detach().clone()."""
    p = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = getattr(torch.optim, opt_name)([p], **options)
    path = []
    for _ in range(steps):
        opt.zero_grad()
        x, y = p[0], p[1]
        loss = (1 - x) ** 2 + 100 * (y - x**2) ** 2
        loss.backward()
        opt.step()
        path.append(p.detach().clone())
    return path


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    a = ap.parse_args()
    r = a.repeats
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, medians of {r} repeats\n")

    print("1. 1,000 steps on Rosenbrock from (-1.5, 2), full recording vs the naive loop")
    for name, options in (("SGD", {"lr": 2e-4, "momentum": 0.9}), ("Adam", {"lr": 1e-2})):
        config = parse_config({"optimizer": {"name": name, "options": options}, "problem": {"start": [-1.5, 2.0]}, "steps": 1000})
        run(config), naive(name, options, 50)
        t_engine = median_time(lambda: run(config), r)
        t_naive = median_time(lambda: naive(name, options, 1000), r)
        print(f"   {name:5s} engine {t_engine * 1e3:7.1f} ms   naive {t_naive * 1e3:7.1f} ms   ratio {t_engine / t_naive:.2f} (goal <= 0.4)")

    print("\n2. K = 10,000 starts x 200 steps of Adam, batched, vs the naive loop for ONE start x 200 steps")
    rng = np.random.default_rng(0)
    starts = np.column_stack([rng.uniform(-2, 2, 10_000), rng.uniform(-1, 3, 10_000)]).tolist()
    config = parse_config({"optimizer": {"name": "Adam", "options": {"lr": 1e-2}}, "problem": {"starts": starts}, "steps": 200})
    run(config)
    t_batch = median_time(lambda: run(config), r)
    t_one = median_time(lambda: naive("Adam", {"lr": 1e-2}, 200), r)
    print(f"   batched {t_batch * 1e3:7.1f} ms   one start {t_one * 1e3:6.1f} ms   ratio {t_batch / t_one:.2f} (goal <= 1.5); "
          f"throughput {10_000 * t_one / t_batch:,.0f}x one-by-one")
    t_final = median_time(lambda: run(config, record={"final"}), r)
    print(f"   same, recording only the final point: {t_final * 1e3:.1f} ms")

    print("\n3. 300 x 300 contour grid per surface (goal <= 20 ms)")
    worst = 0.0
    for key, s in SURFACES.items():
        s.grid(300)
        t = median_time(lambda s=s: s.grid(300), r)
        worst = max(worst, t)
        print(f"   {key:18s} {t * 1e3:6.2f} ms")
    print(f"   slowest {worst * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
