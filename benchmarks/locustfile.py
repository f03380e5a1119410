"""Locust: a class of students on one lesson link, each a Streamlit session spoken to over its WebSocket (no browser).

Not part of pytest. Run it through benchmarks/run_locust.py, which starts the servers (and nginx), checks the machine's
load, bounds users and time and stops everything it started. By hand, against a server you started on loopback:

    locust -f benchmarks/locustfile.py --headless -u 10 -r 2 -t 30s --host http://127.0.0.1:8501

A student opens the link (a new session: fetch the page, open the WebSocket, first script run), then every
OPTVIZ_WAIT seconds ("5,10": uniformly 5 to 10 s after the previous action ends; "10": one action every 10 s) moves
a slider: most follow the teacher (the same few settings, which the caches answer after the first student asked),
a share OPTVIZ_EXPLORE (0.2) explores (settings nobody asked for, a real torch run). Reported to Locust per action
("page load", "rerun"); failures are exceptions shown, timeouts and dropped sessions. With OPTVIZ_LOCUST_OUT set,
every latency and each session's fate is written there as JSON when the test stops.
"""
from __future__ import annotations

import json
import os
import random
import sys
import time
from pathlib import Path

from locust import User, between, constant_pacing, events, task

sys.path.insert(0, str(Path(__file__).resolve().parent))
from st_client import Session, SessionError  # noqa: E402

LINK = os.environ.get("OPTVIZ_LINK", "explorer?preset=momentum_overshoot")
PAGE, _, QUERY = LINK.partition("?")
EXPLORE = float(os.environ.get("OPTVIZ_EXPLORE", "0.2"))
TIMEOUT = float(os.environ.get("OPTVIZ_TIMEOUT", "60"))
# the teacher's "now try ..." settings: (steps, momentum)
LESSON_STEPS = (100, 200, 300, 400)
LESSON_MOMENTUM = (0.0, 0.5, 0.9, 0.99)


def _wait_time():
    text = os.environ.get("OPTVIZ_WAIT", "5,10")
    lo, _, hi = text.partition(",")
    return between(float(lo), float(hi)) if hi else constant_pacing(float(lo))


RESULTS = {"page_load": [], "rerun": [], "sessions": [], "errors": []}


def _report(kind: str, t0: float, seconds: float | None, size: int, error: Exception | None) -> None:
    events.request.fire(request_type="WS", name=kind, response_time=1000 * (seconds or 0.0), response_length=size,
                        exception=error, context={})
    if error is None:
        RESULTS["page_load" if kind == "page load" else "rerun"].append((round(t0, 3), round(seconds, 4)))
    else:
        RESULTS["errors"].append((round(t0, 3), kind, str(error)[:200]))


class Student(User):
    wait_time = _wait_time()

    def on_start(self):
        assert self.host.startswith(("http://127.0.0.1:", "http://localhost:")), "loopback only"
        self.explorer = random.random() < EXPLORE
        self.session, self.fate = Session(self.host, PAGE, QUERY, timeout=TIMEOUT), None
        t0 = time.time()
        try:
            seconds = self.session.open()
            self.steps_key = self.session.key_ending(".steps")
            self.momentum_key = self.session.key_ending(".momentum")
            _report("page load", t0, seconds, self.session.bytes_in, None)
        except Exception as e:   # a failed page load is a result; this student then only waits
            _report("page load", t0, None, 0, e)
            self.fate = f"page load failed: {e}"[:200]
            self.session.close()

    @task
    def move_a_slider(self):
        s = self.session
        if self.fate is not None:
            return
        if s.closed:    # the server ended the session between two actions
            self.fate = s.closed
            _report("session dropped", time.time(), None, 0, SessionError(s.closed))
            return
        if self.explorer:
            change = random.choice([{self.steps_key: random.randint(20, 1000)},
                                    {self.momentum_key: round(random.uniform(0.0, 0.999), 3)}])
        else:
            change = random.choice([{self.steps_key: random.choice(LESSON_STEPS)},
                                    {self.momentum_key: random.choice(LESSON_MOMENTUM)}])
        before, t0 = s.bytes_in, time.time()
        try:
            _report("rerun", t0, s.rerun(change), s.bytes_in - before, None)
        except SessionError as e:
            _report("rerun", t0, None, 0, e)

    def on_stop(self):
        s = self.session
        fate = self.fate if self.fate is not None else s.closed
        RESULTS["sessions"].append({"held": fate is None, "fate": fate, "runs": s.runs, "explorer": self.explorer})
        s.close()


@events.quitting.add_listener
def _write_results(environment, **kwargs):
    out = os.environ.get("OPTVIZ_LOCUST_OUT")
    if out:
        Path(out).write_text(json.dumps(RESULTS))
