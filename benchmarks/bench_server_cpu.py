"""Server CPU per action: one headless-Chromium session against a real optviz server, timed from /proc.

    python benchmarks/bench_server_cpu.py [--pages explorer,race,small_nets,sweeps] [--repeats 5]
                                          [--gc config|on|off] [--long 160] [--out FILE]

Starts the app on 127.0.0.1 (a free port), drives one Chromium tab, and for each page reports the median server CPU
(user + system time of the Streamlit process, all its threads, from /proc/<pid>/stat) of: a page load (a new session)
with cached results and with settings nobody asked for yet, and a slider move to a value already seen (cached) and
to a new one (uncached); on the Gallery the move is a page turn (its "next ▶" and "◀ previous" buttons). Each action
waits until the browser says the script run is over (no status widget, no skeleton, the run counter moved) and then
until the server's CPU clock stops moving, so the post-run work (Streamlit's garbage collection, session cleanup) is
counted in the action that caused it.

`--long N` then runs N distinct slider moves round-robin over the pages (a tab each, kept open, like a student who
explores for an hour) and prints RSS and CPU per action every 20 moves: the numbers behind the choice of
`runner.postScriptGC`. `--gc on|off` overrides `.streamlit/config.toml` for the server (`config` keeps it).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("OPTVIZ_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
VIEWPORT = {"width": 1440, "height": 1000}

IDLE_JS = """() => {
  const app = document.querySelector("[data-testid='stApp']");
  return !!app && app.getAttribute('data-test-script-state') === 'notRunning'
    && app.getAttribute('data-test-connection-state') === 'CONNECTED'
    && !document.querySelector("[data-testid='stStatusWidget']")
    && !document.querySelector("[data-testid='stSkeleton']");
}"""
# The n-th slider labelled `label`: its index among all sliders and whether it can move up / down.
SLIDER_JS = """([label, nth]) => {
  const all = Array.from(document.querySelectorAll("[data-testid='stSlider'] input[type='range']"));
  const mine = all.filter(e => e.getAttribute('aria-label') === label);
  if (mine.length <= nth) return null;
  const e = mine[nth], v = parseFloat(e.value);
  return {i: all.indexOf(e), up: v < parseFloat(e.max), down: v > parseFloat(e.min), value: e.value};
}"""
SLIDERS = "[data-testid='stSlider'] input[type='range']"


@dataclass(frozen=True)
class Page:
    path: str
    slider: tuple[str, int]       # the slider a student moves (label, which one of that label)
    second: tuple[str, int]       # a second slider, stepped once the first has crossed its range (long session)
    fresh: dict                   # query whose value k gives settings nobody asked for yet: {param: fn(k) -> text}
    buttons: tuple[str, str] | None = None      # (forward, back): a page turned by buttons, not a slider (the Gallery)

    def fresh_url(self, base: str, k: int) -> str:
        return f"{base}/{self.path}?" + urlencode({"v": "1", **{p: f(k) for p, f in self.fresh.items()}})


PAGES = {
    "explorer": Page("explorer", ("lr", 0), ("momentum", 0), {"cfg": lambda k: json.dumps({"steps": 150 + k})}),
    "race": Page("race", ("steps", 0), ("gradient noise σ", 0), {"cfg": lambda k: json.dumps({"steps": 250 + k})}),
    "small_nets": Page("small_nets", ("lr", 0), ("momentum", 0), {"net": lambda k: json.dumps({"seed": 1 + k})}),
    # below the default 300 steps: the slider moves go up from it, to settings nobody asked for yet
    "sweeps": Page("sweeps", ("steps", 0), ("cells per axis", 0), {"cfg": lambda k: json.dumps({"steps": 290 - 10 * k})}),
    "quadratic_lab": Page("quadratic_lab", ("steps", 0), ("rotation (degrees)", 0), {"cfg": lambda k: json.dumps({"steps": 190 - 10 * k})}),
    "custom_step": Page("custom_step", ("steps", 0), ("steps", 0), {"cfg": lambda k: json.dumps({"steps": 190 - 10 * k})}),
    # new steps tune the zoo's 6 entries afresh (~18,000 gradient evaluations); the default zoo's come from the stored table
    "zoo": Page("zoo", ("steps", 0), ("lrs per factor of 10", 0), {"cfg": lambda k: json.dumps({"steps": 190 - 10 * k})}),
    # a move turns the page (the top pager's buttons); new-settings loads open Rastrigin's pages, the moves Rosenbrock's
    "gallery": Page("gallery", ("", 0), ("", 0), {"surface": lambda k: "rastrigin", "page": lambda k: str(1 + k)},
                    buttons=("next ▶", "◀ previous")),
}


# -- the server and its clocks ----------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all of its threads (live and exited), so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    m = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(m.group(1)) / 1024 if m else float("nan")


def quiet(pid: int, still: float = 0.3, limit: float = 20.0) -> None:
    """Wait until the process's CPU clock has not moved for `still` seconds (post-run work done)."""
    deadline = time.monotonic() + limit
    last, since = cpu_seconds(pid), time.monotonic()
    while time.monotonic() - since < still and time.monotonic() < deadline:
        time.sleep(0.05)
        now = cpu_seconds(pid)
        if now != last:
            last, since = now, time.monotonic()


class Server:
    def __init__(self, gc: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.gc = gc

    def __enter__(self):
        cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port",
               str(self.port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]
        if self.gc != "config":
            cmd += ["--runner.postScriptGC", "true" if self.gc == "on" else "false"]
        self.log = tempfile.NamedTemporaryFile("w+", prefix="optviz-bench-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while True:
            try:
                if urllib.request.urlopen(self.url + "/_stcore/health", timeout=2).read().strip() == b"ok":
                    return self
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError("streamlit did not start")
            time.sleep(0.3)

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        os.unlink(self.log.name)


# -- the browser side -------------------------------------------------------------------------------------------

class Runs:
    """Counts the script runs a tab's server finished, from the `script_finished` messages on its WebSocket (a cached
    rerun can be over before the browser ever renders the 'running' state, so the DOM alone may miss it)."""

    def __init__(self, page):
        self.page, self.n = page, 0
        page.on("websocket", lambda ws: ws.on("framereceived", self._frame) if ws.url.endswith("/_stcore/stream") else None)

    def _frame(self, payload) -> None:
        if isinstance(payload, (bytes, bytearray)):
            msg = ForwardMsg()
            msg.ParseFromString(bytes(payload))
            if msg.WhichOneof("type") == "script_finished" and msg.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                self.n += 1


def settle(page, timeout: float = 120.0) -> None:
    """The script run is over and stayed over for a moment (nothing still loading)."""
    deadline = time.monotonic() + timeout
    stable = 0
    while stable < 3:
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not finish its run")
        stable = stable + 1 if page.evaluate(IDLE_JS) else 0
        page.wait_for_timeout(50)


def check_clean(page, what: str) -> None:
    boxes = page.locator("[data-testid='stException']")
    if boxes.count():
        raise RuntimeError(f"{what}: the page shows an exception: {boxes.first.inner_text()[:600]}")


def load(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("[data-testid='stApp']")
    settle(page)
    check_clean(page, url)


def move(runs: Runs, slider: tuple[str, int], up: bool | None = None, timeout: float = 120.0) -> bool:
    """Press an arrow key on a slider and wait for the rerun; returns the direction moved (up: True)."""
    page = runs.page
    state = page.evaluate(SLIDER_JS, list(slider))
    if state is None:
        raise RuntimeError(f"no slider {slider} on {page.url}")
    if up is None:
        up = state["up"]
    elif up != (state["up"] if up else not state["down"]):
        up = not up             # at its bound: move the other way
    page.locator(SLIDERS).nth(state["i"]).focus()
    _rerun(runs, lambda: page.keyboard.press("ArrowRight" if up else "ArrowLeft"), f"moving {slider}", timeout)
    return up


def _rerun(runs: Runs, act, what: str, timeout: float) -> None:
    """Do ``act``, wait until the server has started a rerun for it and the page has settled, and check the page."""
    before = runs.n
    act()
    deadline = time.monotonic() + timeout
    while runs.n <= before:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no rerun after {what}")
        runs.page.wait_for_timeout(20)
    settle(runs.page, timeout)
    check_clean(runs.page, f"{runs.page.url} after {what}")


def turn(runs: Runs, buttons: tuple[str, str], up: bool | None = None, timeout: float = 120.0) -> bool:
    """Click the first button labelled forward (up) or back and wait for the rerun; returns the direction clicked."""
    page = runs.page

    def button(forward: bool):
        return page.get_by_role("button", name=buttons[0 if forward else 1], exact=True).first

    up = True if up is None else up
    if button(up).is_disabled():
        up = not up             # at the first or last page: the other way
    _rerun(runs, button(up).click, f"clicking {buttons[0 if up else 1]!r}", timeout)
    return up


def timed(pid: int, action) -> tuple[float, float]:
    """(server CPU seconds, wall seconds) of one action, post-run work included."""
    quiet(pid)
    c0, t0 = cpu_seconds(pid), time.perf_counter()
    action()
    wall = time.perf_counter() - t0
    quiet(pid)
    return cpu_seconds(pid) - c0, wall


# -- the measurements -------------------------------------------------------------------------------------------

def measure_page(runs: Runs, srv: Server, spec: Page, repeats: int) -> dict:
    tab, pid, url = runs.page, srv.proc.pid, f"{srv.url}/{spec.path}"
    out: dict[str, list] = {k: [] for k in ("cold_load", "load_cached", "load_uncached", "move_uncached", "move_cached")}
    out["cold_load"].append(timed(pid, lambda: load(tab, url)))
    for _ in range(repeats):
        out["load_cached"].append(timed(pid, lambda: load(tab, url)))
    for k in range(repeats):
        out["load_uncached"].append(timed(pid, lambda k=k: load(tab, spec.fresh_url(srv.url, k))))
    load(tab, url)

    def step(up: bool | None) -> bool:
        return turn(runs, spec.buttons, up) if spec.buttons else move(runs, spec.slider, up)

    direction = None
    for _ in range(repeats):      # each press a value nobody asked for yet
        holder = {}
        out["move_uncached"].append(timed(pid, lambda: holder.update(up=step(direction))))
        direction = holder["up"]
    for _ in range(repeats):      # back and forth between two values already computed
        direction = not direction
        out["move_cached"].append(timed(pid, lambda d=direction: step(d)))
    return {k: {"cpu_ms": [round(1000 * c) for c, _ in v], "wall_ms": [round(1000 * w) for _, w in v],
                "cpu_ms_median": round(1000 * statistics.median(c for c, _ in v)),
                "wall_ms_median": round(1000 * statistics.median(w for _, w in v))} for k, v in out.items()}


def long_session(browser, srv: Server, pages: list[str], actions: int, every: int = 20) -> list[dict]:
    """`actions` distinct slider moves round-robin over one open tab per page: the first slider walks its range,
    then the second slider steps once and the first walks back (a boustrophedon, so every setting is new)."""
    pid = srv.proc.pid
    ctx = browser.new_context(viewport=VIEWPORT)
    tabs = {}
    for name in pages:
        tabs[name] = Runs(ctx.new_page())
        tabs[name].page.set_default_timeout(120_000)
        load(tabs[name].page, f"{srv.url}/{PAGES[name].path}")
    direction = {name: True for name in pages}
    rows, block, cpu_block = [], [], []
    quiet(pid)
    rows.append({"actions": 0, "rss_mb": round(rss_mb(pid)), "cpu_ms_median": None})
    for n in range(1, actions + 1):
        name = pages[(n - 1) % len(pages)]
        tab, spec = tabs[name], PAGES[name]

        def act():
            state = tab.page.evaluate(SLIDER_JS, list(spec.slider))
            if (direction[name] and not state["up"]) or (not direction[name] and not state["down"]):
                move(tab, spec.second, True)          # next row of the grid, then walk the first slider back
                direction[name] = not direction[name]
            else:
                move(tab, spec.slider, direction[name])

        cpu, _ = timed(pid, act)
        block.append(cpu)
        if n % every == 0 or n == actions:
            cpu_block.append(statistics.median(block))
            rows.append({"actions": n, "rss_mb": round(rss_mb(pid)), "cpu_ms_median": round(1000 * statistics.median(block)),
                         "cpu_ms_mean": round(1000 * statistics.fmean(block))})
            print(f"   after {n:4d} moves: RSS {rows[-1]['rss_mb']} MB, CPU per move median {rows[-1]['cpu_ms_median']} ms "
                  f"mean {rows[-1]['cpu_ms_mean']} ms (last {len(block)})", flush=True)
            block = []
    ctx.close()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", default=",".join(PAGES))
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--gc", choices=("config", "on", "off"), default="config",
                    help="runner.postScriptGC for the server (config: as .streamlit/config.toml says)")
    ap.add_argument("--long", type=int, default=0, help="distinct slider moves in the long session (0: skip it)")
    ap.add_argument("--max-load", type=float, default=2.5, help="start only below this 1-minute load average")
    ap.add_argument("--load-wait", type=float, default=2400, help="seconds to wait at most for --max-load")
    ap.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "optviz_bench_server_cpu.json"))
    args = ap.parse_args()
    pages = [p for p in args.pages.split(",") if p]
    unknown = [p for p in pages if p not in PAGES]
    if unknown:
        ap.error(f"unknown pages {unknown}; known: {', '.join(PAGES)}")
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from load_test import wait_for_quiet_machine

    wait_for_quiet_machine(args.max_load, args.load_wait)
    report = {"gc": args.gc, "repeats": args.repeats, "loadavg_before": os.getloadavg(), "cpus": os.cpu_count(), "pages": {}}
    with Server(args.gc) as srv, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            ctx = browser.new_context(viewport=VIEWPORT)
            tab = Runs(ctx.new_page())
            tab.page.set_default_timeout(120_000)
            print(f"server pid {srv.proc.pid}, postScriptGC: {args.gc}; 1-min load {os.getloadavg()[0]:.1f}")
            print(f"{'page':<11} {'cold load':>10} {'load cached':>12} {'load new':>10} {'move cached':>12} {'move new':>10}"
                  "   (server CPU ms, median; wall ms below)")
            for name in pages:
                r = report["pages"][name] = measure_page(tab, srv, PAGES[name], args.repeats)
                keys = ("cold_load", "load_cached", "load_uncached", "move_cached", "move_uncached")
                print(f"{name:<11} " + " ".join(f"{r[k]['cpu_ms_median']:>{w}}" for k, w in zip(keys, (10, 12, 10, 12, 10))))
                print(f"{'  wall':<11} " + " ".join(f"{r[k]['wall_ms_median']:>{w}}" for k, w in zip(keys, (10, 12, 10, 12, 10))),
                      flush=True)
            ctx.close()
            report["rss_mb_after"] = round(rss_mb(srv.proc.pid))
            print(f"RSS after: {report['rss_mb_after']} MB")
            sliding = [p for p in pages if PAGES[p].buttons is None]
            if args.long and sliding:
                print(f"long session: {args.long} distinct slider moves over {', '.join(sliding)}")
                report["long"] = long_session(browser, srv, sliding, args.long)
        finally:
            browser.close()
    report["loadavg_after"] = os.getloadavg()
    Path(args.out).write_text(json.dumps(report, indent=1))
    print(f"1-min load {report['loadavg_before'][0]:.1f} before, {report['loadavg_after'][0]:.1f} after; written to {args.out}")


if __name__ == "__main__":
    main()
