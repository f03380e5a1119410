"""Predict, then reveal: commit to a guess about a real torch.optim run, then see the run."""
import streamlit as st

from optviz.lessons import predict as P
from optviz.lessons.predict_bank import SEQUENCES, sequence
from optviz.ui import explorer_view as view
from optviz.ui import predict_view as pv
from optviz.ui import present
from optviz.ui.routing import inside_navigation

inside_navigation()
present.start()

st.title(":material/psychology_alt: Predict, then reveal")
present.intro("Guess first, then look: each question shows the settings and the start of a run, you commit to what "
              "happens next, and only then does the **real `torch.optim` run** appear, drawn over your guess. Every "
              "answer is computed from the run itself, never typed in by hand.")

q, notes = pv.read_question()
qk = pv.key_of(q)
for note in notes:
    st.warning(view.md(note), icon=":material/link_off:")

builtin = qk == q.id
if builtin:
    items = sequence(q.sequence)
    i = [x.id for x in items].index(q.id)
    keys = list(SEQUENCES)
    st.session_state["predict.seq"] = q.sequence        # the picker follows the link
    c1, c2, c3, c4 = st.columns([3, 2, 1, 1], vertical_alignment="bottom")
    c1.selectbox("sequence", keys, key="predict.seq", format_func=lambda k: f"{SEQUENCES[k]} ({len(sequence(k))} questions)",
                 on_change=lambda: pv.go_to(sequence(st.session_state["predict.seq"])[0].id),
                 label_visibility="collapsed" if present.on() else "visible")
    c2.markdown(f"**Question {i + 1} of {len(items)}** · {q.kind}")
    c3.button("← Back", key="predict.back", disabled=i == 0, on_click=pv.go_to, args=(items[max(i - 1, 0)].id,), width="stretch")
    nxt = items[i + 1] if i + 1 < len(items) else (sequence(keys[(keys.index(q.sequence) + 1) % len(keys)])[0])
    c4.button("Next →", key="predict.next", on_click=pv.go_to, args=(nxt.id,), width="stretch")
else:
    st.info("A question made from a link: the answer is computed from this run when you reveal it.", icon=":material/link:")
committed = st.session_state.setdefault(pv.COMMITTED, {})
guess = committed.get(qk)
shown = qk in st.session_state.setdefault(pv.REVEALED, set())
ans = pv.answer(q) if shown else None
result = P.score(q, ans, tuple(guess) if q.kind == "where" else guess) if shown and guess is not None else None
if result is not None:
    pv.record(qk, result)
st.markdown(pv.score_line())
st.markdown(f"### {view.md(q.prompt)}")

left, right = st.columns([3, 2], gap="medium")
x_key, y_key = f"predict.x.{qk}", f"predict.y.{qk}"


def _clicked() -> None:
    points = (st.session_state.get(f"predict.figure.{qk}") or {}).get("selection", {}).get("points", [])
    if points and qk not in committed:
        st.session_state[x_key], st.session_state[y_key] = round(points[0]["x"], 3), round(points[0]["y"], 3)


clickable = q.kind == "where" and guess is None and not shown
fig = pv.figure(q, shown, tuple(guess) if q.kind == "where" and guess is not None else None)
left.plotly_chart(present.fit(fig, above=pv.above_figure(q), notes=len(notes)), key=f"predict.figure.{qk}", width="stretch", theme=None,
                  on_select=_clicked if clickable else "ignore", selection_mode="points")

with right:
    rows = pv.settings_rows(q)
    if rows:
        st.markdown(pv.settings_table(rows))
    if q.kind == "code":
        pv.loops(q)
    locked = guess is not None or shown
    if q.kind == "where":
        st.markdown("**Your guess:** click the plot, or type the point.")
        a, b = st.columns(2)
        x = a.number_input("x", value=None, key=x_key, format="%.3f", disabled=locked)
        y = b.number_input("y", value=None, key=y_key, format="%.3f", disabled=locked)
        pick = None if x is None or y is None else [float(x), float(y)]
    else:
        pick = st.radio("Your guess", q.choices, index=None, key=f"predict.choice.{qk}", disabled=locked)
    if guess is None and not shown:
        st.button("Commit my guess", key="predict.commit", type="primary", disabled=pick is None, icon=":material/lock:",
                  on_click=pv.commit, args=(qk, pick, not pv.holding()))
    elif guess is not None and not shown:
        st.success("Guess committed. The teacher reveals the answer.", icon=":material/lock:")
    if not shown and pv.holding():
        st.button("Reveal", key="predict.reveal", icon=":material/visibility:", on_click=pv.reveal, args=(qk,))
    if shown:
        if result is not None:
            (st.success if result.right else st.error)(view.md(result.text), icon=":material/check_circle:" if result.right
                                                      else ":material/cancel:")
        answer_text = ans.value if isinstance(ans.value, str) else f"({ans.value[0]:.3g}, {ans.value[1]:.3g})"
        st.markdown(f"**The answer: {view.md(answer_text)}.** {view.md(ans.because)}"
                    + (" On the plot: ✖ your guess, ◯ the real point; ▶ Play replays the run." if q.kind == "where" else ""))
        st.info(view.md(q.explanation), icon=":material/lightbulb:")
        st.markdown(pv.run_link(q))

if not present.on():
    with st.expander("Links for a class", icon=":material/share:"):
        st.markdown(f"- this question: [link](./{pv.question_url(q)}) · with the answer held back until you press "
                    f"Reveal: [link](./{pv.question_url(q, hold=True)})\n"
                    + "\n".join(f"- the sequence *{title}*: [link](./predict?seq={key})" for key, title in SEQUENCES.items())
                    + "\n\nAdd `&present=1` for a projector; `&hold=1` holds every answer back until Reveal.")
