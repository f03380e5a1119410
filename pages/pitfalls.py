"""Pitfalls Lab: eight classic torch.optim mistakes, each run for real next to the right code."""
import streamlit as st

from optviz.figures.lessons import ROLE_BADGES, code_html, pitfall_figure, role_colours
from optviz.lessons.pitfalls import PITFALLS
from optviz.ui import present
from optviz.ui.routing import inside_navigation

inside_navigation()
present.start()

st.title("Pitfalls Lab")
present.intro(
    "The training loop has few lines, and a line in the wrong place rarely raises an error: it changes the numbers "
    "instead. Each pitfall below runs the right and the wrong code with real `torch.optim`, side by side, so you can "
    "see what changes and why.")

KEYS = list(PITFALLS)


@st.cache_data(max_entries=16, show_spinner=False)
def cached_outcome(key: str):
    return PITFALLS[key].run()


url_key = st.query_params.get("pitfall")
if url_key is not None and url_key not in KEYS:
    st.warning(f"This link asks for an unknown pitfall ({url_key[:40]!r}); showing the first one.")
key = st.selectbox("pitfall", KEYS, index=KEYS.index(url_key) if url_key in KEYS else 0, key="pitfalls.which",
                   format_func=lambda k: f"{KEYS.index(k) + 1}. {PITFALLS[k].title}")
if st.query_params.get("pitfall") != key:
    st.query_params["pitfall"] = key
pitfall = PITFALLS[key]

st.subheader(pitfall.title)
slot = st.container() if present.on() else st     # presentation: the figure first, the code under it
st.markdown(f"**Why:** {pitfall.why}")

colours = role_colours(pitfall.snippets)
columns = st.columns(len(pitfall.snippets))
for i, (column, snippet) in enumerate(zip(columns, pitfall.snippets, strict=True)):
    badge = ROLE_BADGES[snippet.role]
    column.markdown(f"<span style='font-size:1.2rem;font-weight:700;color:{colours[i]}'>{badge} {snippet.label}</span>",
                    unsafe_allow_html=True)
    with column:
        size = "0.98rem" if len(columns) < 3 else "0.85rem"
        st.html(code_html(snippet.code, pitfall.changed_lines(i), mark=snippet.role, size=size))
st.caption(f"Highlighted: {pitfall.difference}.")

with st.spinner("running both with torch…"):
    outcome = cached_outcome(key)
slot.plotly_chart(present.fit(pitfall_figure(pitfall, outcome), above=150, notes=url_key not in (None, *KEYS)), width="stretch",
                  key=f"pitfalls.figure.{key}", theme=None)
st.info(outcome.finding)
for label, message in outcome.messages:
    st.warning(f"**torch, in “{label}”:** {message}")

st.markdown(
    "**What to look for.** The wrong runs are real torch runs; only one or two lines differ from the right one. "
    "Several of these mistakes raise no error at all: the numbers are the only symptom.")
