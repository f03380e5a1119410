"""optviz: real torch.optim, step by step, on 2-D loss surfaces."""
from .core.config import Config, ConfigError, OptimizerChoice, Problem, SchedulerChoice, parse_config
from .core.engine import run, surface_of
from .core.trace import Trace

__all__ = ["Config", "ConfigError", "OptimizerChoice", "Problem", "SchedulerChoice", "Trace", "parse_config",
           "run", "surface_of"]
__version__ = "0.1.0"
