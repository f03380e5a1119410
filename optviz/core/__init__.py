"""The core run: one config in, one Trace out, with torch.optim doing the optimizing.

What lives here: the registries as data (`surfaces`, `optimizers`, `schedulers`, with `specs` for their
hyperparameters, `formulas` for the update rules shown beside them, `custom` for a learner's own step() run as a
torch.optim.Optimizer, `catalog` listing them all), the typed config (`config`), the torch objects it asks for
(`build`), the run (`engine`) and its record (`trace`), the code generator (`codegen`), the numeric kernels
(`numeric`: values and gradients of a surface; `vectorised`: many runs as one tensor) and the expression compiler
(`expr`). It imports torch and numpy, and nothing else of optviz: no lesson, net, figure or UI module, no streamlit,
no plotly. Every other part of the app is built on it.
"""

from . import external  # noqa: E402,F401  registers pytorch-optimizer's catalogue with get_optimizer (the package loads on first use)
