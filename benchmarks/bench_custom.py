"""Custom optimizer benchmark: a program's recorded run of 1,000 steps vs the same built-in torch optimizer's.

Run: python benchmarks/bench_custom.py [--repeats 15] [--steps 1000]
One process, torch.set_num_threads(1); the two runs alternate within each repeat (so a busy machine slows both alike)
and the figures are medians over the repeats. Goal: the custom run takes at most 2x the built-in one.
"""
import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import torch  # noqa: E402

from optviz import run  # noqa: E402
from optviz.lessons.custom_step import TEMPLATES, custom_config, torch_config  # noqa: E402

torch.set_num_threads(1)
GOAL = 2.0


def timed(config) -> float:
    started = time.perf_counter()
    trace = run(config)
    elapsed = time.perf_counter() - started
    assert trace.steps == config.steps, trace.message
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--steps", type=int, default=1000)
    a = ap.parse_args()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, {a.steps:,} steps on Rosenbrock, full recording, "
          f"medians of {a.repeats} repeats\n")
    worst = 0.0
    for key in ("sgd", "adam"):
        t = TEMPLATES[key]
        mine = custom_config(t.program, t.options, steps=a.steps)
        theirs = torch_config(mine, t.compare, t.fixed)
        timed(mine), timed(theirs)   # warm up: imports, the program's compilation, torch's first calls
        custom, builtin = [], []
        for _ in range(a.repeats):
            custom.append(timed(mine))
            builtin.append(timed(theirs))
        c, b = statistics.median(custom), statistics.median(builtin)
        worst = max(worst, c / b)
        print(f"   {t.label:18s} custom {c * 1e3:6.1f} ms   torch.optim.{t.compare:4s} {b * 1e3:6.1f} ms   "
              f"ratio {c / b:.2f} (goal <= {GOAL:g})")
    print(f"\nworst ratio {worst:.2f}: {'within' if worst <= GOAL else 'OVER'} the goal")
    return 0 if worst <= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
