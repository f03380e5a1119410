"""pytorch-optimizer's catalogue: every entry runs on a 2-D point or says why not; its badges are true of real runs;
unknown options are refused; the engine and the exported script are the plain torch loop."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from optviz.__main__ import main
from optviz.core import external as ext
from optviz.core.codegen import generate_script
from optviz.core.config import parse_config
from optviz.core.engine import run
from optviz.core.optimizers import get_optimizer
from optviz.core.specs import ConfigError

ROOT = Path(__file__).resolve().parents[1]
ENTRIES = list(ext._classes())


def _cfg(name: str, steps: int = ext.PROBE_STEPS, **options) -> dict:
    return {"optimizer": {"name": ext.PREFIX + name, "options": options}, "steps": steps,
            "problem": {"surface": "rosenbrock", "start": list(ext.PROBE_START)}}


def _lr(name: str) -> dict:
    return {"lr": ext.probe(name).lr} if "lr" in ext.spec_of(name).names else {}


def test_the_catalogue_is_read_from_the_package():
    import pytorch_optimizer

    assert len(ENTRIES) == len(pytorch_optimizer.get_supported_optimizers())
    spec = ext.spec_of("Lion")
    assert spec.name == "pytorch_optimizer.Lion" and spec.source == "pytorch-optimizer"
    assert spec.cls is pytorch_optimizer.Lion
    assert spec.defaults() == {"lr": 1e-4, "betas": (0.9, 0.99), "weight_decay": 0.0, "weight_decouple": True,
                               "fixed_decay": False, "maximize": False}
    # a Literal annotation becomes a choice; a non-number default is listed in the note, not offered
    assert ext.spec_of("AdaHessian").param("hessian_distribution").choices == ("gaussian", "rademacher")
    assert ext.spec_of("Kron").param("memory_save_mode").choices == (None, "one_diag", "smart_one_diag", "all_diag")   # Optional[Literal]
    assert "moment_key='auto'" not in ext.spec_of("Lion").note
    # a tuple of three numbers is one "tuple" option, as a pair is a "pair"
    betas = ext.spec_of("Adan").param("betas")
    assert (betas.kind, betas.default) == ("tuple", (0.98, 0.92, 0.99)) and "betas=" not in ext.spec_of("Adan").note
    assert {n for n in ENTRIES for p in ext.spec_of(n).params if p.kind == "tuple"} >= {"Adan", "AdEMAMix", "AggMo", "AdaPNM", "CAME"}


def test_string_options_become_choices_where_the_class_lists_their_values():
    # pytorch-optimizer's own validate_options(...) lists (ApolloDQN, NorMuon); torch's docstring "either 'strong_wolfe' or None"
    assert ext.spec_of("ApolloDQN").param("rebound").choices == ("constant", "belief")
    assert ext.spec_of("ApolloDQN").param("weight_decay_type").choices == ("l2", "decoupled", "stable")
    assert ext.spec_of("NorMuon").param("update_scale").choices == ("preserve_norm", "match_rms")
    line_search = ext.spec_of("LBFGS").param("line_search_fn")
    assert line_search.kind == "choice" and set(line_search.choices) == {None, "strong_wolfe"} and line_search.default is None
    # a free key (Magma reads any name from its base optimizer's state) or a preset name whose list the class does not
    # give stays at its default, named in the note
    assert "moment_key='auto'" in ext.spec_of("Magma").note and "moment_key" not in ext.spec_of("Magma").names
    assert "ns_coeffs='original'" in ext.spec_of("AdaMuon").note
    # every string default the catalogue offers is one of its listed values, and every listed value is accepted
    for n in ENTRIES:
        for p in ext.spec_of(n).params:
            if p.kind == "choice":
                assert p.default in p.choices, (n, p.name)
    with pytest.raises(ConfigError, match=r"optimizer.options.rebound: expected one of 'constant', 'belief', got 'bogus'"):
        parse_config(_cfg("ApolloDQN", rebound="bogus"))
    # the choice reaches the class: each value is a different run, and the same one the plain loop makes
    for name, option, values in (("ApolloDQN", "rebound", ("constant", "belief")), ("LBFGS", "line_search_fn", (None, "strong_wolfe"))):
        paths = []
        for value in values:
            tr = run(_cfg(name, steps=5, lr=1e-2, **{option: value}))
            plain = ext.plain_path(ext._classes()[name], {"lr": 1e-2, option: value}, steps=5).numpy()
            np.testing.assert_allclose(tr.positions[1:], plain, rtol=0, atol=1e-10, err_msg=f"{name} {value}")
            paths.append(tr.positions)
        assert np.abs(paths[0] - paths[1]).max() > 1e-6, name


def test_probe_file_is_what_measuring_every_entry_gives():
    """The badges are computed by this test, not typed by hand: measure every entry now and compare with the file."""
    assert ext.probe_table() == json.loads(ext.PROBE_FILE.read_text(encoding="utf-8"))
    shipped = ext.read_probe_file()
    assert shipped is not None and list(shipped) == ENTRIES
    for n in ENTRIES:
        assert shipped[n] == ext.measure(n) == ext.facts(n), n
        assert ext.spec_of(n).badges == shipped[n].badges and ext.spec_of(n).point_shape == shipped[n].shape


def test_probe_file_is_used_only_for_the_versions_it_was_measured_with(tmp_path):
    data = json.loads(ext.PROBE_FILE.read_text(encoding="utf-8"))
    path = tmp_path / "probe.json"
    path.write_text(json.dumps(data))
    assert ext.read_probe_file(path) == ext.read_probe_file()
    for key, value in (("pytorch_optimizer", "4.0.0"), ("torch", "2.12.0"), ("probe", {**data["probe"], "steps": 40})):
        path.write_text(json.dumps({**data, key: value}))
        assert ext.read_probe_file(path) is None, key
    path.write_text("{not json")
    assert ext.read_probe_file(path) is None and ext.read_probe_file(tmp_path / "missing.json") is None


# a fresh process: the picker's list (ext.available()) reads the shipped file and measures nothing
AVAILABLE_COLD = """
import json, time
from optviz.core import external as ext
t = time.perf_counter()
n = len(ext.available())
print(json.dumps({"seconds": time.perf_counter() - t, "available": n, "probed": ext.probe.cache_info().currsize}))
"""


def test_the_pickers_list_reads_the_shipped_probe_and_measures_only_for_other_versions(tmp_path, monkeypatch):
    res = subprocess.run([sys.executable, "-c", AVAILABLE_COLD], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout)
    assert out["probed"] == 0 and out["available"] == len(ext.available())
    # a file measured with another pytorch-optimizer is not used: every entry is measured
    stale = tmp_path / "probe.json"
    stale.write_text(json.dumps({**json.loads(ext.PROBE_FILE.read_text(encoding="utf-8")), "pytorch_optimizer": "0.1"}))
    monkeypatch.setattr(ext, "PROBE_FILE", stale)
    ext._shipped.cache_clear()
    measured = []
    monkeypatch.setattr(ext, "measure", lambda n: measured.append(n) or ext.Facts(1.0))
    try:
        assert all(ext.facts(n) == ext.Facts(1.0) for n in ENTRIES) and measured == ENTRIES
    finally:
        ext._shipped.cache_clear()


PAGE_WITHOUT_THE_CATALOGUE = """
import json, sys
from streamlit.testing.v1 import AppTest
import optviz.ui.widgets
seen = {"widgets": "pytorch_optimizer" in sys.modules}
at = AppTest.from_file(sys.argv[1], default_timeout=30)
at.run()
seen["page"] = "pytorch_optimizer" in sys.modules
seen["ok"] = not at.exception and not at.error
at.toggle(key="ex.optimizer.name.external").set_value(True).run()
from optviz.core import external as ext
seen["switch"] = "pytorch_optimizer" in sys.modules
seen["probed"] = ext.probe.cache_info().currsize
print(json.dumps(seen))
"""


def test_the_explorer_loads_pytorch_optimizer_only_when_its_switch_is_on():
    res = subprocess.run([sys.executable, "-c", PAGE_WITHOUT_THE_CATALOGUE, str(ROOT / "pages" / "explorer.py")], capture_output=True,
                         text=True, cwd=ROOT, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    seen = json.loads(res.stdout.strip().splitlines()[-1])
    assert seen == {"widgets": False, "page": False, "ok": True, "switch": True, "probed": 0}


@pytest.mark.parametrize("name", ENTRIES)
def test_every_entry_runs_on_a_2d_point_or_is_unavailable_with_the_reason(name):
    spec = ext.spec_of(name)
    why = [b for b in spec.badges if b.startswith(ext.UNAVAILABLE)]
    if why:
        with pytest.raises(ConfigError, match="unavailable on a 2-D point"):
            get_optimizer(spec.name)
        return
    tr = run(_cfg(name, **_lr(name)))
    assert tr.steps == ext.PROBE_STEPS or tr.diverged_at is not None, tr.message
    pr = ext.probe(name)
    if pr.finite:  # the engine's run is the plain loop's (both on autograd's numbers)
        np.testing.assert_allclose(tr.positions[1:], np.array(pr.path), rtol=0, atol=1e-10, err_msg=name)


def test_most_entries_run_and_each_unavailable_one_really_fails():
    unavailable = [n for n in ENTRIES if ext.probe(n).unavailable]
    assert len(ENTRIES) - len(unavailable) >= 100
    for n in unavailable:
        cls = ext._classes()[n]
        if ext._required(cls):
            with pytest.raises(Exception):  # noqa: B017 - a list of parameters is not the model / optimizer it wants
                ext.plain_path(cls, {"lr": 1e-3}, steps=1)
            continue
        for shape, graph in (("flat", False), ("flat", True), ("matrix", False)):
            with pytest.raises(Exception):  # noqa: B017 - whatever it raises is the reason shown
                ext.plain_path(cls, {"lr": 1e-3}, shape, graph, steps=2)


def test_same_as_adam_badge_is_true_of_engine_runs():
    adam = run({"optimizer": {"name": "Adam", "options": {"lr": 1e-3}}, "steps": 50})
    same = [n for n in ENTRIES if ext.SAME_AS_ADAM in ext.badges(n)]
    assert "Adam" in same and len(same) >= 5
    for n in same:
        np.testing.assert_allclose(run(_cfg(n, lr=1e-3)).positions, adam.positions, rtol=0, atol=ext.ADAM_TOL, err_msg=n)
    for n in ("Lion", "AdamW", "Adan", "RAdam"):   # not badged: their paths differ from Adam's
        assert ext.SAME_AS_ADAM not in ext.badges(n)
        assert np.abs(run(_cfg(n, lr=1e-3)).positions - adam.positions).max() > ext.ADAM_TOL


def test_multiplier_badge():
    marked = [n for n in ENTRIES if ext.MULTIPLIER in ext.badges(n)]
    assert {"Prodigy", "DAdaptAdam", "DAdaptSGD"} <= set(marked)
    assert "ScheduleFreeSGD" not in marked and "AdaDelta" not in marked   # lr 1.0 by default, but a plain lr
    for n in marked:
        assert ext.spec_of(n).param("lr").default == 1.0
        tr = run(_cfg(n, lr=1.0))   # at lr 1.0 the adapted step runs and makes progress
        assert tr.diverged_at is None and tr.losses[-1] < tr.losses[0], (n, tr.message)


def test_needs_closure_badge_and_hessian_runs_through_the_closure():
    marked = [n for n in ENTRIES if ext.NEEDS_CLOSURE in ext.badges(n)]
    assert {"AdaHessian", "SophiaH"} <= set(marked)
    for n in marked:
        cls = ext._classes()[n]
        with pytest.raises(RuntimeError, match="does not require grad"):
            ext.plain_path(cls, {"lr": 1e-3}, steps=2)   # plain backward(): no graph to differentiate again
        plain = ext.plain_path(cls, {"lr": 1e-3}, create_graph=True, steps=20).numpy()
        tr = run(_cfg(n, steps=20, lr=1e-3))
        np.testing.assert_allclose(tr.positions[1:], plain, rtol=0, atol=1e-10, err_msg=n)


def test_train_eval_badge_means_eval_moves_the_parameters():
    marked = [n for n in ENTRIES if ext.TRAIN_EVAL in ext.badges(n)]
    assert "ScheduleFreeAdamW" in marked
    for n in marked:
        p = torch.tensor([-1.5, 2.0], dtype=torch.float64, requires_grad=True)
        opt = ext._classes()[n]([p], lr=1e-2)
        for _ in range(20):   # RAdam's rectification takes no step in the first few
            opt.zero_grad()
            ext._rosenbrock(p).backward()
            opt.step()
        before = p.detach().clone()
        opt.eval()
        assert not torch.equal(before, p.detach()), n


@pytest.mark.parametrize("name", ["Lion", "Adan", "MADGRAD", "Prodigy"])
def test_engine_trajectory_is_the_plain_torch_loop(name):
    import pytorch_optimizer

    cls = getattr(pytorch_optimizer, name)
    lr = ext.probe(name).lr
    plain = ext.plain_path(cls, {"lr": lr}).numpy()
    tr = run(_cfg(name, lr=lr))
    np.testing.assert_allclose(tr.positions[1:], plain, rtol=0, atol=1e-10)
    assert tr.state   # optimizer.state is recorded as for torch's


def test_unknown_and_fixed_options_are_refused_by_name():
    # pytorch_optimizer.Lion(params, betaz=...) would run and ignore it (**kwargs); optviz names it
    with pytest.raises(ConfigError, match="optimizer.options.betaz: pytorch_optimizer.Lion has no hyperparameter 'betaz'"):
        parse_config(_cfg("Lion", betaz=[0.9, 0.9]))
    # Prodigy's growth_rate=inf is not a number optviz can set: it stays at its default and is refused by name
    assert "growth_rate=inf" in ext.spec_of("Prodigy").note
    with pytest.raises(ConfigError, match="optimizer.options.growth_rate: pytorch_optimizer.Prodigy has no hyperparameter 'growth_rate'"):
        parse_config(_cfg("Prodigy", growth_rate=2.0))
    with pytest.raises(ConfigError, match="has no optimizer 'Lino'"):
        get_optimizer("pytorch_optimizer.Lino")
    with pytest.raises(ConfigError, match=r"optimizer.options.foo: pytorch_optimizer.Adan has no hyperparameter 'foo'"):
        parse_config(_cfg("Adan", foo=1))


BETAS3 = [0.9, 0.95, 0.98]


def test_a_triple_of_betas_is_checked_run_and_carried_by_config_cli_and_url(capsys, tmp_path):

    config = parse_config(_cfg("Adan", steps=10, lr=3e-3, betas=BETAS3))
    assert config.optimizer.options["betas"] == tuple(BETAS3)
    # the class gets them: the plain loop's run with these betas, not the default's
    tr = run(config)
    plain = ext.plain_path(ext._classes()["Adan"], {"lr": 3e-3, "betas": tuple(BETAS3)}, steps=10).numpy()
    np.testing.assert_allclose(tr.positions[1:], plain, rtol=0, atol=1e-10)
    assert np.abs(tr.positions - run(_cfg("Adan", steps=10, lr=3e-3)).positions).max() > 1e-6
    for bad, message in (([0.9, 0.9], "expected a list of 3 numbers"), ([0.9] * 4, "expected a list of 3 numbers"),
                         ("0.9", "expected a list of 3 numbers"), ([0.9, "nan", 0.9], r"betas\[1\]: expected a finite number"),
                         ([0.9, 0.9, None], r"betas\[2\]: expected a number"), ([0.9, 1.5, 0.9], r"optimizer: beta2 must be in the range")):
        with pytest.raises(ConfigError, match=message):
            parse_config(_cfg("Adan", betas=bad))
    grouped = parse_config({**_cfg("Adan", steps=10), "optimizer": {"name": "pytorch_optimizer.Adan", "groups": {"y": {"betas": BETAS3}}}})
    assert grouped.optimizer.groups["y"]["betas"] == tuple(BETAS3) and run(grouped).diverged_at is None
    with pytest.raises(ConfigError, match=r"optimizer.groups.y.betas: expected a list of 3 numbers"):
        parse_config({**_cfg("Adan"), "optimizer": {"name": "pytorch_optimizer.Adan", "groups": {"y": {"betas": [0.9, 0.9]}}}})
    # JSON, the URL and `python -m optviz run` carry it
    np.testing.assert_array_equal(_carried(config, tmp_path, capsys), tr.positions)


def _carried(config, tmp_path, capsys) -> list:
    """The config through JSON and the URL (both give it back unchanged), then the positions `python -m optviz run` prints."""
    from optviz.core.config import Config
    from optviz.ui.urlstate import config_from_query, config_to_query

    assert parse_config(json.loads(config.to_json())) == config
    back, err = config_from_query(config_to_query(config, Config()), Config())
    assert err is None and back == config
    path = tmp_path / "c.json"
    path.write_text(config.to_json())
    assert main(["run", str(path)]) == 0
    return json.loads(capsys.readouterr().out)["positions"]


def test_config_cli_and_url_state_carry_an_entry(capsys, tmp_path):

    config = parse_config(_cfg("Lion", steps=10, lr=3e-3, betas=[0.8, 0.95]))
    assert np.allclose(_carried(config, tmp_path, capsys), run(config).positions)
    path = tmp_path / "c.json"
    path.write_text(json.dumps(_cfg("Lion", betaz=[0.9, 0.9])))
    assert main(["run", str(path)]) == 2
    assert "betaz" in capsys.readouterr().err
    assert main(["list"]) == 0
    listed = [o for o in json.loads(capsys.readouterr().out)["optimizers"] if o["source"] == "pytorch-optimizer"]
    assert len(listed) == len(ENTRIES)
    prodigy = next(o for o in listed if o["name"] == "pytorch_optimizer.Prodigy")
    assert ext.MULTIPLIER in prodigy["badges"]


def test_importing_optviz_does_not_import_the_package():
    code = "import sys, optviz.core.optimizers, optviz.core.config; print('pytorch_optimizer' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.stdout.strip() == "False", out.stderr[-500:]


CODEGEN = {
    "lion": _cfg("Lion", steps=40, lr=3e-3),
    "adahessian-noise": {**_cfg("AdaHessian", steps=20, lr=1e-2), "problem": {"surface": "rosenbrock", "noise": 0.3}},
    "prodigy-groups-steplr": {"optimizer": {"name": "pytorch_optimizer.Prodigy", "options": {},
                                            "groups": {"x": {}, "y": {"d_coef": 0.5}}},
                              "scheduler": {"name": "StepLR", "options": {"step_size": 2, "gamma": 0.7}, "steps_per_epoch": 5},
                              "problem": {"surface": "beale"}, "steps": 30},
    "adan-betas3": _cfg("Adan", steps=40, lr=3e-3, betas=BETAS3),
    "ademamix-betas3-groups": {"optimizer": {"name": "pytorch_optimizer.AdEMAMix", "options": {"lr": 1e-2, "betas": [0.8, 0.99, 0.999]},
                                             "groups": {"x": {}, "y": {"betas": [0.5, 0.9, 0.99]}}},
                               "problem": {"surface": "himmelblau"}, "steps": 30},
    "apollo-choices": _cfg("ApolloDQN", steps=30, lr=1e-2, rebound="belief", weight_decay_type="stable", weight_decay=0.1),
}


@pytest.fixture(scope="module")
def script_outputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ext_scripts")
    outs = {}
    for key, data in CODEGEN.items():
        path = folder / f"{key}.py"
        path.write_text(generate_script(parse_config(data)))
        outs[key] = path
    runner = "import runpy, sys\nfor p in sys.argv[1:]:\n    import contextlib, io\n    b = io.StringIO()\n" \
             "    with contextlib.redirect_stdout(b):\n        runpy.run_path(p, run_name='__main__')\n    open(p + '.json', 'w').write(b.getvalue())\n"
    out = subprocess.run([sys.executable, "-c", runner, *map(str, outs.values())], capture_output=True, text=True, timeout=300,
                         env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr[-2000:]
    return {k: json.loads((p.parent / (p.name + ".json")).read_text()) for k, p in outs.items()}


@pytest.mark.parametrize("key", CODEGEN)
def test_exported_script_imports_pytorch_optimizer_and_reproduces_the_run(key, script_outputs):
    config = parse_config(CODEGEN[key])
    text = generate_script(config)
    assert "import pytorch_optimizer" in text and f"optimizer = {config.optimizer.name}(" in text
    for k, v in config.optimizer.options.items():   # every non-default option is written out as the value torch takes
        if v != ext.spec_of(config.optimizer.name[len(ext.PREFIX):]).param(k).default:
            assert f"{k}={v!r}" in text, k
    theirs, ours = script_outputs[key], run(config)
    assert ours.diverged_at is None, ours.message
    np.testing.assert_allclose(np.array(theirs["positions"]), ours.positions, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(np.array(theirs["losses"]), ours.losses, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(np.array(theirs["lrs"]), ours.lrs, rtol=1e-12)
    assert set(theirs["state"]) == set(ours.state)


def test_explorer_picker_offers_the_catalogue_with_badges_and_a_link_loads_an_entry():
    from streamlit.testing.v1 import AppTest

    from optviz.ui.urlstate import config_from_query

    page = str(ROOT / "pages" / "explorer.py")
    default = parse_config({"optimizer": {"name": "SGD", "options": {"lr": 1e-3, "momentum": 0.9}}, "steps": 200})
    at = AppTest.from_file(page, default_timeout=30)
    at.query_params["cfg"] = json.dumps({"optimizer": {"name": "SGD"}, "steps": 6})
    at.run()
    box = at.selectbox(key="ex.optimizer.name")
    assert "pytorch_optimizer.Lion" not in box.options         # off by default: nothing of the package is loaded
    at.toggle(key="ex.optimizer.name.external").set_value(True).run()
    box = at.selectbox(key="ex.optimizer.name")
    shown = {o for o in box.options if o.startswith("pytorch-optimizer · ")}
    assert len(shown) == len(ext.available())
    assert any(o.startswith("pytorch-optimizer · Prodigy — ") and ext.MULTIPLIER in o for o in shown)
    assert not any(o.startswith("pytorch-optimizer · Muon —") for o in shown)   # unavailable on a 2-D point
    box.set_value("pytorch_optimizer.Lion").run()
    assert not at.exception and not at.error
    config, warning = config_from_query(at.query_params.get("cfg"), default)
    assert warning is None and config.optimizer.name == "pytorch_optimizer.Lion"
    assert config.optimizer.options == ext.spec_of("Lion").defaults()
    # a link to an entry opens with the switch on and the entry picked
    at = AppTest.from_file(page, default_timeout=30)
    at.query_params["cfg"] = json.dumps({"optimizer": {"name": "pytorch_optimizer.AdaHessian", "options": {"lr": 0.01}}, "steps": 6})
    at.run()
    assert not at.exception and not at.error
    assert at.selectbox(key="ex.optimizer.name").value == "pytorch_optimizer.AdaHessian"
    assert ext.NEEDS_CLOSURE in " ".join(c.value for c in at.caption)


def test_explorer_draws_one_slider_per_entry_of_a_triple_and_the_link_keeps_the_change():
    from streamlit.testing.v1 import AppTest

    from optviz.ui.urlstate import config_from_query

    at = AppTest.from_file(str(ROOT / "pages" / "explorer.py"), default_timeout=30)
    at.query_params["cfg"] = json.dumps({"optimizer": {"name": "pytorch_optimizer.Adan", "options": {"betas": BETAS3}}, "steps": 6})
    at.run()
    assert not at.exception and not at.error
    key = "ex.optimizer.pytorch_optimizer.Adan.betas"
    assert [at.slider(key=f"{key}.{i}").value for i in range(3)] == BETAS3
    at.slider(key=f"{key}.2").set_value(0.9).run()
    assert not at.exception and not at.error
    config, warning = config_from_query(at.query_params.get("cfg"), parse_config({}))
    assert warning is None and config.optimizer.options["betas"] == (0.9, 0.95, 0.9)


def test_race_runs_catalogue_entries_next_to_torchs():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "pages" / "race.py"), default_timeout=30)
    at.query_params["race"] = json.dumps([{"name": "Adam", "options": {"lr": 0.01}},
                                          {"name": "pytorch_optimizer.Lion", "options": {"lr": 0.01}},
                                          {"name": "pytorch_optimizer.AdaHessian", "options": {"lr": 0.05}}])
    at.run()
    assert not at.exception and not at.error
    rows = at.table[0].value
    assert list(rows["optimizer"]) == ["Adam", "pytorch_optimizer.Lion", "pytorch_optimizer.AdaHessian"]
    assert list(rows["diverged at step"]) == ["—"] * 3
