"""What every page must do, read from its source: each chart is drawn with the app's own theme (theme=None), so
fonts, tick sizes and colours are the same on every page."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PAGES = sorted((Path(__file__).resolve().parents[1] / "pages").glob("*.py"))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_every_chart_uses_the_apps_theme(page):
    calls = [n for n in ast.walk(ast.parse(page.read_text(encoding="utf-8")))
             if isinstance(n, ast.Call) and getattr(n.func, "attr", None) == "plotly_chart"]
    for call in calls:
        theme = {k.arg: k.value for k in call.keywords}.get("theme")
        assert isinstance(theme, ast.Constant) and theme.value is None, f"{page.name}:{call.lineno} draws with Streamlit's theme"
