"""Helpers of the browser tests: wait for Streamlit to finish, read what Plotly drew, judge it, save screenshots."""
from __future__ import annotations

import math
import re
import time
from contextlib import contextmanager
from pathlib import Path

# The app is idle: the script finished, the socket is up, nothing is still loading.
IDLE_JS = """() => {
  const app = document.querySelector("[data-testid='stApp']");
  return !!app && app.getAttribute('data-test-script-state') === 'notRunning'
    && app.getAttribute('data-test-connection-state') === 'CONNECTED'
    && !document.querySelector("[data-testid='stStatusWidget']")
    && !document.querySelector("[data-testid='stSkeleton']");
}"""

# What every Plotly figure on the page draws: axes (with the title text in the SVG), 3-D scene axis titles, the
# finite extent of each visible trace on its axes (log10 on a log axis), layout images, legend entries as drawn,
# and the surface elements in the DOM (layout images, contour paths, heatmap images).
FIGURES_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map((gd, figure) => {
  const fl = gd._fullLayout || {};
  const unset = t => !t || /^Click to enter .* title$/.test(t);
  const drawnTitle = id => { const e = gd.querySelector('.g-' + id + 'title text'); return e ? e.textContent.trim() : ''; };
  const axisOf = id => fl[id.replace(/^([xy])/, '$1axis')] || {};
  // the finite extent of what a trace draws on one axis: points whose both coordinates can be drawn (a scatter)
  // or every value of that axis's array (a heatmap's or contour's cell centres); log10 on a log axis
  const ok = (v, ax) => typeof v === 'number' && isFinite(v) && !(ax.type === 'log' && v <= 0);
  const num = v => typeof v === 'number' ? v : (typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN);
  const extent = (arr, ax, other, oax) => {
    if (!arr || typeof arr.length !== 'number') return null;
    const paired = other && typeof other.length === 'number' && other.length === arr.length;
    let lo = Infinity, hi = -Infinity, first = null, n = 0, absmax = 0;
    for (let i = 0; i < arr.length; i++) {
      let v = num(arr[i]);
      if (!ok(v, ax) || (paired && !ok(num(other[i]), oax))) continue;
      absmax = Math.max(absmax, Math.abs(v));
      if (ax.type === 'log') v = Math.log10(v);
      if (first === null) first = v;
      lo = Math.min(lo, v); hi = Math.max(hi, v); n++;
    }
    return n ? {lo, hi, first, n, absmax} : null;
  };
  const traces = (gd._fullData || []).filter(t => t.visible === true).map(t => {
    const cartesian = !!(t._module && t._module.basePlotModule && t._module.basePlotModule.name === 'cartesian');
    const xa = t.xaxis || 'x', ya = t.yaxis || 'y';
    const types = ['linear', 'log'], pair = t.type === 'scatter' || t.type === 'scattergl';
    return {index: t.index, type: t.type, name: t.name, showlegend: !!t.showlegend, mode: t.mode || '', cartesian,
            xaxis: xa, yaxis: ya,
            x: cartesian && types.includes(axisOf(xa).type) ? extent(t.x, axisOf(xa), pair ? t.y : null, axisOf(ya)) : null,
            y: cartesian && types.includes(axisOf(ya).type) ? extent(t.y, axisOf(ya), pair ? t.x : null, axisOf(xa)) : null,
            points: t.x && typeof t.x.length === 'number' ? t.x.length : 0};
  });
  const used = new Set();
  traces.filter(t => t.cartesian).forEach(t => { used.add(t.xaxis); used.add(t.yaxis); });
  const ids = [...((fl._subplots || {}).xaxis || []), ...((fl._subplots || {}).yaxis || [])];
  const axes = ids.map(id => {
    const ax = axisOf(id);
    return {id, shown: ax.visible !== false && ax.showticklabels !== false, type: ax.type, used: used.has(id),
            range: ax.range ? ax.range.map(Number) : null, fixed: ax.autorange === false, title: drawnTitle(id)};
  });
  const scenes = Object.keys(fl).filter(k => /^scene\\d*$/.test(k)).map(k => ({id: k,
    titles: ['xaxis', 'yaxis', 'zaxis'].map(a => unset(fl[k][a].title && fl[k][a].title.text) ? '' : fl[k][a].title.text)}));
  const images = (fl.images || []).filter(im => im.visible !== false && im.source).map(im => ({xref: im.xref,
    yref: im.yref, x: im.x, y: im.y, sizex: im.sizex, sizey: im.sizey, xanchor: im.xanchor, yanchor: im.yanchor}));
  return {figure, title: (fl.title && fl.title.text || '').replace(/<[^>]+>/g, ''), axes, scenes, traces, images,
          showlegend: !!fl.showlegend, legend: fl.showlegend ? Array.from(gd.querySelectorAll('.legend .legendtext')).map(e => e.textContent.trim()) : [],
          drawn: {image: gd.querySelectorAll('.imagelayer image').length,
                  contour: gd.querySelectorAll('g.contourlayer path').length,
                  heatmap: gd.querySelectorAll('g.heatmaplayer image').length},
          shown: gd.getBoundingClientRect().height > 0};
})"""

# One sample of an animated figure: the slider's step, the surface elements in the DOM (images with a picture,
# contour paths with a shape), and per trace index the
# number of markers and of line vertices drawn (mapped through d3's data, since Plotly reorders the SVG groups
# while it animates), with the data each trace holds now.
SAMPLE_JS = """(i) => {
  const gd = document.querySelectorAll('.js-plotly-plot')[i];
  const drawn = {};
  gd.querySelectorAll('g.scatterlayer g.trace').forEach(g => {
    const d = g.__data__, k = d && d[0] && d[0].trace ? d[0].trace.index : null;
    if (k === null) return;
    const line = g.querySelector('path.js-line'), dd = line ? (line.getAttribute('d') || '') : '';
    drawn[k] = {markers: g.querySelectorAll('path.point').length, vertices: (dd.match(/[ML]/g) || []).length};
  });
  const plain = a => a ? Array.from(a, v => (v === null || v === undefined || !isFinite(v)) ? null : Number(v)) : [];
  const filled = sel => Array.from(gd.querySelectorAll(sel)).filter(e => (e.getAttribute('href') || e.getAttribute('xlink:href') || '').length > 100).length;
  return {active: gd.layout.sliders[0].active, title: (gd._fullLayout.title.text || '').replace(/<[^>]+>/g, ''),
          images: filled('.imagelayer image'),
          contours: Array.from(gd.querySelectorAll('g.contourlayer path')).filter(e => (e.getAttribute('d') || '').length > 2).length,
          heatmaps: filled('g.heatmaplayer image'),
          drawn, data: gd.data.map(t => ({name: t.name || null, x: plain(t.x), y: plain(t.y)}))};
}"""

# The animation of a figure: its frames, and each trace the frames move with its role (a path: lines and markers; a
# head: one marker; an arrow: lines) and its number of points in the last frame; the Play button's frame settings.
ANIMATION_JS = """(i) => {
  const gd = document.querySelectorAll('.js-plotly-plot')[i];
  const frames = gd._transitionData._frames;
  const last = frames[frames.length - 1];
  const play = gd.layout.updatemenus[0].buttons.find(b => /Play/.test(b.label));
  const n = d => d.x ? d.x.length : (d.y ? d.y.length : 0);
  const moved = (last.traces || []).map((index, k) => {
    const t = gd.data[index], mode = t.mode || '', points = n(last.data[k]);
    const role = t.type !== 'scatter' ? t.type : /lines/.test(mode) && /markers/.test(mode) ? 'path'
               : /markers/.test(mode) ? 'head' : 'arrow';
    return {index, role, name: t.name || null, points};
  });
  return {frames: frames.length, moved, redraw: play.args[1].frame.redraw, duration: play.args[1].frame.duration};
}"""

TRACE_NAME = re.compile(r"^trace \d+$")


def settle(page, timeout: float = 90.0) -> None:
    """Wait until the script run is done and has stayed done for a moment (a rerun may follow a run)."""
    page.wait_for_selector("[data-testid='stApp']")
    deadline = time.monotonic() + timeout
    stable = 0
    while stable < 3:
        stable = stable + 1 if page.evaluate(IDLE_JS) else 0
        if time.monotonic() > deadline:
            raise AssertionError(f"the app did not finish running within {timeout:.0f} s")
        page.wait_for_timeout(120)


@contextmanager
def new_tab(browser, viewport: dict, timeout_ms: int):
    """A tab of its own (a new browser context) of the given viewport size, closed afterwards."""
    ctx = browser.new_context(viewport=viewport)
    pg = ctx.new_page()
    pg.set_default_timeout(timeout_ms)
    try:
        yield pg
    finally:
        ctx.close()


def open_page(page, server: str, path: str) -> None:
    """Open a page by its link and wait for its run; it must show no exception."""
    page.goto(f"{server}/{path}")
    settle(page)
    assert_clean(page, f"/{path}")


def assert_clean(page, what: str) -> None:
    boxes = page.locator("[data-testid='stException']")
    if boxes.count():
        raise AssertionError(f"{what}: exception shown to the user:\n{boxes.first.inner_text()[:2000]}")
    body = page.locator("[data-testid='stApp']").inner_text()
    assert "Traceback (most recent call last)" not in body, f"{what}: a traceback is visible"


def shoot(page, shots: Path, name: str) -> None:
    """The browser's window as the learner sees it (Streamlit scrolls inside its own container, so a full-page
    screenshot would show the same)."""
    page.screenshot(path=str(shots / f"{name}.png"))


def figures(page) -> list[dict]:
    return page.evaluate(FIGURES_JS)


# -- judging a drawn figure ------------------------------------------------------------------------------------------

def _name(fig: dict) -> str:
    return f"figure {fig['figure']} ({fig['title'][:70]!r})"


def _contains(rng: list[float], lo: float, hi: float) -> bool:
    a, b = sorted(rng)
    tol = 1e-6 * max(b - a, abs(a), abs(b), 1e-300)    # the figures send float32: its rounding is no defect
    return a - tol <= lo and hi <= b + tol


def _image_cover(fig: dict, axis: str) -> list[float] | None:
    """The span the figure's layout images cover on an axis ('x' or 'y'), None without an image on it."""
    spans = []
    for im in fig["images"]:
        if im[axis + "ref"] != axis:
            continue
        start, size = float(im[axis]), float(im["size" + axis])
        anchor = im[axis + "anchor"]
        if axis == "x":
            lo = start - (size if anchor == "right" else size / 2 if anchor == "center" else 0)
        else:
            lo = start - (size if anchor == "top" else size / 2 if anchor == "middle" else 0)
        spans.append((lo, lo + size))
    return [min(s[0] for s in spans), max(s[1] for s in spans)] if spans else None


def figure_problems(fig: dict) -> list[str]:
    """What is wrong with one drawn figure:
    - nothing drawn: no trace with finite data, or a surface (layout image, contour, heatmap) missing from the SVG;
    - an axis with tick labels but no title (3-D axes too);
    - a map (a figure with a surface): the surface image does not cover the plotted range, or a path or a minimum
      starts outside it (a path may leave the plot later: a divergence);
    - other axes: data outside an automatic range; on a range the author fixed, a trace drawn nowhere inside it or
      no trace wholly inside it (guide lines may be clipped, data may not); on a linear axis, data squeezed into a
      sliver of the range (a constant lr 0.001 on [−0.999, 1.001] reads as 0);
    - a legend entry named "trace N" or nothing."""
    out = drawing_problems(fig)
    name = _name(fig)
    traces = fig["traces"]
    for ax in fig["axes"]:
        if ax["used"] and ax["shown"] and not ax["title"]:
            out.append(f"{name}: the {ax['id']} axis has tick labels but no title")
    for sc in fig["scenes"]:
        for a, t in zip("xyz", sc["titles"]):
            if not t:
                out.append(f"{name}: the 3-D {a} axis has no title")
    is_map = bool(fig["images"]) or any(t["type"] in ("heatmap", "contour") for t in traces)
    for ax in fig["axes"]:
        if ax["used"] and ax["range"]:
            out += (_map_axis_problems if is_map else _data_axis_problems)(fig, ax)
    for t in traces if fig["showlegend"] else []:
        if t["showlegend"] and (not t["name"] or TRACE_NAME.match(str(t["name"]))):
            out.append(f"{name}: a legend entry has no real name ({t['name']!r}, a {t['type']} trace)")
    for text in fig["legend"]:
        if not text or TRACE_NAME.match(text):
            out.append(f"{name}: the legend shows {text!r}")
    return out


def drawing_problems(fig: dict) -> list[str]:
    """The figure draws nothing, or has a surface (layout image, contour, heatmap) that is not in the SVG."""
    out = []
    traces = fig["traces"]
    if not any(t["x"] or t["y"] or t["type"] in ("heatmap", "contour", "surface", "bar") for t in traces):
        out.append(f"{_name(fig)}: no trace draws any finite data")
    for kind, present in (("image", bool(fig["images"])), ("contour", any(t["type"] == "contour" for t in traces)),
                          ("heatmap", any(t["type"] == "heatmap" for t in traces))):
        if present and not fig["drawn"][kind]:
            out.append(f"{_name(fig)}: the figure has a {kind} surface but none is drawn in the SVG")
    return out


def _on(fig: dict, ax: dict) -> list[tuple[dict, dict]]:
    """(trace, its finite extent on this axis) for every trace drawn on the axis."""
    letter = ax["id"][0]
    return [(t, t[letter]) for t in fig["traces"] if t[letter + "axis"] == ax["id"] and t[letter]]


def _map_axis_problems(fig: dict, ax: dict) -> list[str]:
    out = []
    name = _name(fig)
    cover = _image_cover(fig, ax["id"]) if ax["id"] in ("x", "y") else None
    if cover is not None and not _contains(cover, *ax["range"]):
        out.append(f"{name}: the surface image covers {ax['id']} ∈ {cover}, not the whole range {ax['range']}")
    for t, e in _on(fig, ax):
        path = "lines" in t["mode"] and "markers" in t["mode"] and t["points"] > 1
        if (path or t["name"] == "minimum") and not _contains(ax["range"], e["first"], e["first"]):
            out.append(f"{name}: {'the path' if path else 'the minimum'} {t['name']!r} starts at "
                       f"{ax['id']} = {e['first']:.4g}, outside the range {ax['range']}")
    return out


def _data_axis_problems(fig: dict, ax: dict) -> list[str]:
    out = []
    name = _name(fig)
    on = _on(fig, ax)
    if not on:
        return out
    lo, hi = min(e["lo"] for _, e in on), max(e["hi"] for _, e in on)
    a, b = sorted(ax["range"])
    if not ax["fixed"]:
        if not _contains(ax["range"], lo, hi):
            out.append(f"{name}: the {ax['id']} axis shows {ax['range']} but its data spans [{lo:.4g}, {hi:.4g}]")
    else:
        hidden = [t["name"] for t, e in on if e["hi"] < a or e["lo"] > b]
        if hidden:
            out.append(f"{name}: the {ax['id']} axis is fixed to {ax['range']} and hides the whole of {hidden}")
        if not any(_contains(ax["range"], e["lo"], e["hi"]) for _, e in on):
            out.append(f"{name}: the {ax['id']} axis is fixed to {ax['range']} and cuts off every trace "
                       f"(data in [{lo:.4g}, {hi:.4g}])")
    if ax["type"] == "linear":
        # plotly's autorange draws a constant c on [c − 1, c + 1]: lr = 0.001 then reads as 0
        need = max(min(hi, b) - max(lo, a), max(e["absmax"] for _, e in on))
        if need > 0 and b - a > 20 * need:
            out.append(f"{name}: the {ax['id']} axis shows {ax['range']} for data in [{lo:.4g}, {hi:.4g}]: the data is "
                       "a flat line in a sliver of the axis")
    return out


def assert_drawn(page, what: str, complete: bool = True) -> list[dict]:
    """Every figure on the page is drawn completely (see ``figure_problems``), or with ``complete=False`` at least
    draws something and its surface (``drawing_problems``); returns the figures."""
    figs = figures(page)
    problems = [p for f in figs for p in (figure_problems if complete else drawing_problems)(f)]
    assert not problems, f"{what}:\n" + "\n".join(problems)
    return figs


def surface_count(sample: dict) -> int:
    """Surface elements drawn in the SVG: layout images, contour paths and heatmap images."""
    return sample["images"] + sample["contours"] + sample["heatmaps"]


def finite_points(xs: list, ys: list) -> list[tuple[float, float]]:
    return [(x, y) for x, y in zip(xs, ys) if x is not None and y is not None and math.isfinite(x) and math.isfinite(y)]


# -- ▶ Play, sampled -----------------------------------------------------------------------------------------------------
SAMPLE_MS = 250


def animated_index(page) -> int:
    """The index of the page's first animated figure (slider and frames)."""
    flags = page.evaluate("""() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(gd =>
        !!(gd.layout.sliders && gd.layout.sliders.length && gd._transitionData && gd._transitionData._frames.length))""")
    assert any(flags), "no animated figure on the page"
    return flags.index(True)


def drawn_points(sample: dict, trace: dict) -> int:
    """How many markers of a moved trace (from ANIMATION_JS) a SAMPLE_JS sample found drawn."""
    return sample["drawn"].get(str(trace["index"]), {}).get("markers", 0)


def play(page, i: int, anim: dict, paths: list[dict], on_sample=None) -> list[dict]:
    """Press the i-th figure's ▶ Play and sample what it draws every SAMPLE_MS until the last frame shows every path
    complete (or a deadline from the animation's length); ``on_sample(sample)`` runs after each sample."""
    page.locator(".js-plotly-plot").nth(i).locator(".updatemenu-button").filter(has_text="Play").click()
    last = anim["frames"] - 1
    samples = []
    deadline = time.monotonic() + 10 + 4 * anim["frames"] * max(anim["duration"], 80) / 1000
    while time.monotonic() < deadline:
        s = page.evaluate(SAMPLE_JS, i)
        samples.append(s)
        if on_sample is not None:
            on_sample(s)
        if len(samples) > 1 and s["active"] == last and all(drawn_points(s, p) == p["points"] for p in paths):
            break
        page.wait_for_timeout(SAMPLE_MS)
    return samples


def assert_played(what: str, samples: list[dict], paths: list[dict], last: int) -> None:
    """Play reached the last step, was caught while it ran, kept the surface in every sample, and grew every path
    (never shrinking it)."""
    steps = [s["active"] for s in samples]
    assert steps[-1] == last, f"{what}: Play did not reach the last step in time (steps sampled: {steps})"
    assert len(set(steps)) >= 3, f"{what}: the animation was not sampled while it ran (steps sampled: {steps})"
    bare = [(s["active"], s["images"], s["contours"], s["heatmaps"]) for s in samples if surface_count(s) == 0]
    assert not bare, f"{what}: the surface vanished during Play at (step, images, contour paths, heatmaps): {bare}"
    for p in paths:
        counts = [drawn_points(s, p) for s in samples]
        assert len(set(counts)) >= 3, f"{what}: {p['name']}'s path did not grow during Play: {counts}"
        assert all(b >= a for a, b in zip(counts, counts[1:])), f"{what}: {p['name']}'s path shrank during Play: {counts}"
