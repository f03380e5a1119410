"""The code generator reproduces traces; the CLI's paths and errors; the engine never imports streamlit."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from optviz import parse_config, run
from optviz.__main__ import main
from optviz.core.codegen import generate_script

ROOT = Path(__file__).resolve().parents[1]

CONFIGS = {
    "sgd-groups-steplr-noise": {"optimizer": {"name": "SGD", "options": {"lr": 5e-4, "momentum": 0.9, "nesterov": True},
                                              "groups": {"x": {"lr": 1e-3}, "y": {}}},
                                "scheduler": {"name": "StepLR", "options": {"step_size": 3, "gamma": 0.5}, "steps_per_epoch": 7},
                                "problem": {"noise": 0.5}, "steps": 40},
    "adam-onecycle-beale": {"optimizer": {"name": "Adam", "options": {"lr": 0.02, "amsgrad": True}},
                            "scheduler": {"name": "OneCycleLR", "options": {"max_lr": 0.05}, "interval": "step"},
                            "problem": {"surface": "beale"}, "steps": 40},
    "lbfgs-wolfe": {"optimizer": {"name": "LBFGS", "options": {"line_search_fn": "strong_wolfe"}}, "steps": 4},
    "muon-warmup-expression": {"optimizer": {"name": "Muon", "options": {"lr": 0.05}},
                               "scheduler": {"name": "SequentialLR"}, "problem": {"expression": "x**2 + 3*sin(y)**2", "start": [1, 1]},
                               "steps": 30},
    "sparse-adam-plateau-groups": {"optimizer": {"name": "SparseAdam", "options": {"lr": 0.01}, "groups": {"x": {}, "y": {"lr": 0.02}}},
                                   "scheduler": {"name": "ReduceLROnPlateau", "options": {"patience": 1}, "steps_per_epoch": 4},
                                   "problem": {"surface": "quadratic"}, "steps": 30},
    "rmsprop-lambda-per-group": {"optimizer": {"name": "RMSprop", "options": {"lr": 0.01, "centered": True, "momentum": 0.5},
                                               "groups": {"x": {}, "y": {"alpha": 0.9}}},
                                 "scheduler": {"name": "LambdaLR", "options": {"lr_lambda": ["0.9**epoch", "1/(epoch+1)"]}},
                                 "problem": {"surface": "himmelblau"}, "steps": 30},
    # per-group options that change torch's state keys: the state entry a group lacks is NaN on its coordinate
    "sgd-momentum-in-one-group": {"optimizer": {"name": "SGD", "options": {"lr": 0.001, "momentum": 0.9},
                                                "groups": {"x": {}, "y": {"momentum": 0.0}}}, "steps": 8},
    "adamw-amsgrad-in-one-group-noise": {"optimizer": {"name": "AdamW", "options": {"lr": 0.01}, "groups": {"x": {}, "y": {"amsgrad": True}}},
                                         "problem": {"surface": "beale", "noise": 0.3}, "steps": 30},
    "rmsprop-centered-x-momentum-y": {"optimizer": {"name": "RMSprop", "options": {"lr": 0.01},
                                                    "groups": {"x": {"centered": True}, "y": {"momentum": 0.5}}},
                                      "problem": {"surface": "booth"}, "steps": 30},
    "muon-nesterov-in-one-group": {"optimizer": {"name": "Muon", "options": {"lr": 0.02},
                                                 "groups": {"x": {"nesterov": False, "momentum": 0.0}, "y": {}}},
                                   "problem": {"surface": "himmelblau"}, "steps": 20},
    # LBFGS runs on autograd's gradients in optviz too: the export is bit for bit (it drifted 2e-5 by step 4)
    "lbfgs-default": {"optimizer": {"name": "LBFGS"}, "steps": 8},
    "lbfgs-wolfe-noise": {"optimizer": {"name": "LBFGS", "options": {"line_search_fn": "strong_wolfe"}},
                          "problem": {"surface": "himmelblau", "noise": 0.3}, "steps": 10},
    # long runs of the optimizers that keep scalar state in a tensor (torch's default dtype: float32 in both)
    "asgd-long": {"optimizer": {"name": "ASGD", "options": {"lr": 2e-4, "t0": 100.0}}, "steps": 3000},
    "nadam-long": {"optimizer": {"name": "NAdam", "options": {"lr": 0.01}}, "steps": 3000},
}
BIT_FOR_BIT = ("lbfgs-wolfe", "lbfgs-default", "lbfgs-wolfe-noise")


RUNNER = """
import contextlib, io, runpy, sys
for src in sys.argv[1:]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        runpy.run_path(src, run_name="__main__")
    open(src + ".json", "w").write(out.getvalue())
"""


@pytest.fixture(scope="module")
def script_outputs(tmp_path_factory):
    """Every generated script, run as a plain Python program in one fresh interpreter (one torch import)."""
    folder = tmp_path_factory.mktemp("scripts")
    paths = {}
    for key, data in CONFIGS.items():
        paths[key] = folder / f"{key}.py"
        paths[key].write_text(generate_script(parse_config(data)))
    out = subprocess.run([sys.executable, "-c", RUNNER, *map(str, paths.values())], capture_output=True, text=True,
                         timeout=300, env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr[-2000:]
    return {key: (p.parent / (p.name + ".json")).read_text() for key, p in paths.items()}


@pytest.mark.parametrize("key", CONFIGS)
def test_generated_script_reproduces_the_trace(key, script_outputs):
    config = parse_config(CONFIGS[key])
    theirs = json.loads(script_outputs[key])
    ours = run(config)
    assert ours.diverged_at is None, ours.message
    np.testing.assert_allclose(np.array(theirs["positions"]), ours.positions, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(np.array(theirs["losses"]), ours.losses, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(np.array(theirs["grads"]), ours.grads, rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(np.array(theirs["lrs"]), ours.lrs, rtol=1e-12)
    np.testing.assert_array_equal(np.array(theirs["evaluations"]), ours.evaluations)
    assert set(theirs["state"]) == set(ours.state)
    for name, values in theirs["state"].items():
        np.testing.assert_allclose(np.array(values, dtype=float), ours.state[name], rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("key", BIT_FOR_BIT)
def test_lbfgs_export_is_bit_for_bit(key, script_outputs):
    theirs = json.loads(script_outputs[key])
    ours = run(parse_config(CONFIGS[key]))
    np.testing.assert_array_equal(np.array(theirs["positions"]), ours.positions)
    np.testing.assert_array_equal(np.array(theirs["grads"]), ours.grads)
    np.testing.assert_array_equal(np.array(theirs["losses"]), ours.losses)
    np.testing.assert_array_equal(np.array(theirs["evaluations"]), ours.evaluations)
    for name, values in theirs["state"].items():
        np.testing.assert_array_equal(np.array(values, dtype=float), ours.state[name], err_msg=name)


@pytest.mark.parametrize("key, scalars", [("asgd-long", ("step", "eta", "mu")), ("nadam-long", ("step", "mu_product"))])
def test_long_runs_keep_torchs_scalar_state_in_app_and_script(key, scalars, script_outputs):
    """3,000 steps: ASGD's eta/mu and NAdam's mu_product are float32 tensors in both (torch's default dtype), so the
    scalar state is identical and the paths agree to rounding (they were 1.6e-6 and 1.7e-2 apart)."""
    theirs = json.loads(script_outputs[key])
    ours = run(parse_config(CONFIGS[key]))
    assert ours.steps == 3000, ours.message
    for name in scalars:
        np.testing.assert_array_equal(np.array(theirs["state"][name]), ours.state[name], err_msg=name)
    np.testing.assert_allclose(np.array(theirs["positions"]), ours.positions, rtol=0, atol=1e-13)
    for name, values in theirs["state"].items():
        np.testing.assert_allclose(np.array(values), ours.state[name], rtol=1e-12, atol=1e-300, err_msg=name)


def test_scalar_state_dtype_is_torchs_default_for_float64_params():
    """The plain loop: float64 parameters, torch's default dtype left alone; mu_product lives in a float32 tensor."""
    p = torch.tensor([-1.5, 2.0], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.NAdam([p], lr=0.01)
    p.grad = torch.ones_like(p)
    opt.step()
    assert opt.state[p]["mu_product"].dtype == torch.float32
    ours = run(parse_config({"optimizer": {"name": "NAdam", "options": {"lr": 0.01}}, "steps": 1}))
    assert ours.state["mu_product"][0, 0] == opt.state[p]["mu_product"].item()
    assert "set_default_dtype" not in generate_script(parse_config(CONFIGS["nadam-long"]))


def test_generated_script_reads_like_the_seed():
    text = generate_script(parse_config(CONFIGS["sgd-groups-steplr-noise"]))
    assert 'optimizer = torch.optim.SGD([\n    {"params": [x], "lr": 0.001},\n    {"params": [y]},\n], lr=0.0005, momentum=0.9, nesterov=True)' in text
    for line in ("optimizer.zero_grad()", "loss.backward()", "optimizer.step(closure)", "scheduler.step()  # once per epoch"):
        assert line in text
    compile(text, "generated", "exec")  # valid Python (compiled, not run, here)


def write(tmp_path, data):
    p = tmp_path / "c.json"
    p.write_text(json.dumps(data))
    return str(p)


def test_cli_run_prints_the_trace(tmp_path, capsys):
    assert main(["run", write(tmp_path, {"optimizer": {"name": "Adam"}, "steps": 5})]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("config", "positions", "losses", "grads", "lrs", "momentums", "state", "evaluations", "diverged_at", "message"):
        assert key in out
    assert len(out["positions"]) == 6 and out["config"]["optimizer"]["name"] == "Adam"


def test_cli_code_and_list(tmp_path, capsys):
    assert main(["code", write(tmp_path, {"steps": 3})]) == 0
    assert "torch.optim.SGD" in capsys.readouterr().out
    assert main(["list"]) == 0
    cat = json.loads(capsys.readouterr().out)
    assert {o["name"] for o in cat["optimizers"]} >= {"SGD", "Adam", "LBFGS", "Muon", "SparseAdam", "Adafactor"}
    assert len(cat["schedulers"]) == 15 and len(cat["surfaces"]) >= 15


@pytest.mark.parametrize("data, field", [
    ({"optimizer": {"name": "SGD", "options": {"lr": -1}}}, "optimizer.options.lr"),
    ({"steps": 10**9}, "steps"),
    ({"problem": {"expression": "().__class__"}}, "problem.expression"),
])
def test_cli_invalid_config_exits_2_with_one_line(tmp_path, capsys, data, field):
    assert main(["run", write(tmp_path, data)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and field in err


def test_cli_unreadable_input(tmp_path, capsys):
    assert main(["run", str(tmp_path / "missing.json")]) == 2
    assert "cannot read" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["run", str(bad)]) == 2
    assert "not valid JSON" in capsys.readouterr().err


def test_cli_reads_stdin():
    out = subprocess.run([sys.executable, "-m", "optviz", "run", "-"], input='{"steps": 3}', capture_output=True, text=True,
                         cwd=ROOT, timeout=120)
    assert out.returncode == 0 and len(json.loads(out.stdout)["positions"]) == 4


def test_engine_never_imports_streamlit():
    engine = [p for p in (ROOT / "optviz").rglob("*.py") if "ui" not in p.relative_to(ROOT / "optviz").parts]
    for path in engine:
        text = path.read_text()
        assert "import streamlit" not in text and "from streamlit" not in text, path
    mods = sorted(".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__") for p in engine if p.stem != "__main__")
    code = "import sys, optviz\n" + "".join(f"import {m}\n" for m in mods) + "print('streamlit' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-1500:]
    assert out.stdout.strip() == "False"
