"""The lessons' computations: what a page teaches, computed with real torch and returned as typed records.

What lives here: `inside` (SGD, Adam, RMSprop, Adagrad re-implemented line by line and checked against torch),
`pitfalls` (right vs wrong loops), `schedlab` (the Scheduler Lab's experiments), `race` (several optimizers on one
surface, the lr-tuning protocol) with its `presets`, `sweeps` and `basins` (maps over hyperparameters and start
points), `theory` (momentum on a quadratic, predicted vs observed), `custom_step` (write your own step(): templates,
exercises, the comparison with torch), `predict` (Predict, then reveal: questions whose answers and scores are
computed from real runs) with its built-in questions in `predict_bank`. A lesson may import `optviz.core` and another lesson, never `optviz.nets`,
`optviz.figures` or `optviz.ui`, and never streamlit or plotly: pages draw its records.
"""
