"""Small nets: a tiny MLP trained by torch.optim on a 2-D data set, recorded epoch by epoch.

What lives here: the data sets (`datasets`), what is trained (`model`: the typed NetConfig, the MLP with its
`base` and `classifier` submodules, the optimizer built as two parameter groups), the loop and its record
(`training`: `train` returns a NetTrace), the loss landscape around the trained weights (`landscape`) and the
standalone script that reproduces a run (`netcode`). It may import `optviz.core` (the optimizer and scheduler
registries, the config's parsing helpers, the code generator's pieces), never `optviz.lessons`, `optviz.figures` or
`optviz.ui`, and never streamlit or plotly.
"""
