"""Writes a standalone, readable PyTorch script (the canonical loop) that reproduces a run and prints its trace."""
from __future__ import annotations

import math

from .config import Config, parse_config
from .custom import class_code
from .engine import starts_of, surface_of

EXTERNAL_SOURCE = "pytorch-optimizer"
EXTERNAL_PIN = "pytorch-optimizer==4.1.0"

PRELUDE = '''import json
import math

import torch

# The parameters are float64; torch's default dtype stays float32, as in any plain loop, so torch keeps its
# scalar state (step, ASGD's eta and mu, NAdam's mu_product) in float32 exactly as optviz's run does.


def _elementwise(fn):
    return lambda *args: fn(*(torch.as_tensor(a, dtype=torch.float64) for a in args))


# the functions a surface formula may use
sin, cos, tan, exp, log, sqrt, abs, tanh, sinh, cosh = map(_elementwise, (
    torch.sin, torch.cos, torch.tan, torch.exp, torch.log, torch.sqrt, torch.abs, torch.tanh, torch.sinh, torch.cosh))
arctan = atan = _elementwise(torch.atan)
arcsin = asin = _elementwise(torch.asin)
arccos = acos = _elementwise(torch.acos)
arcsinh = _elementwise(torch.asinh)
log10, log2, sigmoid = map(_elementwise, (torch.log10, torch.log2, torch.sigmoid))
minimum = min = _elementwise(torch.minimum)
maximum = max = _elementwise(torch.maximum)
pi, e = math.pi, math.e
'''

_RECORDING = '''

def state_vector(value, numel):
    """One entry of optimizer.state as floats (scalars such as `step` repeated per coordinate)."""
    if torch.is_tensor(value):
        if value.numel() == numel:
            return value.detach().reshape(-1).tolist()
        return [float(value)] * numel if value.numel() == 1 else None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [float(value)] * numel
    return None


def momentum_of(group):
    if "momentum" in group:
        return float(group["momentum"])
    return float(group["betas"][0]) if "betas" in group else None


trace = {"positions": [point()], "losses": [], "grads": [], "lrs": [], "momentums": [], "state": [], "evaluations": []}
'''


def literal(v) -> str:
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else f"float('{v}')"
    if isinstance(v, (list, tuple)):
        inner = ", ".join(literal(x) for x in v)
        return f"({inner})" if isinstance(v, tuple) else f"[{inner}]"
    return repr(v)


def tuple_pairs(name: str, v):
    return tuple(v) if isinstance(v, list) and name in ("betas", "etas", "step_sizes", "eps") else v


def kwargs_code(options: dict, defaults: dict | None = None, skip: tuple = ()) -> str:
    parts = []
    for k, v in options.items():
        if k in skip or (defaults is not None and k in defaults and defaults[k] == v):
            continue
        parts.append(f"{k}={literal(tuple_pairs(k, v))}")
    return ", ".join(parts)


def scheduler_expr(name: str, options: dict, indent: str = "") -> str:
    if name in ("SequentialLR", "ChainedScheduler"):
        kids = ",\n".join(indent + "    " + scheduler_expr(c["name"], c["options"], indent + "    ") for c in options["schedulers"])
        if name == "SequentialLR":
            return f"lr_scheduler.SequentialLR(optimizer, [\n{kids},\n{indent}], milestones={literal(list(options['milestones']))})"
        return f"lr_scheduler.ChainedScheduler([\n{kids},\n{indent}], optimizer=optimizer)"
    opts = dict(options)
    lam = opts.pop("lr_lambda", None)
    args = ["optimizer"]
    if lam is not None:
        if isinstance(lam, list):
            args.append("lr_lambda=[" + ", ".join(f"lambda epoch: float({t})" for t in lam) + "]")
        else:
            args.append(f"lr_lambda=lambda epoch: float({lam})")
    kw = kwargs_code(opts)
    if kw:
        args.append(kw)
    return f"lr_scheduler.{name}({', '.join(args)})"


def _exactness(name: str) -> str:
    """What the script's trace has in common with the app's, as measured (README, "Exactness")."""
    if name.startswith("pytorch_optimizer."):
        return ("How close to the app: the same pytorch-optimizer class on the same float64 numbers; optviz differentiates\n"
                "the formula with forward-mode dual numbers and this script with autograd, which can round a gradient's last\n"
                "bit differently (tested to agree within 1e-9 over short runs).")
    if name == "LBFGS":
        return ("optviz runs LBFGS on autograd's gradients too, so this script prints the app's trace bit for bit.")
    return ("How close to the app: the same torch.optim code on the same float64 numbers, but optviz differentiates the\n"
            "formula with forward-mode dual numbers and this script with autograd (loss.backward()), which can round a\n"
            "gradient's last bit differently. Over 1,000 steps at torch's defaults on every optviz surface that stayed\n"
            "within 1e-15, except for RMSprop, Adadelta and Adafactor, whose oscillating paths amplify it (up to 7e-2,\n"
            "3.5e-2 and 2.4e-2): the same path to the eye, not to every digit.")


def generate_script(config: Config | dict) -> str:
    """A script in the seed's canonical loop (zero_grad → loss → backward → step; scheduler per epoch)."""
    if not isinstance(config, Config):
        config = parse_config(config)
    if config.problem.starts is not None:
        from dataclasses import replace

        config = replace(config, problem=replace(config.problem, starts=None, start=tuple(config.problem.starts[0])))
    spec = config.optimizer_spec
    surface = surface_of(config)
    x0, y0 = (float(v) for v in starts_of(config)[0])
    grouped = config.optimizer.groups is not None
    matrix = spec.point_shape == "matrix"
    torch_defaults = {p.name: p.default for p in spec.params}
    program = config.optimizer.program
    external = spec.source == EXTERNAL_SOURCE
    cls = spec.name if external else f"torch.optim.{spec.name}" if program is None else "CustomOptimizer"
    imports = f"import numpy\nimport pytorch_optimizer  # pip install {EXTERNAL_PIN}\nimport torch\n"
    prelude = PRELUDE.replace("import torch\n", imports, 1) if external else PRELUDE
    out = [f'"""Reproduces an optviz run: {cls} on {surface.label}, {config.steps} steps.\n\n'
           f'Run: python this_file.py   (prints the trace as JSON)\nConfig: {config.to_json()}\n\n'
           f'{_exactness(spec.name)}\n"""', prelude]
    if program is not None:  # the Custom optimizer: the program as a torch.optim.Optimizer subclass
        out.append("\n" + class_code(program, config.optimizer.options))
        torch_defaults = {}
    out.append(f"\ndef f(x, y):\n    return {surface.expression}\n")
    if grouped:
        shape = "[[{}]]" if matrix else "[{}]"
        out.append(f"# two parameters, one per parameter group (the seed's per-group options)\n"
                   f"x = torch.tensor({shape.format(literal(x0))}, dtype=torch.float64, requires_grad=True)\n"
                   f"y = torch.tensor({shape.format(literal(y0))}, dtype=torch.float64, requires_grad=True)\n"
                   "params = [x, y]\n\n\ndef point():\n    return [x.item(), y.item()]\n\n\ndef loss_of(x, y):\n    return f(x, y).sum()\n")
        groups = []
        for g in ("x", "y"):
            items = "".join(f', "{k}": {literal(tuple_pairs(k, v))}' for k, v in config.optimizer.groups.get(g, {}).items())
            groups.append(f'    {{"params": [{g}]{items}}},')
        opt_args = "[\n" + "\n".join(groups) + "\n]"
        getxy = "x, y"
    else:
        init = f"[[{literal(x0)}, {literal(y0)}]]" if matrix else f"[{literal(x0)}, {literal(y0)}]"
        out.append(f"xy = torch.tensor({init}, dtype=torch.float64, requires_grad=True)"
                   + ("  # Muon only takes 2-D parameters" if matrix else "") +
                   "\nparams = [xy]\n\n\ndef point():\n    return xy.detach().reshape(-1).tolist()\n\n\n"
                   "def loss_of(xy):\n    x, y = xy.reshape(-1)\n    return f(x, y)\n")
        opt_args = "[xy]"
        getxy = "xy"
    kw = kwargs_code(config.optimizer.options, torch_defaults)
    out.append(f"\noptimizer = {cls}({opt_args}{', ' + kw if kw else ''})")
    if external:
        out.append(f"torch.manual_seed({config.seed})  # some draw random numbers (Hessian probes, Kron): as optviz seeds them\n"
                   f"numpy.random.seed({config.seed})")
    sch = config.scheduler
    if sch is not None:
        out.insert(1, "")
        out.append("from torch.optim import lr_scheduler  # noqa: E402\n")
        out.append(f"scheduler = {scheduler_expr(sch.name, sch.options)}")
    sigma = config.problem.noise
    if sigma > 0:
        out.append(f"\n# mini-batch noise: the loss gains x·ξ₁ + y·ξ₂, ξ ~ N(0, σ²) drawn anew each step\n"
                   f"noise = {literal(sigma)} * torch.randn(({config.steps}, 1, 2), "
                   f"generator=torch.Generator().manual_seed({config.seed}), dtype=torch.float64)"
                   ".reshape(-1, 2)")
    out.append(_RECORDING)
    noise_term = " + (torch.cat([p.reshape(-1) for p in params]) * noise[step]).sum()" if sigma > 0 else ""
    sparse = "\n    for p in params:\n        p.grad = p.grad.to_sparse()  # SparseAdam takes sparse gradients only" if spec.sparse_grad else ""
    out.append(f'''
step = 0
calls = []


def closure():
    """What step(closure) calls: clear the gradients, recompute the loss, backward(), return the loss."""
    optimizer.zero_grad()
    x_, y_ = point()
    loss = loss_of({getxy}){noise_term}
    loss.backward({'create_graph=True' if spec.needs_graph else ''}){sparse}
    if not calls:
        trace["losses"].append(f(*(torch.tensor(v, dtype=torch.float64) for v in (x_, y_))).item())
        trace["grads"].append([v for p in params for v in p.grad.to_dense().reshape(-1).tolist()])
    calls.append(1)
    return loss


def train_step():
    global step
    trace["lrs"].append([g.get("lr", math.nan) for g in optimizer.param_groups])
    trace["momentums"].append([momentum_of(g) for g in optimizer.param_groups])
    calls.clear()
    loss = optimizer.step(closure)   # after backward(), inside the closure
    trace["evaluations"].append(len(calls))
    trace["positions"].append(point())
    row = {{}}  # per coordinate (x, y); NaN where a parameter group keeps no such entry
    at = 0
    for p in params:
        for name, value in optimizer.state[p].items():
            vec = state_vector(value, p.numel())
            if vec is not None:
                row.setdefault(name, [math.nan, math.nan])[at:at + p.numel()] = vec
        at += p.numel()
    trace["state"].append(row)
    step += 1
    return float(loss.detach())
''')
    n = config.steps
    metric = sch is not None and config.scheduler_spec.needs_metric
    if sch is None:
        out.append(f"for _ in range({n}):\n    train_step()\n")
    elif sch.interval == "step":
        out.append(f"for _ in range({n}):\n    loss = train_step()\n    scheduler.step({'loss' if metric else ''})  # stepped once per optimizer step\n")
    else:
        spe = sch.steps_per_epoch
        epochs = -(-n // spe)
        out.append(f"STEPS, STEPS_PER_EPOCH = {n}, {spe}\n"
                   f"for epoch in range({epochs}):\n"
                   "    epoch_losses = []\n"
                   "    for batch in range(STEPS_PER_EPOCH):  # one optimizer.step() per mini-batch\n"
                   "        if step == STEPS:\n            break\n"
                   "        epoch_losses.append(train_step())\n"
                   f"    scheduler.step({'sum(epoch_losses) / len(epoch_losses)' if metric else ''})  # once per epoch\n")
    out.append('''
x_, y_ = point()
trace["losses"].append(f(*(torch.tensor(v, dtype=torch.float64) for v in (x_, y_))).item())
names = sorted({name for row in trace["state"] for name in row})
trace["state"] = {name: [row.get(name, [math.nan, math.nan]) for row in trace["state"]] for name in names}
print(json.dumps(trace))
''')
    return "\n".join(out)
