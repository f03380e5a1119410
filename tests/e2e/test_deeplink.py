"""A fresh server's first visitor arriving by a deep link gets the app's navigation, layout and figure, not a bare page."""
import os
import subprocess
import sys
import time
import urllib.request

import pytest

from .browser import assert_clean, assert_drawn, settle
from .conftest import ROOT, VIEWPORT, _free_port


@pytest.mark.e2e
def test_first_visit_by_deep_link_gets_the_navigation(browser):
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                             "--server.port", str(port), "--server.address", "127.0.0.1"],
                            cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ctx = browser.new_context(viewport=VIEWPORT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/_stcore/health", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, "streamlit did not start"
                time.sleep(0.3)
        page = ctx.new_page()
        page.set_default_timeout(60_000)
        page.goto(f"{base}/pitfalls?v=1")
        nav = page.locator("[data-testid='stSidebarNav']")
        nav.get_by_text("Trajectory Explorer").wait_for()
        links = nav.locator("a").all_inner_texts()
        assert not any(t.strip() in ("app", "pitfalls", "inside step") for t in links), links
        page.get_by_text("Pitfalls Lab").first.wait_for()
        assert "/pitfalls" in page.url
        settle(page)
        assert_clean(page, "pitfalls by a deep link")
        assert assert_drawn(page, "pitfalls by a deep link"), "the deep-linked page shows no figure"
    finally:
        ctx.close()
        proc.terminate()
        proc.wait(timeout=20)
