"""Every update rule the Explorer shows, as transcribed in optviz.core.formulas, equals torch's step(): the parameters and
every state entry the formula names, step after step, under the options that change the rule."""
import numpy as np
import pytest
import torch

from optviz.core.formulas import UPDATE_RULES, newton_schulz
from optviz.core.optimizers import OPTIMIZERS
from optviz.lessons.presets import WATCH

STEPS = 8
START = (-0.5, -0.5)          # Himmelblau's start in the app; ∇f there is (8, −8)
ZERO_Y_AT = 3                 # the step whose y-gradient is set to 0 (Rprop's and SparseAdam's zero cases)
BOOKKEEPING = {"LBFGS": {"func_evals", "ro", "al", "prev_loss"}}   # torch state that is not in the formula

VARIANTS = {
    "SGD": [{"momentum": 0.0}, {"momentum": 0.9}, {"momentum": 0.9, "dampening": 0.3, "weight_decay": 0.1},
            {"momentum": 0.9, "nesterov": True, "weight_decay": 0.1}, {"momentum": 0.5, "maximize": True}],
    "Adam": [{}, {"weight_decay": 0.1}, {"amsgrad": True, "lr": 0.1}, {"decoupled_weight_decay": True, "weight_decay": 0.5},
             {"maximize": True}],
    "AdamW": [{}, {"amsgrad": True, "weight_decay": 0.5, "lr": 0.1}],
    "Adagrad": [{}, {"lr_decay": 0.1, "initial_accumulator_value": 0.5, "weight_decay": 0.1}],
    "Adadelta": [{}, {"rho": 0.5, "weight_decay": 0.1, "eps": 1e-3}],
    "Adamax": [{}, {"weight_decay": 0.1, "betas": (0.5, 0.6)}],
    "NAdam": [{}, {"weight_decay": 0.1}, {"decoupled_weight_decay": True, "weight_decay": 0.5, "momentum_decay": 0.05}],
    "RAdam": [{}, {"betas": (0.9, 0.9), "weight_decay": 0.1}, {"betas": (0.8, 0.7), "decoupled_weight_decay": True, "weight_decay": 0.5}],
    "RMSprop": [{}, {"centered": True}, {"momentum": 0.9}, {"centered": True, "momentum": 0.5, "weight_decay": 0.1, "alpha": 0.9}],
    "Rprop": [{}, {"lr": 0.5, "step_sizes": (1e-3, 0.7)}, {"lr": 0.3, "etas": (0.3, 1.5), "maximize": True}],
    "ASGD": [{}, {"t0": 2.0, "lambd": 0.05, "alpha": 0.5, "weight_decay": 0.1}],
    "LBFGS": [{"max_iter": 1, "lr": 0.1}, {"max_iter": 1, "lr": 0.05, "history_size": 2}],
    "Adafactor": [{}, {"lr": 0.05, "weight_decay": 0.1, "d": 1.0, "beta2_decay": -0.5}, {"eps": (1e-3, 1e-2), "maximize": True}],
    "Muon": [{"lr": 0.02}, {"lr": 0.02, "nesterov": False, "weight_decay": 0.5}, {"momentum": 0.5, "adjust_lr_fn": "match_rms_adamw"}],
    "SparseAdam": [{}, {"lr": 0.1, "betas": (0.5, 0.9)}],
}


def himmelblau(xy: np.ndarray) -> tuple[float, np.ndarray]:
    x, y = xy.reshape(-1)
    a, b = x * x + y - 11, x + y * y - 7
    return a * a + b * b, np.array([4 * x * a + 2 * b, 2 * a + 4 * y * b]).reshape(xy.shape)


def gradient(theta: np.ndarray, t: int) -> tuple[float, np.ndarray]:
    value, g = himmelblau(theta)
    if t == ZERO_Y_AT:
        g = g.copy()
        g.reshape(-1)[1] = 0.0
    return value, g


def _numpy(v):
    if isinstance(v, torch.Tensor):
        return v.detach().numpy().astype(np.float64)
    if isinstance(v, list):
        return [_numpy(a) for a in v]
    return np.float64(v)


@pytest.fixture(autouse=True)
def float64_scalars():
    """torch keeps scalar state (step, mu_product, eta, mu) in the default dtype: make it float64 like the formula."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def torch_steps(name: str, options: dict, steps: int = STEPS):
    """(θ, state) after each of torch's steps, fed the same gradients as the formula."""
    shape = (1, 2) if OPTIMIZERS[name].point_shape == "matrix" else (2,)
    p = torch.tensor(START, dtype=torch.float64).reshape(shape).requires_grad_(True)
    optimizer = OPTIMIZERS[name].cls([p], **options)
    out = []
    for t in range(1, steps + 1):
        value, g = gradient(p.detach().numpy().copy(), t)

        def closure(value=value, g=g):
            p.grad = torch.tensor(g)
            return torch.tensor(value)

        p.grad = torch.tensor(g).to_sparse() if OPTIMIZERS[name].sparse_grad else torch.tensor(g)
        optimizer.step(closure) if name == "LBFGS" else optimizer.step()
        state = {k: _numpy(v) for k, v in optimizer.state[p].items() if k not in BOOKKEEPING.get(name, ())}
        out.append((p.detach().numpy().copy(), state))
    return out


def formula_steps(name: str, options: dict, steps: int = STEPS):
    theta, state, out = np.array(START, dtype=np.float64).reshape((1, 2) if name == "Muon" else (2,)), {}, []
    for t in range(1, steps + 1):
        _, g = gradient(theta, t)
        theta = UPDATE_RULES[name].step(theta, g, state, options)
        out.append((theta.copy(), {k: _numpy(v) if isinstance(v, list) else np.asarray(v, dtype=np.float64) for k, v in state.items()}))
    return out


CASES = [(name, i) for name, variants in VARIANTS.items() for i in range(len(variants))]


def test_every_optimizer_has_a_transcribed_rule_and_variants():
    assert set(UPDATE_RULES) == set(OPTIMIZERS) == set(VARIANTS)
    for name, spec in OPTIMIZERS.items():
        assert spec.update_rule == UPDATE_RULES[name].latex
        assert spec.update_rule.startswith(r"\begin{aligned}") and spec.update_rule.endswith(r"\end{aligned}")


@pytest.mark.parametrize("name,i", CASES, ids=[f"{n}-{i}" for n, i in CASES])
def test_formula_equals_torch_step_and_state(name, i):
    options = {p.name: p.default for p in OPTIMIZERS[name].params} | VARIANTS[name][i]
    ours, theirs = formula_steps(name, options), torch_steps(name, options)
    theta_tol = dict(rtol=1e-10, atol=1e-13)
    for t, ((theta, state), (theta_torch, state_torch)) in enumerate(zip(ours, theirs, strict=True), start=1):
        np.testing.assert_allclose(theta, theta_torch, **theta_tol, err_msg=f"{name} θ after step {t}")
        assert set(state) == set(state_torch), f"{name}: the formula's state {sorted(state)} vs torch's {sorted(state_torch)}"
        for key in state:
            a, b = state[key], state_torch[key]
            for ai, bi in zip(a, b, strict=True) if isinstance(a, list) else [(a, b)]:
                np.testing.assert_allclose(ai, bi, rtol=1e-10, atol=1e-13, err_msg=f"{name} state {key!r} after step {t}")
    assert np.abs(ours[-1][0] - np.reshape(START, ours[-1][0].shape)).max() > 1e-4     # the run moved


def test_variants_reach_the_branches_they_are_for():
    """The cases above mean something only if the runs reach RAdam's rectified branch, a Rprop sign flip, ASGD's
    averaging, SparseAdam's skipped entry and LBFGS's history."""
    rho_inf = 2 / (1 - 0.9) - 1
    assert rho_inf - 2 * STEPS * 0.9 ** STEPS / (1 - 0.9 ** STEPS) > 5
    prev = [s["prev"] for _, s in torch_steps("Rprop", {p.name: p.default for p in OPTIMIZERS["Rprop"].params} | VARIANTS["Rprop"][1])]
    assert any(np.any(p == 0) for p in prev[:ZERO_Y_AT - 1] + prev[ZERO_Y_AT:])     # a flip zeroed prev
    asgd = torch_steps("ASGD", {p.name: p.default for p in OPTIMIZERS["ASGD"].params} | VARIANTS["ASGD"][1])
    assert float(asgd[-1][1]["mu"]) < 1
    sparse = formula_steps("SparseAdam", {p.name: p.default for p in OPTIMIZERS["SparseAdam"].params})
    assert sparse[ZERO_Y_AT - 1][0][1] == sparse[ZERO_Y_AT - 2][0][1]
    lbfgs = torch_steps("LBFGS", {p.name: p.default for p in OPTIMIZERS["LBFGS"].params} | VARIANTS["LBFGS"][1])
    assert len(lbfgs[-1][1]["old_dirs"]) == 2


def test_muon_buffer_is_torchs_lerp_not_a_sum():
    """After step 1 on Himmelblau from (−0.5, −0.5), where ∇f = (8, −8): B₁ = (1 − μ)·G₁ = (0.4, −0.4), not G₁."""
    options = {p.name: p.default for p in OPTIMIZERS["Muon"].params} | {"lr": 0.02}
    (_, state), = torch_steps("Muon", options, steps=1)
    np.testing.assert_allclose(state["momentum_buffer"], [[0.4, -0.4]], rtol=1e-12)
    (_, ours), = formula_steps("Muon", options, steps=1)
    np.testing.assert_allclose(ours["momentum_buffer"], [[0.4, -0.4]], rtol=1e-12)
    latex = OPTIMIZERS["Muon"].update_rule
    assert r"B_t = \mu\, B_{t-1} + (1-\mu)\, G_t" in latex
    assert r"(1-\gamma\lambda)\,\theta_{t-1}" in latex and "default 0.1" in latex


def test_newton_schulz_rounds_like_torch():
    """The transcription's bfloat16 rounding reproduces torch's Newton–Schulz bit for bit (rows and columns)."""
    from torch.optim._muon import _zeropower_via_newtonschulz

    rng = np.random.default_rng(0)
    for shape in [(1, 2)] * 40 + [(2, 1)] * 10 + [(1, 1)] * 10:
        u = rng.normal(size=shape) * 10 ** rng.uniform(-3, 3)
        theirs = _zeropower_via_newtonschulz(torch.tensor(u), (3.4445, -4.775, 2.0315), 5, 1e-7).double().numpy()
        np.testing.assert_array_equal(newton_schulz(u, 5, 1e-7), theirs)
    # a 1×2 row comes out along itself with length ≈ 0.7 after torch's 5 steps, as Muon's summary says
    x = newton_schulz(np.array([[3.0, -4.0]]), 5, 1e-7, rounding=np.asarray)
    np.testing.assert_allclose(x / np.linalg.norm(x), [[0.6, -0.8]], rtol=1e-12)
    lengths = [np.linalg.norm(newton_schulz(rng.normal(size=(1, 2)) * 10 ** rng.uniform(-3, 3), 5, 1e-7)) for _ in range(200)]
    assert round(min(lengths), 1) == round(max(lengths), 1) == 0.7
    assert "length ≈ 0.7" in OPTIMIZERS["Muon"].summary and "length ≈ 0.7" in WATCH["Muon"]
    assert OPTIMIZERS["Muon"].param("ns_steps").default == 5


def test_every_formula_renders_in_streamlits_katex(tmp_path):
    """st.latex draws with the KaTeX bundled in Streamlit: each formula must parse there (throwOnError)."""
    import json
    import shutil
    import subprocess
    from pathlib import Path

    import streamlit

    bundles = sorted((Path(streamlit.__file__).parent / "static").rglob("katex.*.js"))
    node = shutil.which("node")
    if not bundles or not node:
        pytest.skip("needs node and Streamlit's KaTeX bundle")
    shutil.copy(bundles[0], tmp_path / "katex.mjs")
    (tmp_path / "formulas.json").write_text(json.dumps({k: s.update_rule for k, s in OPTIMIZERS.items()}))
    (tmp_path / "check.mjs").write_text(
        "import katex from './katex.mjs'; import fs from 'fs';\n"
        "const f = JSON.parse(fs.readFileSync(process.argv[2]));\n"
        "for (const [k, v] of Object.entries(f)) {\n"
        "  try { katex.renderToString(v, {displayMode: true, throwOnError: true}); }\n"
        "  catch (e) { console.log(k + ': ' + e.message); } }\n")
    out = subprocess.run([node, str(tmp_path / "check.mjs"), str(tmp_path / "formulas.json")], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout == "", out.stdout + out.stderr
