"""optviz: the entrypoint. Sets up the page and routes to the lessons in pages/."""
from pathlib import Path

import streamlit as st
import torch

torch.set_num_threads(1)

st.set_page_config(page_title="optviz — see torch.optim work", page_icon="📉", layout="wide")

HERE = Path(__file__).parent
# (file, title, icon, section): a lesson appears once its file exists
PAGES = [
    ("home.py", "Home", ":material/home:", "Start"),
    ("predict.py", "Predict, then reveal", ":material/psychology_alt:", "Start"),
    ("explorer.py", "Trajectory Explorer", ":material/explore:", "Surfaces"),
    ("race.py", "Optimizer Race", ":material/sports_score:", "Surfaces"),
    ("zoo.py", "Optimizer Zoo", ":material/pets:", "Surfaces"),
    ("gallery.py", "Gallery", ":material/photo_library:", "Surfaces"),
    ("inside_step.py", "Inside optimizer.step()", ":material/biotech:", "The seed's lessons"),
    ("custom_step.py", "Write your own step()", ":material/edit_note:", "The seed's lessons"),
    ("scheduler_lab.py", "Scheduler Lab", ":material/calendar_month:", "The seed's lessons"),
    ("pitfalls.py", "Pitfalls Lab", ":material/warning:", "The seed's lessons"),
    ("small_nets.py", "Small Nets", ":material/psychology:", "Networks"),
    ("quadratic_lab.py", "Quadratic Lab", ":material/square_foot:", "Theory"),
    ("sweeps.py", "Sweeps & Basins", ":material/map:", "Theory"),
    ("invariance_lab.py", "Invariance Lab", ":material/rotate_right:", "Theory"),
]

sections: dict[str, list] = {}
for file, title, icon, section in PAGES:
    path = HERE / "pages" / file
    if path.exists():
        sections.setdefault(section, []).append(st.Page(str(path), title=title, icon=icon, default=file == "home.py"))

st.navigation(sections).run()
