"""Capacity with Locust: simulated students (Streamlit's WebSocket protocol, no browsers) against 1 replica and against
N replicas behind nginx (deploy/). Loopback only, bounded in users and time, stops every process it started.

    python benchmarks/run_locust.py --replicas 1,2 --users 50,100,200 --duration 120 --wait 5,10
    python benchmarks/run_locust.py --replicas 2 --users 200 --wait 10          # the goal: 200 students, 1 action / 10 s

For each (replicas, users) it starts fresh servers (one warm-up page load per replica, as after a deploy), waits until
the machine's 1-minute load average is below --max-load (checking every 60 s, at most --load-wait seconds), runs
benchmarks/locustfile.py headless (a class opening the link within 20 s, then every student acting every --wait
seconds), and reports: sessions held, dropped and failed; page-load and rerun latency p50/p95/p99 (reruns after the
last student arrived); errors; server CPU per action and cores used; RSS per process; the Locust client's own CPU.
nginx is Debian's package (apt-get install -y nginx); without it the runs with more than one replica are skipped and
the script says so and exits with code 3.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_test import Replicas, RssSampler, Single, busy_seconds, cpu_seconds, pct, wait_for_quiet_machine  # noqa: E402
from st_client import Session  # noqa: E402

HERE = Path(__file__).resolve().parent
MAX_USERS, MAX_DURATION = 1000, 1800


def nginx_path() -> str | None:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    return os.environ.get("NGINX", found)


def run_locust(url: str, users: int, duration: int, args, out: Path) -> tuple[int, float]:
    """Run Locust headless; returns (exit code, CPU seconds of the Locust process)."""
    env = {**os.environ, "OPTVIZ_LOCUST_OUT": str(out), "OPTVIZ_WAIT": args.wait, "OPTVIZ_LINK": args.link,
           "OPTVIZ_EXPLORE": str(args.explore), "OPTVIZ_TIMEOUT": str(args.timeout)}
    rate = max(1.0, users / args.ramp)
    cmd = [sys.executable, "-m", "locust", "-f", str(HERE / "locustfile.py"), "--headless", "-u", str(users), "-r",
           f"{rate:g}", "-t", f"{duration}s", "--host", url, "--only-summary", "--stop-timeout", str(int(args.timeout)),
           "--loglevel", "WARNING"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    cpu = 0.0
    try:
        deadline = time.monotonic() + duration + args.timeout + 120
        while proc.poll() is None:
            cpu = max(cpu, cpu_seconds(proc.pid))
            if time.monotonic() > deadline:
                raise TimeoutError("locust did not stop in time")
            time.sleep(0.5)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    tail = (proc.stdout.read() if proc.stdout else "").strip().splitlines()
    if proc.returncode not in (0, 1):      # 1: some requests failed, which the report shows
        print("\n".join(tail[-20:]))
    return proc.returncode, cpu


def measure(replicas: int, users: int, args) -> dict:
    setup = Single() if replicas == 1 else Replicas(replicas)
    load_before = wait_for_quiet_machine(args.max_load, args.load_wait)
    out = Path(tempfile.mkdtemp(prefix="optviz-locust-")) / "results.json"
    page, _, query = args.link.partition("?")
    with setup as s:
        for direct in s.direct_urls():         # one warm-up visit per replica: imports torch, builds the surface
            warm = Session(direct, page, query, timeout=args.timeout)
            warm.open()
            warm.close()
        pids = s.pids()
        sampler = RssSampler(pids)
        cpu0, busy0 = {k: cpu_seconds(p) for k, p in pids.items()}, busy_seconds()
        sampler.start()
        t0 = time.time()
        try:
            code, client_cpu = run_locust(s.url, users, args.duration, args, out)
        finally:
            sampler.stop.set()
            sampler.join()
        wall = time.time() - t0
        server_cpu = {k: cpu_seconds(p) - cpu0[k] for k, p in pids.items()}
        machine_cpu = busy_seconds() - busy0
        spread = s.spread()
    data = json.loads(out.read_text()) if out.exists() else {"page_load": [], "rerun": [], "sessions": [], "errors": []}
    shutil.rmtree(out.parent, ignore_errors=True)
    arrived = t0 + users / max(1.0, users / args.ramp) + 5            # the last student's page load is over
    steady = [s for t, s in data["rerun"] if t >= arrived]
    loads = [s for _, s in data["page_load"]]
    actions = len(data["rerun"]) + len(loads)
    sessions = data["sessions"]
    fates: dict[str, int] = {}
    for e in data["errors"]:
        fates[e[2][:80]] = fates.get(e[2][:80], 0) + 1
    return {
        "replicas": replicas, "users": users, "wait": args.wait, "link": args.link, "explore": args.explore,
        "duration_s": args.duration, "wall_s": round(wall, 1), "locust_exit": code,
        "sessions_opened": len(loads), "sessions_held": sum(1 for x in sessions if x["held"]),
        "sessions_dropped": sum(1 for x in sessions if not x["held"] and x["fate"] and "page load" not in x["fate"]),
        "errors": len(data["errors"]), "error_kinds": fates,
        "reruns": len(data["rerun"]), "reruns_steady": len(steady), "actions_per_s": round(actions / max(wall, 1e-9), 2),
        "rerun_p50_s": pct(steady, 50), "rerun_p95_s": pct(steady, 95), "rerun_p99_s": pct(steady, 99),
        "page_load_p50_s": pct(loads, 50), "page_load_p95_s": pct(loads, 95),
        "server_cpu_s": {k: round(v, 1) for k, v in server_cpu.items()},
        "server_cpu_per_action_ms": round(1000 * sum(server_cpu.values()) / max(1, actions), 1),
        "server_cores_used": round(sum(server_cpu.values()) / max(wall, 1e-9), 2),
        "client_cpu_s": round(client_cpu, 1), "machine_cpu_s": round(machine_cpu, 1),
        "rss_start_mb": {k: round(v) for k, v in sampler.start_mb.items()},
        "rss_peak_mb": {k: round(v) for k, v in sampler.peak.items()},
        "sessions_per_replica": spread, "loadavg_1min_before": round(load_before, 2), "cpus": os.cpu_count(),
    }


def row(r: dict) -> str:
    ms = lambda v: f"{1000 * v:.0f}"  # noqa: E731
    return (f"| {r['replicas']}{' (nginx)' if r['replicas'] > 1 else ''} | {r['users']} | {r['sessions_held']}/{r['users']} | "
            f"{r['sessions_dropped']} | {r['errors']} | {ms(r['rerun_p50_s'])} / {ms(r['rerun_p95_s'])} / {ms(r['rerun_p99_s'])} | "
            f"{ms(r['page_load_p50_s'])} / {ms(r['page_load_p95_s'])} | {r['actions_per_s']} | {r['server_cpu_per_action_ms']} | "
            f"{r['server_cores_used']} | {', '.join(str(v) for v in r['rss_peak_mb'].values())} | {r['loadavg_1min_before']} |")


HEADER = ("| replicas | students | sessions held | dropped | errors | rerun p50 / p95 / p99 (ms) | page load p50 / p95 (ms) | "
          "actions/s | server CPU per action (ms) | server cores used | peak RSS per process (MB) | 1-min load before |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--replicas", default="1,2", help="comma-separated replica counts (1 = one process, no nginx)")
    ap.add_argument("--users", default="50,100,200", help="comma-separated numbers of simulated students")
    ap.add_argument("--duration", type=int, default=120, help="seconds of each Locust run, ramp included")
    ap.add_argument("--ramp", type=float, default=20.0, help="seconds in which the class opens the link")
    ap.add_argument("--wait", default="5,10", help="'5,10': 5 to 10 s between actions; '10': one action every 10 s")
    ap.add_argument("--link", default="explorer?preset=momentum_overshoot", help="the lesson link, relative to the app")
    ap.add_argument("--explore", type=float, default=0.2, help="share of students who explore new settings")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds before a page load or rerun counts as failed")
    ap.add_argument("--max-load", type=float, default=2.5, help="start a run only below this 1-minute load average")
    ap.add_argument("--load-wait", type=float, default=2400, help="seconds to wait at most for --max-load")
    ap.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "optviz_locust.json"))
    args = ap.parse_args()
    replicas = [int(x) for x in args.replicas.split(",")]
    users = [int(x) for x in args.users.split(",")]
    if not all(1 <= u <= MAX_USERS for u in users) or not 10 <= args.duration <= MAX_DURATION or not all(1 <= r <= 8 for r in replicas):
        ap.error(f"users must be 1..{MAX_USERS}, duration 10..{MAX_DURATION} s, replicas 1..8")
    missing_nginx = nginx_path() is None
    if missing_nginx and any(r > 1 for r in replicas):
        print("nginx is NOT installed (apt-get install -y nginx): skipping the runs with more than one replica")
        replicas = [r for r in replicas if r == 1]
    reports = []
    for r in replicas:
        for u in users:
            print(f"\n== {r} replica(s), {u} students, {args.duration} s, acting every {args.wait} s on /{args.link}", flush=True)
            reports.append(measure(r, u, args))
            Path(args.out).write_text(json.dumps(reports, indent=1))
            x = reports[-1]
            print(f"   sessions held {x['sessions_held']}/{u}, dropped {x['sessions_dropped']}, errors {x['errors']} "
                  f"{x['error_kinds'] or ''}")
            print(f"   rerun p50/p95/p99 {x['rerun_p50_s']:.3f} / {x['rerun_p95_s']:.3f} / {x['rerun_p99_s']:.3f} s "
                  f"({x['reruns_steady']} after the ramp, {x['reruns']} in all); page load p50/p95 "
                  f"{x['page_load_p50_s']:.2f} / {x['page_load_p95_s']:.2f} s")
            print(f"   server CPU {x['server_cpu_s']} s = {x['server_cpu_per_action_ms']} ms per action, "
                  f"{x['server_cores_used']} cores; Locust {x['client_cpu_s']} s; machine {x['machine_cpu_s']} s busy")
            print(f"   RSS start {x['rss_start_mb']} MB, peak {x['rss_peak_mb']} MB; sessions per replica {x['sessions_per_replica']}",
                  flush=True)
    print("\n" + HEADER)
    for x in reports:
        print(row(x))
    print(f"\nwritten to {args.out}")
    if missing_nginx:
        print("nginx is NOT installed: the runs with more than one replica were skipped")
        sys.exit(3)


if __name__ == "__main__":
    main()
