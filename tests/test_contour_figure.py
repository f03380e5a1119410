"""The animated contour: the surface is a layout image that no frame touches (Plotly erases contour and heatmap
traces when it animates with redraw: false), and a single path carries its arrows at every frame, the last included."""
from __future__ import annotations

import base64
import zlib

import numpy as np
import pytest

from optviz import run, surface_of
from optviz.core.config import parse_config
from optviz.figures import N_BANDS, contour_base, contour_figure, contour_levels, contour_with_paths, path_of, surface_bands


def _decode_png(source: str) -> np.ndarray:
    """The (h, w, 3) pixels of the figure's own PNG (8-bit RGB, filter 0 on every row, as `_png` writes it)."""
    raw = base64.b64decode(source.split(",", 1)[1])
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, w, h = 8, b"", 0, 0
    while pos < len(raw):
        n = int.from_bytes(raw[pos:pos + 4], "big")
        kind, body = raw[pos + 4:pos + 8], raw[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h = int.from_bytes(body[:4], "big"), int.from_bytes(body[4:8], "big")
            assert body[8:10] == bytes([8, 2])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    rows = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(h, 1 + 3 * w)
    assert (rows[:, 0] == 0).all()
    return rows[:, 1:].reshape(h, w, 3)


def _spec(cfg: dict, n_paths: int = 1) -> tuple[dict, object, list]:
    config = parse_config(cfg)
    surf = surface_of(config)
    names = ["SGD", "Adam", "RMSprop", "Adagrad", "NAdam", "RAdam"][:n_paths]
    traces = [run({**cfg, "optimizer": {"name": n, "options": {"lr": 0.01}}}) for n in names] if n_paths > 1 else [run(config)]
    return contour_with_paths(contour_base(surf, n_grid=120), [path_of(t) for t in traces], surface=surf).to_dict(), surf, traces


@pytest.mark.parametrize("n_paths", [1, 6])
def test_no_frame_touches_the_surface(n_paths):
    spec, surf, _ = _spec({"optimizer": {"name": "Adam", "options": {"lr": 0.05}}, "steps": 80}, n_paths)
    assert [d["type"] for d in spec["data"]] == ["scatter"] * len(spec["data"])     # no contour/heatmap trace to erase
    (image,) = spec["layout"]["images"]
    assert image["layer"] == "below" and image["xref"] == "x" and image["yref"] == "y"
    (x0, x1), (y0, y1) = surf.domain
    # the image covers the plotted domain (pixel centres on the grid's points)
    assert image["x"] < x0 and image["x"] + image["sizex"] > x1 and image["y"] > y1 and image["y"] - image["sizey"] < y0
    for frame in spec["frames"]:
        assert all(d["type"] == "scatter" for d in frame["data"])
        assert "images" not in frame.get("layout", {})
    for button in spec["layout"]["updatemenus"][0]["buttons"]:
        assert button["args"][1]["frame"]["redraw"] is False
    # the colour bar survives on a marker trace whose range is the image's colour range
    bar = spec["data"][0]
    assert bar["marker"]["showscale"] and bar["marker"]["colorbar"]["title"]["text"]


def test_the_image_is_the_surface():
    """Pixels are the surface's bands: the darkest colour at the minimum, the brightest where f is largest."""
    surf = surface_of(parse_config({"problem": {"surface": "rosenbrock"}}))
    base = contour_base(surf, n_grid=100)
    px = _decode_png(base["layout"]["images"][0]["source"])
    xs, ys, z = surf.grid(100)
    zc, _ = contour_levels(z, surf.log_contours)
    band, _, _ = surface_bands(zc)
    img = px[::-1].astype(float)                        # back to rows of increasing y
    brightness = img.sum(axis=2)
    # same band -> same colour (edge pixels are darkened copies of their band's colour); more band -> brighter
    mean_by_band = [brightness[band == b].max() for b in range(N_BANDS) if (band == b).any()]
    assert np.all(np.diff(mean_by_band) > 0)
    i, j = np.unravel_index(np.argmin(z), z.shape)
    assert band[i, j] == 0 and band.max() == N_BANDS - 1


def test_arrows_at_every_frame_and_on_load():
    cfg = {"optimizer": {"name": "SGD", "options": {"lr": 0.001, "momentum": 0.9}}, "steps": 40}
    spec, surf, (tr,) = _spec(cfg)
    (x0, x1), (y0, y1) = surf.domain
    span = max(x1 - x0, y1 - y0)
    arrows = [i for i, d in enumerate(spec["data"]) if str(d.get("name", "")).startswith(("arrow", "−"))]
    assert len(arrows) == 3
    for frame in spec["frames"]:
        t = int(frame["name"])
        drawn = {d.get("name") for d, i in zip(frame["data"], frame["traces"]) if i in arrows and d["x"][0] is not None}
        want = {"−gradient"} | ({"−momentum_buffer"} if t >= 1 else set())
        assert drawn == want, (t, drawn)
        for d, i in zip(frame["data"], frame["traces"]):   # every arrow long enough to see its direction
            if i in arrows and d["x"][0] is not None:
                assert np.hypot(d["x"][1] - d["x"][0], d["y"][1] - d["y"][0]) >= 0.039 * span, (t, d["name"])
    # on load (the last frame): the −gradient arrow points along −∇f at the last point
    names = {spec["data"][i]["name"]: spec["data"][i] for i in arrows}
    assert {"−gradient", "−momentum_buffer"} <= set(names)
    g = names["−gradient"]
    _, gx, gy = surf.value_and_grad(*tr.positions[-1])
    assert g["x"][0] == pytest.approx(tr.positions[-1, 0]) and g["y"][0] == pytest.approx(tr.positions[-1, 1])
    d = np.array([g["x"][1] - g["x"][0], g["y"][1] - g["y"][0]])
    assert np.dot(d, [-gx, -gy]) / (np.linalg.norm(d) * np.hypot(gx, gy)) == pytest.approx(1.0, abs=1e-6)


def test_contour_figure_matches_the_fast_path():
    cfg = {"problem": {"surface": "saddle"}, "optimizer": {"name": "SGD", "options": {"lr": 0.3, "momentum": 0.9}}, "steps": 30}
    config = parse_config(cfg)
    surf, tr = surface_of(config), run(config)
    fig = contour_figure(surf, [path_of(tr)], n_grid=60)
    assert fig.layout.images[0].source.startswith("data:image/png;base64,")
    assert tr.steps >= 10 and len(fig.frames) == tr.steps + 1 and fig.layout.sliders[0].active == tr.steps


def test_several_paths_frames_are_rounded_below_a_pixel_and_their_traces_exact():
    """Frames of a multi-path figure carry each point to ~1e-4 of the plot's span (what is drawn), so every rerun sends
    fewer bytes; the paths' own traces keep the run's float32 numbers, the last frame ends on the run's last point."""
    import plotly.io as pio

    spec, surf, traces = _spec({"optimizer": {"name": "Adam", "options": {"lr": 0.05}}, "steps": 80}, 6)
    (x0, x1), (y0, y1) = surf.domain
    span = max(x1 - x0, y1 - y0)
    paths = [i for i, d in enumerate(spec["data"]) if d.get("mode") == "lines+markers"]
    assert len(paths) == 6
    for i, tr in zip(paths, traces, strict=True):
        np.testing.assert_array_equal(spec["data"][i]["x"], tr.positions[:, 0].astype(np.float32))
    last = spec["frames"][-1]
    for d, i in zip(last["data"], last["traces"]):
        if i in paths:
            tr = traces[paths.index(i)]
            assert len(d["x"]) == len(tr.positions)
            assert np.abs(np.asarray(d["x"], float) - tr.positions[:, 0]).max() <= 1.5e-4 * span   # half a unit of 1e-3 on a span of 4
            assert np.abs(np.asarray(d["y"], float) - tr.positions[:, 1]).max() <= 1.5e-4 * span
    # the same figure with the run's float32 numbers in its frames (as before) is larger
    def old(d, i):
        if i not in paths:
            return d
        pos = traces[paths.index(i)].positions[: len(d["x"])].astype(np.float32)
        return {**d, "x": pos[:, 0], "y": pos[:, 1]}
    full = {**spec, "frames": [{**f, "data": [old(d, i) for d, i in zip(f["data"], f["traces"])]} for f in spec["frames"]]}
    assert len(pio.to_json(spec, validate=False)) < 0.9 * len(pio.to_json(full, validate=False))
