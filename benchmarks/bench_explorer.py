"""Benchmark the Trajectory Explorer as a user meets it: a slider change reruns the page (AppTest, default settings).

Prints the median rerun time after a slider change on a cache miss (a steps value never run before) and on a
cache hit (a value run before), and the total size of the default page's figures. Goals: ≤ 100 ms, ≤ 50 ms, ≤ 1 MB.
Run from the project root:  python benchmarks/bench_explorer.py [--repeats 15]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

torch.set_num_threads(1)
PAGE = str(ROOT / "pages" / "explorer.py")
SLIDER = "ex.steps"


def timed_run(at: AppTest, cpu: list[float] | None = None) -> float:
    """Wall time of one rerun; its CPU time (this process only, so other load on the machine shows less) into cpu."""
    c0, t0 = time.process_time(), time.perf_counter()
    at.run()
    dt = time.perf_counter() - t0
    if cpu is not None:
        cpu.append(time.process_time() - c0)
    assert not at.exception, at.exception
    return dt


def figure_bytes(at: AppTest) -> tuple[int, int]:
    charts = at.get("plotly_chart")
    return sum(len(c.proto.spec) for c in charts), len(charts)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=15)
    a = ap.parse_args()
    at = AppTest.from_file(PAGE, default_timeout=60)
    first = timed_run(at)
    total, n = figure_bytes(at)
    timed_run(at)  # warm: imports, validators, JIT-free torch paths
    default = at.slider(key=SLIDER).value
    misses, hits, miss_cpu, hit_cpu = [], [], [], []
    for i in range(a.repeats):
        at.slider(key=SLIDER).set_value(default + 1 + i)      # never run before in this process: cache miss
        misses.append(timed_run(at, miss_cpu))
        at.slider(key=SLIDER).set_value(default + i)          # run in the previous round (or the default): hit
        hits.append(timed_run(at, hit_cpu))
    ms = lambda xs: 1000 * statistics.median(xs)
    print(f"Explorer, default settings ({default} steps), AppTest, median of {a.repeats}:")
    print(f"  first run (cold, imports included): {1000 * first:7.0f} ms")
    print(f"  slider change, cache miss:          {ms(misses):7.1f} ms   (goal ≤ 100 ms; CPU {ms(miss_cpu):.1f} ms)")
    print(f"  slider change, cache hit:           {ms(hits):7.1f} ms   (goal ≤ 50 ms; CPU {ms(hit_cpu):.1f} ms)")
    print(f"  load average while measuring:       {os.getloadavg()[0]:7.2f} (on {os.cpu_count()} cores)")
    print(f"  default page figures:               {total / 1e6:7.3f} MB in {n} charts (goal ≤ 1 MB)")


if __name__ == "__main__":
    main()
