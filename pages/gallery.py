"""Gallery: every optimizer of the catalogue alone on a classic surface, at its tuned lr, each card a real run."""
import json
import math
from urllib.parse import urlencode

import streamlit as st

from optviz.core import external as ext
from optviz.core.config import VERSION
from optviz.core.surfaces import SURFACES
from optviz.figures.zoo import png_name
from optviz.lessons import zoo
from optviz.ui import explorer_view as view
from optviz.ui import predict_view, present, zoo_view
from optviz.ui.routing import inside_navigation
from optviz.ui.urlstate import sticky

inside_navigation()
present.start()

KEY = "gallery"
PER_PAGE = 12
PAGER = 64          # the pager's height above the cards (px)
SOURCES = {"all": "everything", "torch": "torch.optim", "external": "pytorch-optimizer"}
ORDERS = {"score": "best score first", "name": "name"}

st.title(":material/photo_library: Gallery")
present.intro("Every optimizer optviz can run — torch.optim's and pytorch-optimizer's — alone on a classic surface, at "
              "the learning rate the Zoo's protocol found for it (stated below). Unlike a gallery of stored pictures, "
              "each card is a real run drawn now, **gradients never clipped**; the camera in a card's toolbar saves it as "
              "a PNG. The Optimizer Zoo puts any of them side by side.")


surface_name = view.view_option(KEY, "surface", zoo.GALLERY_SURFACES, zoo.GALLERY_SURFACES[0])
with st.sidebar:
    surface_name = st.radio("surface", zoo.GALLERY_SURFACES, index=zoo.GALLERY_SURFACES.index(surface_name),
                            key=f"{KEY}.surface", format_func=lambda s: SURFACES[s].label)
    source = st.radio("optimizers", list(SOURCES), index=list(SOURCES).index(view.view_option(KEY, "source", list(SOURCES), "all")),
                      key=f"{KEY}.source", format_func=SOURCES.get)
    order = st.radio("order", list(ORDERS), index=list(ORDERS).index(view.view_option(KEY, "order", list(ORDERS), "score")),
                     key=f"{KEY}.order", format_func=ORDERS.get)
    find = st.text_input("name contains", st.query_params.get("find", "")[:40], key=f"{KEY}.find", max_chars=40)

gz = zoo.gallery_zoo(surface_name)
names = [n for n in gz.names if source == "all" or (source == "external") == n.startswith(ext.PREFIX)]
names = [n for n in names if find.strip().lower() in n.lower()]


def _score(n: str) -> float:
    t = zoo.from_table(gz, n)
    return t.best_score if t is not None else math.inf


names = sorted(names, key=lambda n: (_score(n), n.lower())) if order == "score" else sorted(names, key=lambda n: n.removeprefix(ext.PREFIX).lower())
per_page = 3 if present.on() else PER_PAGE         # projected: one row of three, as large as the screen allows
pages = max(1, math.ceil(len(names) / per_page))
try:
    wanted = int(st.query_params.get("page", 1))
except ValueError:
    wanted = 1
if f"{KEY}.page" not in st.session_state or st.session_state.get(f"{KEY}.pages") != pages:
    st.session_state[f"{KEY}.page"] = min(max(1, wanted), pages)
st.session_state[f"{KEY}.pages"] = pages
if not names:
    st.info(f"No optimizer's name contains “{find}”.", icon=":material/search_off:")
    st.stop()


def _turn(delta: int) -> None:
    st.session_state[f"{KEY}.page"] = min(max(1, st.session_state[f"{KEY}.page"] + delta), pages)


def pager(where: str) -> int:
    c1, c2, c3 = st.columns([1, 2, 1])
    page = st.session_state[f"{KEY}.page"]
    c1.button("◀ previous", key=f"{KEY}.prev.{where}", on_click=_turn, args=(-1,), disabled=page <= 1, width="stretch")
    c2.markdown(f"<div style='text-align:center'>page <b>{page}</b> of {pages} · {len(names)} optimizers</div>",
                unsafe_allow_html=True)
    c3.button("next ▶", key=f"{KEY}.next.{where}", on_click=_turn, args=(1,), disabled=page >= pages, width="stretch")
    return page


page = pager("top")
st.caption(f"Colour: {zoo_view.colour_key(surface_name)} of {SURFACES[surface_name].label}, dark low, yellow high · ○ start · ☆ minimum · "
           "the camera in a card's toolbar (hover the card) saves it as a PNG.")
shown = names[(page - 1) * per_page: page * per_page]
cols = st.columns(3)
for i, n in enumerate(shown):
    fig, t, tr = zoo_view.card(surface_name, n)
    with cols[i % 3]:
        st.plotly_chart(present.fit(fig, above=PAGER), key=f"{KEY}.card.{i}", width="stretch", theme=None,
                        config={"displaylogo": False, "toImageButtonOptions": {"format": "png", "filename": png_name(surface_name, n),
                                                                               "scale": 2}})
        spec = ext.spec_of(n.removeprefix(ext.PREFIX)) if n.startswith(ext.PREFIX) else None
        facts = [t.lr_note(), *(spec.badges if spec else ())]
        cfg = zoo.tuned_config(gz, t).to_dict()
        link = predict_view.page_link("explorer?" + urlencode({"v": VERSION, "cfg": json.dumps(cfg, separators=(",", ":"))}))
        st.caption(" · ".join(filter(None, [*facts, f"[open in the Explorer]({link})"])))
pager("bottom")
st.markdown(f"**Protocol.** {gz.describe()} The tunings come from `optviz/lessons/data/zoo_tuned.json`, written from "
            "these same runs by `python -m optviz zoo --write-table` and checked against fresh runs by the tests.")

want = sticky({k: v for k, v in {"surface": surface_name if surface_name != zoo.GALLERY_SURFACES[0] else None,
                                  "source": source if source != "all" else None, "order": order if order != "score" else None,
                                  "find": find.strip() or None, "page": str(page) if page > 1 else None}.items() if v})
if {k: st.query_params.get(k) for k in st.query_params} != want:
    st.query_params.from_dict(want)
