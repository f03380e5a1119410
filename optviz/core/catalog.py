"""The registries as plain JSON data (for `python -m optviz list` and for documentation)."""
from __future__ import annotations

from dataclasses import asdict

from . import external
from .custom import language
from .optimizers import CUSTOM_SPEC, OPTIMIZERS
from .schedulers import SCHEDULERS


def _params(params) -> list[dict]:
    out = []
    for p in params:
        d = asdict(p)
        d["choices"] = list(p.choices)
        out.append(d)
    return out


def catalog() -> dict:
    from .surfaces import SURFACES

    optimizers = [{"name": o.name, "key": o.key, "source": o.source, "summary": o.summary, "elementwise": o.elementwise,
                   "groups": o.groups_ok, "note": o.note, "badges": list(o.badges), "params": _params(o.params)}
                  for o in (*OPTIMIZERS.values(), CUSTOM_SPEC)]
    optimizers[-1]["language"] = language()   # Custom: its program's language; its params are lr and any number named
    optimizers += [{"name": o.name, "key": o.key, "source": o.source, "summary": o.summary, "elementwise": o.elementwise,
                    "groups": o.groups_ok, "note": o.note, "badges": list(o.badges), "params": _params(o.params)}
                   for o in external.specs()]
    return {
        "surfaces": [{"key": s.key, "label": s.label, "expression": s.expression, "domain": [list(d) for d in s.domain],
                      "start": list(s.start), "minima": [{"point": list(m.point), "value": m.value, "kind": m.kind} for m in s.minima],
                      "latex": s.latex, "log_contours": s.log_contours, "watch": s.watch} for s in SURFACES.values()],
        "optimizers": optimizers,
        "schedulers": [{"name": s.name, "key": s.key, "summary": s.summary, "needs_metric": s.needs_metric,
                        "composite": s.composite, "params": _params(s.params)} for s in SCHEDULERS.values()],
    }
