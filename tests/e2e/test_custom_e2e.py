"""Write your own step() in a real browser: a learner types a program with a mistake, reads where it is, fixes it and
sees their optimizer equal torch's."""
from __future__ import annotations

import re

import pytest

from .browser import assert_clean, assert_drawn, open_page, settle, shoot
from .conftest import app_pages

pytestmark = pytest.mark.e2e

EDITOR = "your step(), one assignment per line"
# torch.optim.SGD with momentum, typed without the template's comment (so the verdict speaks of "your program")
MISTAKE = ("momentum_buffer = g if t == 1 else momentum * momentum_buffer + (1 - dampening) * g\n"
           "p = p - lr * momentun_buffer")
FIXED = MISTAKE.replace("momentun_buffer", "momentum_buffer")


def submit(page, text: str) -> None:
    """Type the program into the editor and run it with Ctrl+Enter, as the editor's help says."""
    editor = page.get_by_role("textbox", name=EDITOR)
    editor.fill(text)
    editor.press("Control+Enter")
    page.wait_for_timeout(300)
    settle(page)


def alerts(page, kind: str) -> list[str]:
    """The text of every alert of one kind on the page ('Error', 'Success', ...)."""
    return [t.strip() for t in page.locator(f"[data-testid='stAlertContent{kind}']").all_inner_texts()]


@pytest.mark.skipif("custom_step.py" not in dict(app_pages()), reason="pages/custom_step.py is not in app.py")
def test_a_mistake_is_located_then_the_fixed_program_equals_torch(page, server, shots):
    open_page(page, server, "custom_step")
    assert any("equals torch.optim.SGD" in a for a in alerts(page, "Success")), alerts(page, "Success")

    submit(page, MISTAKE)
    assert_clean(page, "custom step: a program with a mistake")
    errors = alerts(page, "Error")
    assert any("can't run" in e and "line 2, column 14" in e and "unknown name 'momentun_buffer'" in e
               and "did you mean 'momentum_buffer'?" in e for e in errors), errors
    assert not alerts(page, "Success") and not page.locator(".js-plotly-plot").count()   # nothing runs a bad program
    shoot(page, shots, "custom-step-mistake")

    submit(page, FIXED)
    assert_clean(page, "custom step: the fixed program")
    assert not alerts(page, "Error"), alerts(page, "Error")
    verdicts = alerts(page, "Success")
    assert any(re.search(r"Your program equals torch\.optim\.SGD (bit for bit|to \S+) over 200 steps", v) for v in verdicts), verdicts
    assert "momentum_buffer" in page.url   # the program is in the link
    assert_drawn(page, "custom step: the fixed program", complete=False)
    shoot(page, shots, "custom-step-equal")
