"""Small-nets benchmark: the issue's target run end to end, against the bare canonical loop; landscape and figure costs.

Run: python benchmarks/bench_nets.py [--repeats 5]
Target: 200 epochs on 1,000 points (800 train / 200 test), a 2-16-16-2 MLP, batch 32, Adam — ≤ 3 s end to end
including the 40 decision-boundary frames. Medians over repeats, one process, torch.set_num_threads(1). Wall time and
process CPU time are both printed: on a shared machine the CPU time is the steadier figure.
"""
import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import torch  # noqa: E402

from optviz.figures.nets import boundary_figure, runs_of  # noqa: E402
from optviz.nets.landscape import landscape  # noqa: E402
from optviz.nets.model import build_model, loss_function, make_optimizer, parse_net_config, tensors  # noqa: E402
from optviz.nets.training import train  # noqa: E402

torch.set_num_threads(1)

TARGET = {"data": {"name": "moons", "n_points": 1000, "test_fraction": 0.2}, "model": {"width": 16, "depth": 2},
          "optimizer": {"name": "Adam", "options": {"lr": 0.01}}, "batch_size": 32, "epochs": 200}


def bare_loop(config) -> None:
    """The seed's loop with nothing recorded: the floor that torch itself sets."""
    X, y, _, _ = tensors(config)
    model = build_model(config)
    optimizer = make_optimizer(config, model)
    loss_fn = loss_function(config)
    gen = torch.Generator().manual_seed(config.seed)
    for _ in range(config.epochs):
        perm = torch.randperm(len(X), generator=gen)
        for inputs, target in zip(X[perm].split(config.batch_size), y[perm].split(config.batch_size), strict=True):
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), target)
            loss.backward()
            optimizer.step()


def timed(fn, repeats: int) -> str:
    """Median and best wall seconds, and median CPU seconds."""
    wall, cpu = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return f"wall {statistics.median(wall):6.2f} s (best {min(wall):5.2f})   cpu {statistics.median(cpu):6.2f} s"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    r = ap.parse_args().repeats
    config = parse_net_config(TARGET)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, medians of {r} repeats, "
          f"load average {os.getloadavg()[0]:.2f}\n")
    trace = train(config)     # warm-up: imports, allocator
    print(f"target: {config.epochs} epochs × {config.steps_per_epoch} mini-batches = {trace.steps} Adam steps, "
          f"{len(trace.frame_epochs)} boundary frames, {trace.snapshots.shape[0]} weight snapshots of "
          f"{trace.snapshots.shape[1]}\n")

    def end_to_end() -> None:
        tr = train(config)
        boundary_figure(tr).to_json()

    rows = [("bare canonical loop (nothing recorded)", lambda: bare_loop(config)),
            ("train(): metrics, per-group lr/norms/state, frames", lambda: train(config)),
            ("end to end: train() + animated boundary figure JSON", end_to_end)]
    rows += [("PCA landscape, 31 × 31 grid", lambda: landscape(trace, "pca")),
             ("random filter-normalised landscape, 31 × 31 grid", lambda: landscape(trace, "random"))]
    for label, fn in rows:
        print(f"  {label:<55} {timed(fn, r)}")
    fig = boundary_figure(trace)
    print(f"\n  animated boundary figure: {len(fig.frames)} frames, {len(fig.to_json()) / 1e6:.2f} MB of JSON; "
          f"figure for {runs_of([trace])[0].label}")


if __name__ == "__main__":
    main()
