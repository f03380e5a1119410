"""The Optimizer Zoo and the Gallery in a real browser. The Zoo draws one path per optimizer on the surface, labelled as
in its results table, with loss curves and the tuning scores; ▶ Play keeps the surface under the growing paths; a link
picks the optimizers and "Race these…" opens the Race with the same racers at their tuned lrs. The Gallery draws 12 cards
(surface, one path, titled with name, package and lr), pages with ◀ previous / next ▶ (disabled at the ends), filters by name,
and a card's camera downloads a PNG named after it. No title sits under a legend entry, no note over another (a Zoo
of many optimizers too). ``OPTVIZ_ZOO_SHOTS=docs/zoo`` saves the screenshots in docs/zoo."""
from __future__ import annotations

import json
import os
import re
import struct
from io import BytesIO
from pathlib import Path
from urllib.parse import parse_qs, quote, urlparse

import pytest

from optviz.core.optimizers import get_optimizer
from optviz.lessons import zoo

from .browser import (
    ANIMATION_JS,
    SAMPLE_JS,
    SAMPLE_MS,
    animated_index,
    assert_clean,
    assert_drawn,
    assert_played,
    drawn_points,
    figures,
    open_page,
    play,
    settle,
    surface_count,
)
from .conftest import app_pages

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(not {"zoo.py", "gallery.py"} <= set(dict(app_pages())), reason="the Zoo pages are not in app.py")]

PER_PAGE = 12
THREE = ["SGD", "Adam", "pytorch_optimizer.Lion"]
DOCS = os.environ.get("OPTVIZ_ZOO_SHOTS")
PNG = b"\x89PNG\r\n\x1a\n"

# The text of an st.dataframe: glide-data-grid keeps an accessible <table> of the cells it draws beside the canvas, only
# the rows scrolled into view; each row knows its aria-rowindex (1: the header).
GRID_JS = """(i) => {
  const grid = document.querySelectorAll("[data-testid='stDataFrame']")[i];
  const table = grid.querySelector('table[role=grid]');
  const rows = {};
  table.querySelectorAll('tr').forEach(r => {
    rows[r.getAttribute('aria-rowindex')] = Array.from(r.querySelectorAll('th, td')).map(c => c.textContent.trim());
  });
  return {count: Number(table.getAttribute('aria-rowcount')), rows};
}"""

# Per figure, the texts drawn over one another: the title and a legend entry, or two annotations (an exit note), whose
# boxes share more than half the height of the smaller one (a title sitting just above a legend row does not count).
OVERLAP_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(gd => {
  const box = e => { const b = e.getBoundingClientRect(); return {l: b.left, t: b.top, r: b.right, b: b.bottom}; };
  const over = (a, b) => Math.min(a.r, b.r) - Math.max(a.l, b.l) > 2
    && Math.min(a.b, b.b) - Math.max(a.t, b.t) > 0.5 * Math.min(a.b - a.t, b.b - b.t);
  const items = [];
  const title = gd.querySelector('.g-gtitle text');
  if (title && title.textContent.trim()) items.push({kind: 'title', text: title.textContent.trim(), box: box(title)});
  gd.querySelectorAll('.legend g.traces').forEach(g => items.push({kind: 'legend', text: g.textContent.trim(), box: box(g)}));
  gd.querySelectorAll('g.annotation').forEach(g => items.push({kind: 'note', text: g.textContent.trim(), box: box(g)}));
  const out = [];
  items.forEach((a, i) => items.slice(i + 1).forEach(b => {
    if (!(a.kind === 'legend' && b.kind === 'legend') && over(a.box, b.box)) out.push(`${a.kind} “${a.text}” × ${b.kind} “${b.text}”`);
  }));
  return out;
})"""


def assert_apart(page, what: str) -> None:
    """No figure draws its title under a legend entry, or one note over another."""
    clashes = [f"figure {k}: {c}" for k, f in enumerate(page.evaluate(OVERLAP_JS)) for c in f]
    assert not clashes, f"{what}: texts drawn over one another:\n" + "\n".join(clashes[:12])


def q(value) -> str:
    return quote(json.dumps(value, separators=(",", ":")))


def shot(page, shots: Path, name: str, docs: bool = True) -> None:
    """A screenshot of the window in the session's folder, and in docs/zoo too when OPTVIZ_ZOO_SHOTS says so."""
    for folder in [shots] + ([Path(DOCS)] if DOCS and docs else []):
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / f"{name}.png"))


def short(name: str) -> str:
    return name.removeprefix("pytorch_optimizer.")


# -- the Zoo ---------------------------------------------------------------------------------------------------------

def results_table(page, i: int = 0) -> list[dict]:
    """Every row of the i-th st.dataframe (scrolled through: the grid only puts the rows in view in the DOM)."""
    grid = page.locator("[data-testid='stDataFrame']").nth(i)
    grid.scroll_into_view_if_needed()
    grid.locator("table tbody tr").first.wait_for(state="attached")    # the grid draws its cells after the run
    seen: dict[str, list[str]] = {}
    box = grid.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    for _ in range(20):     # scroll down the grid with the mouse wheel, as a learner would
        got = page.evaluate(GRID_JS, i)
        seen.update(got["rows"])
        if len(seen) >= got["count"]:
            break
        page.mouse.wheel(0, 300)
        page.wait_for_timeout(150)
    assert len(seen) == got["count"], f"read {len(seen)} of the table's {got['count']} rows"
    head = seen["1"]
    return [dict(zip(head, seen[str(k)])) for k in range(2, got["count"] + 1)]


def path_names(fig: dict) -> list[str]:
    """The names of the paths (lines and markers, more than one point) a contour figure draws."""
    return [t["name"] for t in fig["traces"] if t["type"] == "scatter" and "lines" in t["mode"] and "markers" in t["mode"]
            and t["points"] > 1]


def check_zoo(page, what: str, names: list[str]) -> list[dict]:
    """The Zoo's figures are complete; the contour draws the surface and one path per optimizer, its legend holds the
    table's labels; the loss figure one curve per optimizer; the tuning figure is drawn. Returns the table."""
    figs = assert_drawn(page, what)
    if len(names) <= 6:
        assert_apart(page, what)
    contour, loss, tuning = figs[:3]
    table = results_table(page)
    labels = [r["optimizer"] for r in table]
    assert len(labels) == len(names), f"{what}: the results table lists {labels}, not {len(names)} optimizers"
    assert [short(n) for n in names] == [re.sub(r" \(pytorch-optimizer\)$", "", la) for la in labels], \
        f"{what}: the table's optimizers {labels} are not {names}"
    assert contour["images"] or contour["drawn"]["contour"] or contour["drawn"]["heatmap"], f"{what}: no surface drawn"
    assert path_names(contour) == labels, f"{what}: the contour draws the paths {path_names(contour)}, the table lists {labels}"
    legend = [t for t in contour["legend"] if t in labels]
    assert legend == labels, f"{what}: the contour's legend {contour['legend']} does not hold the table's labels {labels}"
    curves = [t["name"] for t in loss["traces"] if t["type"] == "scatter" and t["y"] and t["name"] in labels]
    assert sorted(curves) == sorted(labels), f"{what}: the loss figure draws {curves}, not one curve per optimizer {labels}"
    assert all(ax["title"] for ax in contour["axes"] + loss["axes"] + tuning["axes"] if ax["used"]), f"{what}: an axis has no title"
    tuned = [t for t in tuning["traces"] if t["x"] and t["y"]]
    assert tuned, f"{what}: the tuning figure draws nothing ({tuning['title']!r})"
    for r in table:
        assert re.fullmatch(r"[0-9.e+-]+|—", r["tuned lr"]), f"{what}: {r['optimizer']}'s tuned lr reads {r['tuned lr']!r}"
    return table


def test_zoo_default_draws_every_path_and_plays(page, server, shots):
    open_page(page, server, "zoo")
    shot(page, shots, "zoo-default")
    table = check_zoo(page, "zoo default", list(zoo.DEFAULT_NAMES))

    i = animated_index(page)
    anim = page.evaluate(ANIMATION_JS, i)
    paths = [m for m in anim["moved"] if m["role"] == "path"]
    assert [p["name"] for p in paths] == [r["optimizer"] for r in table], f"the animation moves {paths}"
    last = anim["frames"] - 1
    fig = page.locator(".js-plotly-plot").nth(i)
    fig.scroll_into_view_if_needed()
    before = page.evaluate(SAMPLE_JS, i)
    assert surface_count(before) > 0, "zoo: no surface before Play"
    assert all(drawn_points(before, p) == p["points"] for p in paths), "zoo: a path is not complete before Play"

    taken = []

    def during(s: dict) -> None:
        if not taken and last // 3 <= s["active"] < last:
            shot(page, shots, "zoo-play")
            taken.append(s["active"])

    samples = play(page, i, anim, paths, during)
    assert_played("zoo", samples, paths, last)
    page.wait_for_timeout(SAMPLE_MS)
    after = page.evaluate(SAMPLE_JS, i)
    assert surface_count(after) > 0, "zoo: the surface is gone after Play"
    assert all(drawn_points(after, p) == p["points"] for p in paths), "zoo: a path is incomplete after Play"
    assert_clean(page, "zoo after Play")


def test_zoo_link_picks_the_optimizers_and_races_them(page, server, shots):
    open_page(page, server, f"zoo?v=1&zoo={q(THREE)}")
    table = check_zoo(page, "zoo of three", THREE)

    link = page.get_by_role("link", name="Race these at their tuned learning rates")
    assert link.count() == 1, "the Zoo of three has no 'Race these…' link"
    href = link.get_attribute("href")
    racers = json.loads(parse_qs(urlparse(href).query)["race"][0])
    assert [r["name"] for r in racers] == THREE, f"the link races {racers}"
    for r, row in zip(racers, table):
        assert f"{r['options']['lr']:.3g}" == row["tuned lr"], f"the link races {r} but the table tuned {row}"

    with page.context.expect_page() as opened:     # the link opens the Race in a new tab
        link.click()
    race = opened.value
    try:
        check_race(race, shots, table)
    finally:
        race.close()


def check_race(page, shots: Path, table: list[dict]) -> None:
    """The Race opened from the Zoo of THREE races them at the Zoo's tuned lrs: its legend and results table name the
    same optimizers, and each ends at the final loss the Zoo's table gives for it (the same run)."""
    page.set_default_timeout(30_000)
    settle(page)
    assert "/race" in page.url, f"the link led to {page.url}"
    assert_clean(page, "race from the zoo")
    raced = json.loads(parse_qs(urlparse(page.url).query)["race"][0])
    assert [r["name"] for r in raced] == THREE, f"the Race runs {raced}"
    for r, row in zip(raced, table):     # the Race's link leaves out an lr equal to the class's default
        lr = r["options"].get("lr", get_optimizer(r["name"]).defaults()["lr"])
        assert f"{lr:.3g}" == row["tuned lr"], f"the Race runs {r}, the Zoo tuned {row}"
    figs = assert_drawn(page, "race from the zoo")
    for f in figs[:2]:     # the contour and the loss curves
        legend = [t for t in f["legend"] if t != "minimum"]
        assert [short(t) for t in legend] == [short(n) for n in THREE], f"the Race's legend is {legend} ({f['title']!r})"
    rows = page.locator("[data-testid='stTable'] table").first.evaluate(
        "t => Array.from(t.querySelectorAll('tr')).map(r => Array.from(r.querySelectorAll('th, td')).map(c => c.textContent.trim()))")
    head = rows[0]
    race_rows = [dict(zip(head[-len(r):], r)) for r in rows[1:] if r]
    assert [short(r["optimizer"]) for r in race_rows] == [short(n) for n in THREE], f"the Race's table: {race_rows}"
    for r, z in zip(race_rows, table):
        assert r["final loss"] == z["final loss"], f"{z['optimizer']} ends at {r['final loss']} in the Race but at " \
                                                   f"{z['final loss']} in the Zoo"
    shot(page, shots, "zoo-race", docs=False)


def test_zoo_sidebar_buttons_pick_the_optimizers(page, server, shots):
    open_page(page, server, "zoo")
    for label, want in (("torch.optim's", zoo.catalogue(external=False)), ("default zoo", list(zoo.DEFAULT_NAMES))):
        button(page, label).click()
        settle(page)
        assert_clean(page, f"zoo after {label!r}")
        check_zoo(page, f"zoo after {label!r}", want)
        page.locator(".js-plotly-plot").first.scroll_into_view_if_needed()
        shot(page, shots, f"zoo-button-{label.split()[0].strip(chr(39) + 's').replace('.', '-')}", docs=False)


def test_zoo_of_many_keeps_titles_legends_and_notes_apart(page, server, shots):
    open_page(page, server, f"zoo?v=1&zoo={q(zoo.catalogue(external=False))}")
    page.locator(".js-plotly-plot").first.scroll_into_view_if_needed()
    shot(page, shots, "zoo-torch-optim", docs=False)
    assert_apart(page, "zoo of torch.optim's optimizers")


# -- the Gallery ------------------------------------------------------------------------------------------------------

CARD_TITLE = re.compile(r"^(?P<name>.+?) · (?P<source>torch\.optim|pytorch-optimizer)(?P<lr>lr [0-9.e+-]+|defaults) · \d+ steps · ")


def check_cards(page, what: str, n: int | None = None) -> list[str]:
    """Every card draws the surface and one path and is titled with its name, its package and lr (torch.optim and
    pytorch-optimizer share class names: LBFGS, Adam, …); no two cards alike. Returns the catalogue names shown."""
    figs = assert_drawn(page, what)
    assert_apart(page, what)
    if n is not None:
        assert len(figs) == n, f"{what}: {len(figs)} cards, not {n}"
    names = []
    for f in figs:
        paths = path_names(f)
        assert len(paths) == 1, f"{what}: the card {f['title']!r} draws the paths {paths}"
        assert f["drawn"]["image"] or f["drawn"]["contour"] or f["drawn"]["heatmap"], f"{what}: {f['title']!r} has no surface"
        m = CARD_TITLE.match(f["title"])
        assert m and m["name"] == paths[0], f"{what}: the card of {paths[0]} is titled {f['title']!r}"
        names.append(("pytorch_optimizer." if m["source"] == "pytorch-optimizer" else "") + m["name"])
    assert len(set(names)) == len(names), f"{what}: cards alike: {names}"
    assert set(names) <= set(zoo.catalogue()), f"{what}: cards of unknown entries {set(names) - set(zoo.catalogue())}"
    return names


def button(page, label: str):
    return page.get_by_role("button", name=label).first


def pager_buttons(page, label: str) -> list[bool]:
    """Whether each of the pager's buttons of this label (above and below the cards) can be clicked."""
    found = page.get_by_role("button", name=label)
    assert found.count() == 2, f"{found.count()} buttons {label!r}, not one above and one below the cards"
    return [found.nth(k).is_enabled() for k in range(2)]


def pager_text(page) -> str:
    return page.get_by_text(re.compile(r"^page \d+ of \d+")).first.inner_text()


def test_gallery_pages_through_every_card(page, server, shots):
    want = len(zoo.catalogue())
    pages = -(-want // PER_PAGE)
    open_page(page, server, "gallery")
    first = check_cards(page, "gallery page 1", PER_PAGE)
    assert pager_text(page).startswith(f"page 1 of {pages} · {want} optimizers"), pager_text(page)
    assert pager_buttons(page, "◀ previous") == [False, False] and pager_buttons(page, "next ▶") == [True, True]
    shot(page, shots, "gallery-page-1")

    button(page, "next ▶").click()
    settle(page)
    assert_clean(page, "gallery page 2")
    second = check_cards(page, "gallery page 2", PER_PAGE)
    assert pager_text(page).startswith(f"page 2 of {pages}"), pager_text(page)
    assert not set(first) & set(second), f"page 2 repeats cards of page 1: {set(first) & set(second)}"
    assert pager_buttons(page, "◀ previous") == [True, True] and pager_buttons(page, "next ▶") == [True, True]
    assert "page=2" in page.url

    open_page(page, server, f"gallery?page={pages}")
    end = check_cards(page, "gallery last page", want - (pages - 1) * PER_PAGE)
    assert pager_text(page).startswith(f"page {pages} of {pages}"), pager_text(page)
    assert pager_buttons(page, "next ▶") == [False, False] and pager_buttons(page, "◀ previous") == [True, True]
    button(page, "◀ previous").click()
    settle(page)
    assert pager_text(page).startswith(f"page {pages - 1} of {pages}"), pager_text(page)
    assert not set(end) & set(check_cards(page, "gallery page before the last", PER_PAGE))


def test_gallery_rastrigin(page, server, shots):
    open_page(page, server, "gallery?surface=rastrigin")
    check_cards(page, "gallery on Rastrigin", PER_PAGE)
    titles = [f["title"] for f in figures(page)]
    assert all("steps" in t for t in titles)
    shot(page, shots, "gallery-rastrigin")


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG, f"not a PNG: {data[:16]!r}"
    assert data[12:16] == b"IHDR", "the PNG's first chunk is not IHDR"
    return struct.unpack(">II", data[16:24])


def test_gallery_filter_and_card_download(page, server, shots):
    open_page(page, server, "gallery")
    box = page.get_by_label("name contains")
    box.fill("lion")
    box.press("Enter")
    page.wait_for_timeout(300)
    settle(page)
    assert_clean(page, "gallery filtered by 'lion'")
    want = [n for n in zoo.catalogue() if "lion" in n.lower()]
    names = check_cards(page, "gallery filtered by 'lion'", len(want))
    assert sorted(names) == sorted(want), f"the filter 'lion' shows {names}, not {want}"
    assert "find=lion" in page.url

    k = names.index("pytorch_optimizer.Lion")
    card = page.locator(".js-plotly-plot").nth(k)
    card.scroll_into_view_if_needed()
    card.hover()
    camera = card.locator(".modebar-btn[data-title='Download plot as a PNG']")   # plotly's title, as in the DOM
    assert camera.count() == 1, "the card has no camera button in its modebar"
    with page.expect_download() as info:
        camera.click()
    download = info.value
    assert download.suggested_filename == "optviz-rosenbrock-pytorch-optimizer-Lion.png", download.suggested_filename
    saved = shots / download.suggested_filename
    download.save_as(saved)
    data = saved.read_bytes()
    width, height = _png_size(data)
    assert 400 <= width <= 4000 and 300 <= height <= 4000, f"the PNG is {width}×{height}"
    assert len(data) > 20_000, f"the PNG has only {len(data)} bytes"
    from PIL import Image
    colours = Image.open(BytesIO(data)).convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is None or len(colours) > 50, f"the PNG has only {len(colours)} colours: a blank plot?"
