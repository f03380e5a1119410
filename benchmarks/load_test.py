"""Load test: N concurrent headless-Chromium sessions against optviz, through nginx and 2 replicas, then against
1 replica without nginx. Loopback only, bounded in time, stops everything it started.

    python benchmarks/load_test.py [--sessions 20] [--page explorer] [--interactions 3] [--mode both]

Each session opens the page, waits until the script run is done, then moves a slider `--interactions` times,
each time waiting for the rerun to finish. Reported per setup: sessions completed, exceptions shown, p50/p95 of
the page load and of the interaction latency (key press to rerun done), peak RSS per replica, and how the
sessions were spread over the replicas (from nginx's access log).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
IDLE_JS = """() => {
  const app = document.querySelector("[data-testid='stApp']");
  return !!app && app.getAttribute('data-test-script-state') === 'notRunning'
    && app.getAttribute('data-test-connection-state') === 'CONNECTED'
    && !document.querySelector("[data-testid='stStatusWidget']")
    && !document.querySelector("[data-testid='stSkeleton']");
}"""
WATCH_RUNS_JS = """() => {
  if (!window.__runs__) {
    window.__runs__ = {n: 0};
    const app = document.querySelector("[data-testid='stApp']");
    new MutationObserver(rs => { for (const r of rs) if (r.oldValue === 'running') window.__runs__.n++; })
      .observe(app, {attributes: true, attributeOldValue: true, attributeFilter: ['data-test-script-state']});
  }
  return window.__runs__.n;
}"""
SLIDERS = "[data-testid='stSlider'] input[type='range']"
# Sliders a student would move (preferred by label), each with the arrow key that moves it off its bound.
MOVES_JS = """(prefer) => Array.from(document.querySelectorAll("[data-testid='stSlider'] input[type='range']")).map((e, i) => {
  const v = parseFloat(e.value), lo = parseFloat(e.min), hi = parseFloat(e.max);
  return {i, label: e.getAttribute('aria-label') || '', up: v < hi, down: v > lo};
}).filter(m => m.up || m.down).sort((a, b) => (prefer.indexOf(b.label) >= 0) - (prefer.indexOf(a.label) >= 0))"""
PREFERRED = ["lr", "momentum", "steps"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(url: str) -> bool:
    try:
        return urllib.request.urlopen(url, timeout=2).read().strip() == b"ok"
    except OSError:
        return False


def rss_mb(pid: int) -> float:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return float("nan")
    m = re.search(r"VmRSS:\s+(\d+) kB", text)
    return int(m.group(1)) / 1024 if m else float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def busy_seconds() -> float:
    """CPU time spent by the whole machine (all processes, all cores) so far."""
    cpu = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    ticks = [int(x) for x in cpu]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")   # minus idle and iowait


def wait_for_quiet_machine(max_load: float, patience: float) -> float:
    """Sleep in 60 s steps until the 1-minute load average is below max_load (or patience runs out); returns it."""
    deadline = time.monotonic() + patience
    while True:
        load = os.getloadavg()[0]
        if load < max_load or time.monotonic() + 60 > deadline:
            if load >= max_load:
                print(f"   load {load:.2f} still ≥ {max_load} after waiting: measuring anyway (the result says so)")
            return load
        print(f"   1-min load {load:.2f} ≥ {max_load}: waiting 60 s", flush=True)
        time.sleep(60)


class RssSampler(threading.Thread):
    """Peak resident memory of each process, sampled every 0.5 s."""

    def __init__(self, pids: dict[str, int]):
        super().__init__(daemon=True)
        self.pids, self.peak, self.stop = pids, {k: 0.0 for k in pids}, threading.Event()
        self.start_mb = {k: rss_mb(p) for k, p in pids.items()}

    def run(self):
        while not self.stop.is_set():
            for k, p in self.pids.items():
                self.peak[k] = max(self.peak[k], rss_mb(p))
            self.stop.wait(0.5)


# -- the servers ----------------------------------------------------------------------------------------------

class Replicas:
    """deploy/start_replicas.sh: 2 replicas + nginx on loopback, in a private run directory."""

    def __init__(self, n: int):
        self.n = n
        self.rundir = Path(tempfile.mkdtemp(prefix="optviz-load-"))
        self.nginx_port = free_port()
        self.base_port = free_port()
        while any(not self._port_free(self.base_port + i) for i in range(n)):
            self.base_port = free_port()
        self.env = {**os.environ, "OPTVIZ_RUNDIR": str(self.rundir), "OPTVIZ_NGINX_PORT": str(self.nginx_port),
                    "OPTVIZ_REPLICA_PORT": str(self.base_port), "PYTHON": sys.executable}
        self.url = f"http://127.0.0.1:{self.nginx_port}"

    @staticmethod
    def _port_free(port: int) -> bool:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return True
            except OSError:
                return False

    def __enter__(self):
        subprocess.run(["bash", str(ROOT / "deploy" / "start_replicas.sh"), "start", str(self.n)], env=self.env,
                       check=True, timeout=180)
        return self

    def direct_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{self.base_port + i}" for i in range(self.n)]

    def pids(self) -> dict[str, int]:
        out = {}
        for line in (self.rundir / "pids").read_text().splitlines():
            kind, *rest = line.split()
            if kind == "replica":
                out[f"replica :{rest[0]}"] = int(rest[1])
        return out

    def spread(self) -> dict[str, int]:
        """WebSocket sessions per replica, from nginx's access log."""
        counts: dict[str, int] = {}
        log = self.rundir / "nginx-access.log"
        for line in log.read_text().splitlines() if log.exists() else []:
            if "/_stcore/stream" in line:
                m = re.search(r" (\d{3}) (127\.0\.0\.1:\d+) ", line)
                if m:
                    counts[m.group(2)] = counts.get(m.group(2), 0) + 1
        return counts

    def __exit__(self, *exc):
        subprocess.run(["bash", str(ROOT / "deploy" / "start_replicas.sh"), "stop"], env=self.env, timeout=60)
        shutil.rmtree(self.rundir, ignore_errors=True)


class Single:
    """One Streamlit process, browsers connect to it directly."""

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        self.log = open(tempfile.mktemp(prefix="optviz-single-", suffix=".log"), "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port",
             str(self.port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while not healthy(self.url + "/_stcore/health"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError("streamlit did not start")
            time.sleep(0.5)
        return self

    def direct_urls(self) -> list[str]:
        return [self.url]

    def pids(self) -> dict[str, int]:
        return {f"single :{self.port}": self.proc.pid}

    def spread(self) -> dict[str, int]:
        return {}

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        os.unlink(self.log.name)


# -- the sessions ---------------------------------------------------------------------------------------------

async def wait_idle(page, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    stable = 0
    while stable < 2:
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not finish its run")
        stable = stable + 1 if await page.evaluate(IDLE_JS) else 0
        await asyncio.sleep(0.1)


async def session(browser, url: str, i: int, interactions: int, timeout: float) -> dict:
    out = {"loaded": None, "latencies": [], "exceptions": 0, "error": None}
    ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = await ctx.new_page()
        t0 = time.perf_counter()
        await page.goto(url, timeout=timeout * 1000)
        await page.wait_for_selector("[data-testid='stApp']", timeout=timeout * 1000)
        await wait_idle(page, timeout)
        out["loaded"] = time.perf_counter() - t0
        await page.evaluate(WATCH_RUNS_JS)
        sliders = page.locator(SLIDERS)
        for k in range(interactions):
            moves = await page.evaluate(MOVES_JS, PREFERRED)
            if not moves:
                raise RuntimeError("no slider on the page")
            move = moves[(i + k) % min(len(moves), len(PREFERRED))]
            up = move["up"] and (not move["down"] or (i + k) % 2 == 0)
            runs = await page.evaluate(WATCH_RUNS_JS)
            await sliders.nth(move["i"]).focus()
            t1 = time.perf_counter()
            await page.keyboard.press("ArrowRight" if up else "ArrowLeft")
            deadline = time.monotonic() + timeout
            while await page.evaluate(WATCH_RUNS_JS) <= runs:
                if time.monotonic() > deadline:
                    raise TimeoutError("no rerun after moving a slider")
                await asyncio.sleep(0.05)
            await wait_idle(page, timeout)
            out["latencies"].append(time.perf_counter() - t1)
        out["exceptions"] = await page.locator("[data-testid='stException']").count()
    except Exception as e:  # one failed session is a result to report, not a reason to stop the others
        out["error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
    finally:
        await ctx.close()
    return out


async def drive(url: str, sessions: int, interactions: int, timeout: float, stagger: float) -> list[dict]:
    from playwright.async_api import async_playwright

    assert url.startswith("http://127.0.0.1:"), "the load test only talks to loopback"
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            async def one(i):
                await asyncio.sleep(i * stagger)  # a classroom clicks the link within a few seconds, not all at once
                return await session(browser, url, i, interactions, timeout)
            return await asyncio.gather(*(one(i) for i in range(sessions)))
        finally:
            await browser.close()


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, max(0, round(q / 100 * (len(v) - 1))))]


def measure(setup, name: str, path: str, args) -> dict:
    with setup as s:
        url = f"{s.url}/{path}"
        # one warm-up visit per replica: its first script run imports torch and fills its caches, as after a deploy
        for direct in s.direct_urls():
            asyncio.run(drive(f"{direct}/{path}", 1, 1, args.timeout, 0.0))
        pids = s.pids()
        sampler = RssSampler(pids)
        load_before = os.getloadavg()[0]
        cpu0, busy0 = {k: cpu_seconds(p) for k, p in pids.items()}, busy_seconds()
        sampler.start()
        t0 = time.perf_counter()
        try:
            results = asyncio.run(asyncio.wait_for(drive(url, args.sessions, args.interactions, args.timeout, args.stagger),
                                                   timeout=args.deadline))
        finally:
            sampler.stop.set()
            sampler.join()
        wall = time.perf_counter() - t0
        server_cpu = {k: cpu_seconds(p) - cpu0[k] for k, p in pids.items()}
        machine_cpu = busy_seconds() - busy0
        spread = s.spread()
    lat = [x for r in results for x in r["latencies"]]
    loads = [r["loaded"] for r in results if r["loaded"] is not None]
    report = {
        "setup": name, "page": path or "home", "sessions": args.sessions, "interactions_each": args.interactions,
        "completed": sum(1 for r in results if r["error"] is None), "exceptions_shown": sum(r["exceptions"] for r in results),
        "errors": [r["error"] for r in results if r["error"]],
        "load_p50_s": pct(loads, 50), "load_p95_s": pct(loads, 95),
        "interaction_p50_s": pct(lat, 50), "interaction_p95_s": pct(lat, 95), "interactions": len(lat),
        "wall_s": wall, "loadavg_1min_before": load_before, "loadavg_1min_after": os.getloadavg()[0],
        "cpus": os.cpu_count(), "server_cpu_s": server_cpu, "machine_cpu_s": machine_cpu,
        "server_cpu_per_action_s": sum(server_cpu.values()) / max(1, len(lat) + len(loads)),
        "rss_start_mb": sampler.start_mb, "rss_peak_mb": sampler.peak, "websockets_per_replica": spread,
    }
    return report


def show(r: dict) -> None:
    print(f"\n== {r['setup']}: {r['sessions']} sessions on /{r['page']} ({r['interactions_each']} slider moves each)")
    print(f"   completed {r['completed']}/{r['sessions']}, exceptions shown {r['exceptions_shown']}, "
          f"errors {len(r['errors'])}, wall {r['wall_s']:.1f} s")
    print(f"   machine: {r['cpus']} CPUs, 1-min load average {r['loadavg_1min_before']:.1f} before, "
          f"{r['loadavg_1min_after']:.1f} after")
    total = sum(r["server_cpu_s"].values())
    print(f"   CPU: servers {total:.0f} s of the machine's {r['machine_cpu_s']:.0f} s busy "
          f"({100 * total / max(r['machine_cpu_s'], 1e-9):.0f} %; the rest is the browsers and everything else); "
          f"{r['server_cpu_per_action_s']:.2f} server CPU-s per page load or slider move")
    print(f"   page load      p50 {r['load_p50_s']:.2f} s   p95 {r['load_p95_s']:.2f} s")
    print(f"   interaction    p50 {r['interaction_p50_s']:.2f} s   p95 {r['interaction_p95_s']:.2f} s   (n={r['interactions']})")
    for k in r["rss_peak_mb"]:
        print(f"   RSS {k}: {r['rss_start_mb'][k]:.0f} MB at start, {r['rss_peak_mb'][k]:.0f} MB peak")
    if r["websockets_per_replica"]:
        print(f"   sessions per replica (nginx log): {r['websockets_per_replica']}")
    for e in r["errors"][:5]:
        print(f"   error: {e}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--interactions", type=int, default=3)
    ap.add_argument("--page", default="explorer" if (ROOT / "pages" / "explorer.py").exists() else "")
    ap.add_argument("--mode", choices=("both", "nginx", "single"), default="both")
    ap.add_argument("--replicas", type=int, default=2)
    ap.add_argument("--stagger", type=float, default=1.0, help="seconds between session starts (a class opening a link)")
    ap.add_argument("--timeout", type=float, default=240, help="per page load / rerun")
    ap.add_argument("--deadline", type=float, default=600, help="the whole run of one setup")
    ap.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "optviz_load_test.json"))
    args = ap.parse_args()
    if not 1 <= args.sessions <= 100:
        ap.error("--sessions must be 1..100")
    reports = []
    if args.mode in ("both", "nginx"):
        reports.append(measure(Replicas(args.replicas), f"nginx + {args.replicas} replicas", args.page, args))
        show(reports[-1])
    if args.mode in ("both", "single"):
        reports.append(measure(Single(), "1 replica, no nginx", args.page, args))
        show(reports[-1])
    Path(args.out).write_text(json.dumps(reports, indent=2))
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
