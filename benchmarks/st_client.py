"""A minimal Streamlit client: speaks the app's own WebSocket protocol (BackMsg / ForwardMsg protobufs) without a browser.

What a browser tab does, as far as the server can tell: it fetches the page (cookies), opens `/_stcore/stream` with the
`streamlit` subprotocol, sends a `rerun_script` (page name and query string, no widget states), and after each change
a `rerun_script` with the query string the server last set, the widget states, the page's script hash and the hashes
of the big messages it still holds (the server then sends a reference instead of the message). A run is over at
`script_finished`. The widget ids (``$$ID-<hash>-<key>``) are learnt from the deltas, by the widget's key.

Plain `threading` and `websocket-client`, so it runs under Locust's gevent (greenlets) as well as on its own:

    s = Session("http://127.0.0.1:8501", "explorer", "preset=momentum_overshoot"); s.open()
    s.rerun({s.key_ending(".steps"): 300.0}); s.close()
"""
from __future__ import annotations

import http.cookiejar
import threading
import time
import urllib.request
from dataclasses import dataclass, field

import websocket
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

MAX_MESSAGE_AGE = 2         # Streamlit's global.maxCachedMessageAge: the browser forgets a message unused for 2 runs


class SessionError(Exception):
    """The run failed as a user would see it: an exception shown, a timeout, the connection gone."""


@dataclass
class Widget:
    id: str
    kind: str                   # the Element oneof: slider, checkbox, selectbox, ...
    proto: object = field(repr=False)


class Session:
    def __init__(self, base_url: str, page: str, query: str = "", timeout: float = 60.0):
        self.base, self.page, self.query, self.timeout = base_url.rstrip("/"), page, query, timeout
        self.widgets: dict[str, Widget] = {}        # by user key
        self.values: dict[str, float] = {}          # what this user has set, sent with every rerun
        self.page_script_hash = ""
        self.hashes: dict[str, int] = {}            # cached message hash -> run in which it was last used
        self.runs = 0                               # finished script runs
        self.exceptions: list[str] = []             # exception elements of the current run
        self.closed: str | None = None              # why the connection ended (None while open)
        self.bytes_in = 0
        self._closing = False
        self._cond = threading.Condition()
        self.ws: websocket.WebSocket | None = None

    # -- connection ------------------------------------------------------------------------------------------
    def open(self) -> float:
        """Fetch the page, connect, run the script once; returns the seconds until the first run finished."""
        t0 = time.perf_counter()
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        url = f"{self.base}/{self.page}" + (f"?{self.query}" if self.query else "")
        opener.open(url, timeout=self.timeout).read()
        cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
        ws_url = "ws" + self.base[4:] + "/_stcore/stream"
        self.ws = websocket.create_connection(ws_url, timeout=self.timeout, subprotocols=["streamlit"], origin=self.base,
                                              cookie=cookie or None, enable_multithread=True)
        self.ws.settimeout(None)            # the reader blocks; waits are bounded by the condition below
        threading.Thread(target=self._read, daemon=True).start()
        msg = BackMsg()
        msg.rerun_script.query_string = self.query
        msg.rerun_script.page_name = self.page
        self._run(msg)
        return time.perf_counter() - t0

    def close(self) -> None:
        self._closing = True
        if self.ws is not None:
            try:
                self.ws.close(timeout=2)
            except Exception:   # already gone: nothing left to release
                pass

    # -- actions ---------------------------------------------------------------------------------------------
    def key_ending(self, suffix: str) -> str:
        """The key of the widget whose key ends with `suffix` (e.g. ".steps"); KeyError when the page has none."""
        for k in self.widgets:
            if k.endswith(suffix):
                return k
        raise KeyError(f"no widget key ending with {suffix!r}; keys: {sorted(self.widgets)[:20]}")

    def slider_range(self, key: str) -> tuple[float, float, float]:
        p = self.widgets[key].proto
        return p.min, p.max, p.step

    def rerun(self, values: dict[str, float]) -> float:
        """Set sliders (by key) as a browser would after a drag, rerun, wait for the run's end; returns seconds."""
        self.values.update(values)
        msg = BackMsg()
        cs = msg.rerun_script
        cs.query_string = self.query
        cs.page_script_hash = self.page_script_hash
        for key, value in self.values.items():
            w = cs.widget_states.widgets.add()
            w.id = self.widgets[key].id
            w.double_array_value.data.append(float(value))
        with self._cond:
            cs.cached_message_hashes.extend(list(self.hashes))
        t0 = time.perf_counter()
        self._run(msg)
        return time.perf_counter() - t0

    def _run(self, msg: BackMsg) -> None:
        with self._cond:
            if self.closed:
                raise SessionError(f"session closed: {self.closed}")
            target = self.runs + 1
            self.exceptions = []
        self.ws.send_binary(msg.SerializeToString())
        deadline = time.monotonic() + self.timeout
        with self._cond:
            while self.runs < target and not self.closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SessionError(f"no script_finished within {self.timeout:.0f} s")
                self._cond.wait(left)
            if self.runs < target:
                raise SessionError(f"session closed: {self.closed}")
            if self.exceptions:
                raise SessionError(f"exception shown: {self.exceptions[0][:200]}")

    # -- the reader --------------------------------------------------------------------------------------------
    def _read(self) -> None:
        reason = "closed by the server"
        try:
            while True:
                opcode, data = self.ws.recv_data()          # answers the server's pings itself
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    break
                if opcode == websocket.ABNF.OPCODE_BINARY:
                    self.bytes_in += len(data)
                    self._handle(data)
        except Exception as e:     # any end of the connection is a result: the session is gone
            reason = f"{type(e).__name__}: {e}"[:200]
        with self._cond:
            self.closed = "closed by this client" if self._closing else reason
            self._cond.notify_all()

    def _handle(self, data: bytes) -> None:
        msg = ForwardMsg()
        msg.ParseFromString(data)
        kind = msg.WhichOneof("type")
        if msg.metadata.cacheable and msg.hash:
            self.hashes[msg.hash] = self.runs
        if kind == "ref_hash":
            self.hashes[msg.ref_hash] = self.runs
        elif kind == "navigation":
            self.page_script_hash = msg.navigation.page_script_hash
        elif kind == "page_info_changed":
            self.query = msg.page_info_changed.query_string
        elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            el = msg.delta.new_element
            et = el.WhichOneof("type")
            if et == "exception":
                self.exceptions.append(f"{el.exception.type}: {el.exception.message}")
            elif et is not None:
                wid = getattr(getattr(el, et), "id", "")
                if isinstance(wid, str) and wid.startswith("$$ID-"):
                    self.widgets[wid.split("-", 2)[2]] = Widget(wid, et, getattr(el, et))
        elif kind == "script_finished" and msg.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
            with self._cond:
                self.runs += 1
                self.hashes = {h: r for h, r in self.hashes.items() if self.runs - r <= MAX_MESSAGE_AGE}
                self._cond.notify_all()
