"""Streamlit helpers shared by the pages: widgets drawn from specs, cached runs, URL state."""
