"""Writes a standalone PyTorch script that trains a small net as optviz does and prints the same metrics as JSON."""
from __future__ import annotations

import inspect

from optviz.core.codegen import PRELUDE, kwargs_code, literal, scheduler_expr, tuple_pairs

from .datasets import split_data
from .model import ACTIVATIONS, NetConfig, init_parameters, parse_net_config

_HEADER = '''import json
import math

import torch
from torch import nn
'''

_EVALUATE = '''

def evaluate():
    """Loss and {score} on the whole training and test sets, one batch each."""
    with torch.no_grad():
        out_train, out_test = model(X_train), model(X_test)
        return [loss_fn(out_train, y_train), loss_fn(out_test, y_test), score(out_train, y_train), score(out_test, y_test)]


def record():
    """Appends the epoch's metrics; False once the training loss is no longer finite (optviz stops there)."""
    values = evaluate()
    if not math.isfinite(values[0].item()):
        return False
    for name, value in zip(("train_loss", "test_loss", "train_score", "test_score"), values):
        metrics[name].append(value.item())
    return True


metrics = {{"train_loss": [], "test_loss": [], "train_score": [], "test_score": [], "lrs": []}}
record()
'''


def _source(fn) -> str:
    return inspect.getsource(fn).strip() + "\n"


def _groups_text(config: NetConfig) -> str:
    if config.full_batch:
        return "model.parameters()"
    rows = []
    for g in ("base", "classifier"):
        extra = "".join(f", '{k}': {literal(tuple_pairs(k, v))}" for k, v in (config.optimizer.groups or {}).get(g, {}).items())
        rows.append(f"    {{'params': model.{g}.parameters(){extra}}},")
    return "[\n" + "\n".join(rows) + "\n]"


def optimizer_text(config: NetConfig) -> str:
    """The line that builds the optimizer, as the seed writes it (one dict per submodule, defaults as keywords)."""
    spec = config.optimizer_spec
    kw = kwargs_code(config.optimizer.options, {p.name: p.default for p in spec.params})
    note = "  # no parameter groups" if config.full_batch else ""
    return f"optimizer = torch.optim.{spec.name}({_groups_text(config)}{', ' + kw if kw else ''}){note}"


def generate_net_script(config: NetConfig | dict) -> str:
    """A script in the seed's canonical loop: per mini-batch zero_grad → output → loss → backward → step."""
    if not isinstance(config, NetConfig):
        config = parse_net_config(config)
    ds, m, d = config.dataset, config.model, config.data
    spec = config.optimizer_spec
    sch = config.scheduler
    lam = sch is not None and "lr_lambda" in repr(sch.options)
    out = [f'"""Trains a {ds.n_features}-{"-".join([str(m.width)] * m.depth)}-{ds.n_outputs} MLP on '
           f'{ds.label} with torch.optim.{spec.name}, {config.epochs} epochs, as optviz does.\n\n'
           f'Run: python this_file.py   (prints the metrics of every epoch and the lr of every step as JSON)\n'
           f'Config: {config.to_json()}\n"""']
    out.append(PRELUDE + "from torch import nn  # noqa: E402\n" if lam else _HEADER)
    out.append("torch.set_num_threads(1)\n\n")
    out.append("\n\n".join(_source(f) for f in (ds.make, split_data, init_parameters)))
    target = ("torch.tensor(y, dtype=torch.float64).reshape(-1, 1)  # (n, 1) targets for MSELoss" if ds.regression
              else "torch.tensor(y)  # class indices for CrossEntropyLoss")
    out.append(f'''
X, y = {ds.make.__name__}({d.n_points}, {literal(d.noise)}, {d.seed})
X_train, y_train, X_test, y_test = split_data(X, y, {literal(d.test_fraction)}, {d.seed})


def features(X):
    return torch.tensor(X, dtype=torch.float64)


def targets(y):
    return {target}


X_train, X_test = features(X_train), features(X_test)
y_train, y_test = targets(y_train), targets(y_test)


class MLP(nn.Module):
    def __init__(self, n_in, width, depth, n_out):
        super().__init__()
        layers = []
        for i in range(depth):
            layers += [nn.Linear(n_in if i == 0 else width, width, dtype=torch.float64), nn.{ACTIVATIONS[m.activation]}()]
        self.base = nn.Sequential(*layers)
        self.classifier = nn.Linear(width, n_out, dtype=torch.float64)

    def forward(self, x):
        return self.classifier(self.base(x))


model = MLP({ds.n_features}, {m.width}, {m.depth}, {ds.n_outputs})
init_parameters(model, {config.seed})
loss_fn = nn.{"MSELoss" if ds.regression else "CrossEntropyLoss"}()
''')
    if ds.regression:
        out.append("\ndef score(output, target):\n    # R² = 1 − SSE / SST\n"
                   "    return 1 - ((output - target) ** 2).sum() / ((target - target.mean()) ** 2).sum()")
    else:
        out.append("\ndef score(output, target):\n    # accuracy\n"
                   "    return (output.argmax(dim=1) == target).to(torch.float64).mean()")
    out.append("\n\n" + optimizer_text(config))
    if sch is not None:
        out.append(f"from torch.optim import lr_scheduler  # noqa: E402\n\nscheduler = {scheduler_expr(sch.name, sch.options)}")
    out.append(_EVALUATE.format(score="R²" if ds.regression else "accuracy"))
    out.append(_loop(config))
    out.append("print(json.dumps(metrics))\n")
    return "\n".join(out)


def _loop(config: NetConfig) -> str:
    sch = config.scheduler
    metric = sch is not None and config.scheduler_spec.needs_metric
    per_step = sch is not None and sch.interval == "step"
    after_step = ""
    if per_step:
        after_step = f"\n        scheduler.step({'loss.detach()' if metric else ''})  # once per optimizer step"
    after_epoch = ""
    if sch is not None and not per_step:
        arg = "metrics['train_loss'][-1]" if metric else ""
        after_epoch = f"\n    scheduler.step({arg})  # once per epoch"
    if config.full_batch:
        return f'''

def closure():
    """LBFGS re-evaluates the loss several times per step: clear, forward, backward, return the loss."""
    optimizer.zero_grad()
    output = model(X_train)
    loss = loss_fn(output, y_train)
    loss.backward()
    return loss


for epoch in range({config.epochs}):
    metrics["lrs"].append([group["lr"] for group in optimizer.param_groups])
    loss = optimizer.step(closure)  # one full-batch step per epoch{after_step.replace(" " * 8, " " * 4)}
    if not record():
        break{after_epoch}
'''
    return f'''
generator = torch.Generator().manual_seed({config.seed})
for epoch in range({config.epochs}):
    perm = torch.randperm(len(X_train), generator=generator)
    for inputs, target in zip(X_train[perm].split({config.batch_size}), y_train[perm].split({config.batch_size})):
        metrics["lrs"].append([group["lr"] for group in optimizer.param_groups])
        optimizer.zero_grad()
        output = model(inputs)
        loss = loss_fn(output, target)
        loss.backward()
        optimizer.step(){after_step}
    if not record():
        break{after_epoch}
'''


__all__ = ["generate_net_script", "optimizer_text"]
