"""Keeps deep links inside app.py's navigation on a server's very first visit."""
import streamlit as st


def inside_navigation() -> None:
    """Streamlit serves a `pages/` folder as a legacy multipage app until some session has run `st.navigation`.
    A fresh server's first visitor arriving by a deep link (a teacher's `/explorer?...` link) would get the page
    without app.py's layout and menu; switch the app to st.navigation and rerun, which keeps the URL and its query."""
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a Streamlit without this internal: nothing to correct
        return
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()
