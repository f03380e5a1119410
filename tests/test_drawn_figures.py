"""What the lessons' figures draw, read from their figure dicts: every axis with tick labels has a title, the
Scheduler Lab's text names the epoch lines its figure draws."""
import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

PAGES = Path(__file__).resolve().parents[1] / "pages"


def titled_axes(layout: dict) -> dict[str, str]:
    """Each cartesian axis of a figure dict and its title ('' when untitled)."""
    return {k: ((layout[k].get("title") or {}).get("text") or "") for k in layout if k.startswith(("xaxis", "yaxis"))}


def shown(layout: dict, axis: str) -> bool:
    return layout[axis].get("showticklabels", True) is not False and layout[axis].get("visible", True) is not False


# -- Scheduler Lab --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("epochs, said", [(30, "Dotted lines mark the epochs."), (200, "Dotted lines mark every 10th epoch."),
                                          (1, None)])
def test_scheduler_lab_says_which_epoch_lines_it_draws(epochs, said):
    at = AppTest.from_file(str(PAGES / "scheduler_lab.py"), default_timeout=30)
    at.query_params["lab"] = json.dumps({"epochs": epochs, "steps_per_epoch": 4})
    at.run()
    assert not at.exception, at.exception
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    dotted = [t for t in fig["data"] if (t.get("line") or {}).get("dash") == "dot"]
    lines = [sum(x is None for x in t["x"]) for t in dotted]       # one None after each line's two points
    text = " ".join(m.value for m in at.markdown)
    if said is None:
        assert "Dotted lines" not in text and not lines
    else:
        assert said in text
        stride = 1 if "the epochs" in said else int(said.split("every ")[1].split("th")[0])
        assert lines == [len(range(stride, epochs, stride))] * 2 and lines[0] > 0      # both columns
        xs = [x for t in dotted for x in t["x"] if x is not None]
        assert min(xs) == stride * 4 + 0.5          # the first line sits between epoch `stride` and the next
    untitled = [k for k, t in titled_axes(fig["layout"]).items() if not t and k.startswith("yaxis") and shown(fig["layout"], k)]
    assert not untitled, f"untitled y axes: {untitled}"
