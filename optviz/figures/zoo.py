"""Figures of the Zoo (many tuned optimizers on one surface) and the gallery's cards (one tuned run each)."""
from __future__ import annotations

import math

from plotly.colors import qualitative

from optviz.core.optimizers import get_optimizer
from optviz.core.trace import Trace

from .base import FrozenFigure
from .trajectory import Path, contour_with_paths

# colours for what has none of its own (pytorch-optimizer's entries); each is taken only if it stands apart from every
# colour already in the figure (torch.optim's D3 colours included)
# (none near black or near white: the surface's darkest and brightest bands would swallow them)
PALETTE = tuple(c for c in dict.fromkeys((*qualitative.Dark24, *qualitative.Alphabet, *qualitative.Light24, *qualitative.Plotly))
                if 200 <= sum(int(c[i:i + 2], 16) for i in (1, 3, 5)) <= 620)
APART = 90.0            # least RGB distance (of 441) between two colours of one figure, while the palette allows
DASHES = ("solid", "dash", "dot")
FULL_WIDTH = 1050       # a full-width figure beside the sidebar on a laptop


def entry_colours(names: list[str]) -> dict[str, str]:
    """One colour per optimizer name: torch.optim's own colour (the one every page draws it in), and for
    pytorch-optimizer's entries, which share one grey, the next palette colour no other entry uses."""
    specs = {n: get_optimizer(n) for n in dict.fromkeys(names)}
    out = {n: s.colour for n, s in specs.items() if s.source == "torch"}
    for n in specs:
        if n not in out:
            used = [_rgb(c) for c in out.values()]
            gap = lambda c: min((math.dist(_rgb(c), u) for u in used), default=math.inf)
            # the first palette colour far enough from all used ones, else the one farthest from them
            out[n] = next((c for c in PALETTE if gap(c) >= APART), max(PALETTE, key=gap))
    return out


def _rgb(colour: str) -> tuple[int, int, int]:
    h = colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def zoo_paths(traces: list[Trace], labels: list[str]) -> list[Path]:
    """One colour per entry (torch.optim's own, a free palette colour for the others); past ten entries the dash
    changes too, so neighbours in the legend stay apart."""
    colours = entry_colours([tr.config.optimizer.name for tr in traces])
    return [Path(tr, label, colours[tr.config.optimizer.name], DASHES[(i // 10) % len(DASHES)])
            for i, (tr, label) in enumerate(zip(traces, labels, strict=True))]


def legend_room(fig, width: float = 700.0, size: float = 16.0) -> FrozenFigure:
    """The figure with room above the plot for a legend of many entries: the title on its own row at the top, the
    legend's rows under it (plotly lines a wrapped legend up in columns as wide as its widest entry; ``width`` is a
    narrow plot's), the plot as tall as before. Past eight entries the legend's type is a little smaller."""
    spec = fig.to_dict() if hasattr(fig, "to_dict") else fig
    layout = dict(spec["layout"])
    names = [t["name"] for t in spec["data"] if t.get("name") and t.get("showlegend", True)]
    title = dict(layout.get("title") or {})
    if len(names) > 8:
        size = 14
    column = max((0.55 * size * len(n) + 45 for n in names), default=0)
    rows = math.ceil(len(names) / max(1, int(width // column))) if names else 0
    one_row = sum(0.55 * size * len(n) + 45 for n in names) + 0.55 * 1.2 * 16 * len(str(title.get("text", "")))
    if one_row <= FULL_WIDTH:             # title and legend side by side on a laptop's full-width figure, as elsewhere
        return FrozenFigure(spec)
    margin = dict(layout.get("margin") or {})
    top = 56 + round(1.6 * size) * rows
    layout["height"] = (layout.get("height") or 450) + top - margin.get("t", 60)
    layout["margin"] = {**margin, "t": top}
    layout["title"] = {**title, "yref": "container", "y": 1, "yanchor": "top", "pad": {"t": 10}}
    layout["legend"] = {**(layout.get("legend") or {}), "xanchor": "left", "x": 0, "font": {"size": size}}
    return FrozenFigure({**spec, "layout": layout})


def card_title(label: str, source: str, lr: float | None, trace: Trace) -> str:
    lr_text = "defaults" if lr is None else f"lr {lr:.3g}"
    end = "diverged at step %d" % trace.diverged_at if trace.diverged_at is not None else f"f = {trace.losses[-1]:.3g}"
    return f"<b>{label}</b> · {source}<br><span style='font-size:13px'>{lr_text} · {trace.steps} steps · {end}</span>"


def gallery_card(base: dict, path: Path, lr: float | None, source: str) -> FrozenFigure:
    """One entry's tuned path on the surface (no animation, no colour bar: the cards share one surface), titled with its
    package, lr and where it ended; the modebar's camera saves it as a PNG named after the entry."""
    spec = contour_with_paths(base, [path], animate=False, arrows=False).to_dict()
    data = [{**d, "marker": {**d["marker"], "showscale": False}} if d.get("marker", {}).get("showscale") else d for d in spec["data"]]
    layout = dict(spec["layout"])
    layout["title"] = dict(text=card_title(path.label, source, lr, path.trace), x=0.02, xanchor="left", font=dict(size=16))
    layout["showlegend"] = False
    layout["margin"] = dict(l=50, r=10, t=70, b=45)
    return FrozenFigure({"data": data, "layout": layout})


def png_name(surface: str, name: str) -> str:
    """The file name of a card's PNG: optviz-<surface>-<entry>."""
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in name.replace("pytorch_optimizer.", "pytorch-optimizer-"))
    return f"optviz-{surface}-{safe}"

