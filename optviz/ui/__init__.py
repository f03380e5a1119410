"""Streamlit helpers shared by the pages: widgets drawn from specs, cached runs, URL state.

What lives here: the controls drawn from the hyperparameter specs (`widgets`, `controls`, `net_controls`), the one
cache of runs keyed by the config's canonical JSON (`runner`), the URL state of every page (`urlstate`, `net_state`),
the Explorer's shared view (`explorer_view`), the Sweeps page's cached maps and figures (`maps`), the Quadratic
Lab's and the Write-your-own-step() page's cached figures (`theory_view`, `custom_view`) and page routing
(`routing`). This is the only part that imports streamlit; it may import every other part of optviz (core, lessons,
nets, figures) and plotly, but never `pages/`.
"""
