"""optviz: the entrypoint. Sets up the page and routes to the lessons in pages/."""
from pathlib import Path

import streamlit as st
import torch

torch.set_num_threads(1)

st.set_page_config(page_title="optviz — see torch.optim work", page_icon="📉", layout="wide")

HERE = Path(__file__).parent
# (file, title, icon, section): a lesson appears once its file exists
PAGES = [
    ("home.py", "Home", "🏠", "Start"),
    ("explorer.py", "Trajectory Explorer", "🧭", "Surfaces"),
    ("race.py", "Optimizer Race", "🏁", "Surfaces"),
    ("inside_step.py", "Inside optimizer.step()", "🔬", "The seed's lessons"),
    ("scheduler_lab.py", "Scheduler Lab", "📅", "The seed's lessons"),
    ("pitfalls.py", "Pitfalls Lab", "⚠️", "The seed's lessons"),
    ("small_nets.py", "Small Nets", "🧠", "Networks"),
    ("quadratic_lab.py", "Quadratic Lab", "📐", "Theory"),
    ("sweeps.py", "Sweeps & Basins", "🗺️", "Theory"),
]

sections: dict[str, list] = {}
for file, title, icon, section in PAGES:
    path = HERE / "pages" / file
    if path.exists():
        sections.setdefault(section, []).append(st.Page(str(path), title=title, icon=icon, default=file == "home.py"))

st.navigation(sections).run()
