"""Hostile input: typed formulas, tampered links and extreme hyperparameters are answered with a clear message;
nothing the user sends is executed and nothing breaks.

tests/test_expr.py already rejects a first attack list and fuzzes the formula grammar (2,000 inputs); this file
adds what it does not cover: a runtime audit that no code runs (imports, exec, files, processes) for every
attack and 2,000+ further generated inputs (arbitrary unicode, arbitrary JSON configs), the other two doors a
formula comes in by (a scheduler lambda, a config's expression), tampered links through the pure parsers and
through every page in AppTest, and extreme hyperparameters for every optimizer × surface.
"""
from __future__ import annotations

import json
import math
import os
import random
import re
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optviz import figures
from optviz.core.config import ConfigError, parse_config
from optviz.core.engine import run
from optviz.core.expr import ExpressionError, compile_expression
from optviz.core.numeric import value_and_grad
from optviz.core.optimizers import OPTIMIZERS
from optviz.core.schedulers import SCHEDULERS, compile_lambda
from optviz.core.surfaces import SURFACES
from optviz.lessons.presets import PRESETS
from optviz.ui.urlstate import config_from_query, config_to_query

ROOT = Path(__file__).resolve().parents[1]

# ---------------------------------------------------------------- a runtime audit: no code of the user's runs
# Python raises these audit events for anything an injected payload would need to do harm. Introspection events
# (object.__getattr__ on __code__/__globals__, sys._getframe) are forbidden only while a formula is compiled or
# evaluated: torch's own constructors use them legitimately when a config builds an optimizer.
INTROSPECTION = {"object.__getattr__", "object.__setattr__", "object.__delattr__", "sys._getframe"}
FORBIDDEN_EVENTS = {
    "exec", "import", "open", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty", "os.kill",
    "os.remove", "os.rename", "os.mkdir", "os.rmdir", "os.chdir", "os.putenv", "os.unsetenv", "subprocess.Popen",
    "socket.connect", "socket.bind", "socket.getaddrinfo", "ctypes.dlopen", "ctypes.dlsym", "ctypes.cdata",
    "builtins.input", "builtins.breakpoint", "code.__new__", "function.__new__", "sys.settrace", "sys.setprofile",
    "marshal.loads", "pickle.find_class", "shutil.rmtree", "urllib.Request", "webbrowser.open",
}
_seen: list[str] = []
_audit_on = [False, False]   # (watching, strict: introspection too)


def _hook(event: str, args) -> None:
    if _audit_on[0] and (event in FORBIDDEN_EVENTS or event.startswith(("os.", "subprocess.", "socket.", "ctypes."))
                         or _audit_on[1] and event in INTROSPECTION):
        _seen.append(event)


sys.addaudithook(_hook)  # hooks cannot be removed; it is a no-op while _audit_on is False


class audited:
    """Fails if the block raised a forbidden audit event (e.g. an import or an open() reached from user text)."""

    def __init__(self, strict: bool = True):
        self.strict = strict

    def __enter__(self):
        _seen.clear()
        _audit_on[:] = [True, self.strict]

    def __exit__(self, *exc):
        _audit_on[:] = [False, False]
        assert not _seen, f"user text reached {sorted(set(_seen))}"
        return False


def clear_message(msg: str) -> None:
    """One plain line meant for a person: no traceback, no Python internals."""
    assert msg.strip(), repr(msg)
    assert "\n" not in msg and len(msg) <= 500, repr(msg[:600])
    for leak in ("Traceback", 'File "', "<module>", "object at 0x", "<ast.", "site-packages"):
        assert leak not in msg, f"{leak!r} in {msg!r}"


# ---------------------------------------------------------------- typed formulas: three doors, one whitelist
SENTINEL = ROOT / ".pytest_cache" / "optviz-hostile-sentinel"
MUST_REJECT = [
    # attributes and introspection not in test_expr's list
    "(1).__class__", "pi.__class__.__mro__", "sin.__globals__", "x.real", "e.hex()", "x.__add__(y)", "x.conjugate()",
    # builtins and dunders by name
    "print(x)", "breakpoint()", "input()", "help()", "vars()", "dir()", "type(x)", "id(x)", "hash(x)", "super()",
    "locals()", "memoryview(x)", "bytearray(9)", "range(10**9)", "sum(range(10**12))", "pow(9, 9, 9)", "round(x)",
    "int(x)", "float(x)", "__debug__", "__loader__", "__spec__", "__name__", "__file__", "NotImplemented", "Ellipsis",
    "object", "classmethod(x)", "_", "__", "_x", "Sin(x)", "SIN(x)", "pi()", "e(x)", "exp(x)(y)", "sin(x)[0]", "x.y",
    # statements
    "import os", "from os import system", "x = 1", "x += 1", "del x", "global x", "assert x", "raise x", "pass",
    "with x: y", "if x: y", "for i in x: y", "while 1: pass", "def f(): 1", "class A: 1", "async def f(): 1",
    "return x", "try: x\nexcept: y",
    # payloads that would leave a trace if they ran
    f"open('{SENTINEL}', 'w').write('x')", f"__import__('os').system('touch {SENTINEL}')",
    f"__import__('pathlib').Path('{SENTINEL}').touch()", "__import__('subprocess').run(['true'])",
    "__import__('socket').create_connection(('127.0.0.1', 9))", "getattr(__import__('os'), 'system')('true')",
    "[c for c in ().__class__.__base__.__subclasses__() if c.__name__ == 'Popen'][0]('true')",
    # strings and formatting
    "'%s' % x", "'{}'.format(x)", "r'x'", "u'x'", "b'\\x00'", "f'{__import__(\"os\")}'",
    # nesting and size past the caps
    "+" * 499 + "x", "~" * 400 + "x", "not " * 120 + "x", "x**" * 160 + "x", "sin(" * 99 + "x" + ")" * 99,
    "x" + "*x" * 249, "(" * 240 + "x" + ")" * 240, "[" * 200 + "]" * 200, "x" * 10_000_000, "(" * 200_000,
    "x+" * 30_000 + "x",
    # unicode look-alikes, invisible and control characters
    "𝐱 + 𝐲", "ｓｉｎ(x)", "x + １", "ℯ**x", "x\u202e+1", "x\u200d", "\ufeffx", "x\u00a0+ 1", "x\u3000+1", "x\x0c",
    "x\t+1", "x\x0b", "\x1b[31mx", "x\ud800", "e\u0301", "𝚎𝚟𝚊𝚕('1')", "x\u2028+1", "x\x85",
]
# accepted, but harmless: IEEE floats fold to inf/nan at once and evaluating never raises
HARMLESS = ["10**10**10", "1e999999", "(10**308)*10", "2**-1074", "0**-1", "9**9**9**9**9", "x**x**x**x**x**x",
            "exp(exp(exp(exp(x))))", "1" + "0" * 499, "10**" + "9" * 496, "-" * 49 + "x", "sqrt(-1) + log(0)",
            "max(1e308*10, -1e308*10)", "x/0 + y/0", "(x - x)/(y - y)", "(" * 150 + "x" + ")" * 150]


def _doors(text):
    """The three ways a formula enters: a surface, a scheduler lambda, a run config's expression."""
    yield "surface", lambda: compile_expression(text)
    yield "lambda", lambda: compile_lambda(re.sub(r"\b[xy]\b", "epoch", text), "scheduler.options.lr_lambda")
    yield "config", lambda: parse_config({"problem": {"expression": text}, "optimizer": {"name": "SGD"}, "steps": 5})


def _reject_quickly(door: str, make) -> str:
    t0 = time.perf_counter()
    with audited(strict=door != "config"):
        try:
            make()
        except (ExpressionError, ConfigError) as e:
            msg = str(e)
        else:
            msg = ""
    assert time.perf_counter() - t0 < 1.0, f"{door}: answered in {time.perf_counter() - t0:.2f} s"
    return msg


@pytest.mark.parametrize("text", MUST_REJECT, ids=range(len(MUST_REJECT)))
def test_attack_is_rejected_at_every_door_without_running(text):
    SENTINEL.unlink(missing_ok=True)
    for door, make in _doors(text):
        msg = _reject_quickly(door, make)
        assert msg, f"{door} accepted {text[:80]!r}"
        clear_message(msg)
        if door == "config":
            assert msg.startswith("problem.expression: "), msg
        if door == "lambda":
            assert msg.startswith("scheduler.options.lr_lambda: "), msg
    assert not SENTINEL.exists(), "an attack wrote a file"


@pytest.mark.parametrize("text", HARMLESS)
def test_numeric_bombs_compile_to_plain_floats_quickly(text):
    t0 = time.perf_counter()
    with audited():
        e = compile_expression(text)
        for x, y in ((0.0, 0.0), (1.5, -2.0), (1e308, -1e308), (math.nan, math.inf)):
            assert isinstance(e.scalar(x=x, y=y), float)
            assert all(isinstance(v, float) for v in value_and_grad(e.surface_fn(), x, y))
    assert time.perf_counter() - t0 < 1.0


def test_a_config_with_a_bomb_formula_runs_and_reports_divergence():
    trace = run({"problem": {"expression": "exp(exp(exp(x))) + 10**10**10*y"}, "optimizer": {"name": "Adam"}, "steps": 20})
    assert trace.diverged_at == 1 and re.search(r"diverged at step 1\b", trace.message)
    assert np.isfinite(trace.positions).all()


def test_non_text_formulas_are_refused():
    for value in (None, 123, 1.5, b"x", ["x"], {"x": 1}, True):
        with pytest.raises(ExpressionError, match="must be text"):
            compile_expression(value)
        if value is not None:
            with pytest.raises(ConfigError) as info:
                parse_config({"problem": {"expression": value}})
            assert info.value.field == "problem.expression"


def _harmless_or_rejected(text: str) -> None:
    t0 = time.perf_counter()
    with audited():
        try:
            e = compile_expression(text)
        except ExpressionError as err:
            clear_message(str(err))
            if err.col is not None:
                assert 1 <= err.col <= len(text) + 1
        else:
            assert isinstance(e.scalar(x=0.5, y=-1.5), float)
            assert all(isinstance(v, float) for v in value_and_grad(e.surface_fn(), 0.5, -1.5))
    assert time.perf_counter() - t0 < 1.0


@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(st.text(max_size=700))
def test_fuzz_arbitrary_unicode_never_runs_code(text):
    _harmless_or_rejected(text)


PY_BITS = ["x", "y", "(", ")", "**", "*", "+", "-", "/", ".", ",", " ", "'", '"', "_", "__", "import", "os", "lambda",
           ":", "[", "]", "{", "}", "=", "sin", "exp", "e", "pi", "1", "9", "0.5", "1e", "j", "@", "!", "%", "`", "$",
           "__class__", "__globals__", "getattr", "eval", "exec", "open", "\\", ";", "#", "\n", "\t", "if", "for", "in"]


@settings(max_examples=700, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(st.lists(st.sampled_from(PY_BITS), max_size=30).map("".join), st.integers(0, 3))
def test_fuzz_python_shaped_text_never_runs_code(text, wraps):
    _harmless_or_rejected("sin(" * wraps + text + ")" * wraps)


# ---------------------------------------------------------------- arbitrary JSON where a config is expected
BASE = {"problem": {"surface": "rosenbrock", "start": [-1.5, 2.0], "noise": 0.0},
        "optimizer": {"name": "SGD", "options": {"lr": 0.001, "momentum": 0.9}, "groups": {"x": {"lr": 0.002}, "y": {}}},
        "scheduler": {"name": "StepLR", "options": {"step_size": 10, "gamma": 0.5}, "interval": "epoch",
                      "steps_per_epoch": 10},
        "steps": 30, "seed": 0}
HOSTILE = [None, True, False, 0, -1, 1e308, -1e308, 10**400, "nan", "inf", "-inf", "1e999", "", "x" * 5000,
           "__import__('os')", [], {}, [[]], [1, 2, 3], {"__class__": 1}, [[0, 0]] * 3, 2**63, -2**63, 0.5, "0.5",
           "Adam", "quadratic", [float("nan"), 1.0], {"name": "LambdaLR", "options": {"lr_lambda": "open('f')"}}]
JSON = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20),
                              st.sampled_from(HOSTILE)),
                    lambda inner: st.one_of(st.lists(inner, max_size=4),
                                            st.dictionaries(st.text(max_size=10), inner, max_size=4)),
                    max_leaves=12)


def _paths(d, prefix=()):
    yield prefix
    if isinstance(d, dict):
        for k, v in d.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(d, list):
        for i, v in enumerate(d):
            yield from _paths(v, prefix + (i,))


def _put(d, path, value):
    if not path:
        return value
    out = json.loads(json.dumps(d))
    node = out
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    return out


PATHS = list(_paths(BASE))


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(st.sampled_from(PATHS), JSON, st.sampled_from(["", "problem", "optimizer", "optimizer.options", "scheduler"]))
def test_fuzz_configs_are_valid_or_name_the_field(path, value, extra_at):
    data = _put(BASE, path, value)
    if extra_at and isinstance(data, dict):  # an unknown key somewhere
        node = data
        for k in extra_at.split("."):
            node = node.get(k) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node["__proto__"] = 1
    t0 = time.perf_counter()
    with audited(strict=False):
        try:
            config = parse_config(data)
        except ConfigError as e:
            clear_message(str(e))
            config = None
    assert time.perf_counter() - t0 < 1.0
    if config is not None:
        trace = run(config.replace(steps=min(config.steps, 30)))
        assert np.isfinite(trace.positions).all() and np.isfinite(trace.losses).all()


# ---------------------------------------------------------------- tampered links: the pure parsers
def _mutations(valid: dict, rng: random.Random, n: int) -> list[str]:
    """n tampered query texts made from a valid one: hostile values at random places, unknown keys, broken text."""
    text = json.dumps(valid, separators=(",", ":"))
    paths = list(_paths(valid)) or [()]
    out = []
    for i in range(n):
        kind = i % 6
        if kind == 0:
            out.append(json.dumps(_put(valid, rng.choice(paths), rng.choice(HOSTILE)), separators=(",", ":")))
        elif kind == 1:
            cut = rng.randrange(len(text) + 1)
            out.append(text[:cut] + rng.choice(["", "}", "]", '"', ",", "\\", "\x00", "ｅ", "%", "NaN", "\u202e"]))
        elif kind == 2:
            chars = list(text)
            for _ in range(rng.randint(1, 4)):
                chars[rng.randrange(len(chars))] = rng.choice("{}[]\":,0-9eE.+-xnull ")
            out.append("".join(chars))
        elif kind == 3:
            key = rng.choice(["version", "problem", "optimizer", "scheduler", "steps", "seed", "evil", "__class__"])
            out.append(json.dumps({**valid, key: rng.choice(HOSTILE)}, separators=(",", ":")))
        elif kind == 4:
            depth = rng.choice([10, 500, 3000])
            out.append(rng.choice(["[", '{"a":']) * depth)
        else:
            out.append(rng.choice(['{"steps": 1e999}', "null", "[]", "1", '"text"', "x" * 9000, '{"version": 2}',
                                   '{"problem": {"starts": ' + json.dumps([[0, 0]] * 2000) + "}}", "{" * 9001, "",
                                   '{"optimizer": {"name": "LBFGS", "options": {"max_iter": 1e9}}}']))
    return out


URL_DEFAULTS = {"plain": parse_config({})} | {
    k: p.load() if p.page != "race" else p.load().base for k, p in list(PRESETS.items())[:3]}


@pytest.mark.parametrize("name", URL_DEFAULTS)
def test_500_tampered_config_links_give_the_default_and_a_warning_or_a_valid_config(name):
    default = URL_DEFAULTS[name]
    valid = json.loads(config_to_query(parse_config({"optimizer": {"name": "Adam", "options": {"lr": 0.05}},
                                                     "steps": 50}), default))
    rng = random.Random(f"links-{name}")
    for text in _mutations(valid, rng, 520):
        t0 = time.perf_counter()
        with audited(strict=False):
            config, warning = config_from_query(text, default)
        assert time.perf_counter() - t0 < 1.0
        if warning is not None:
            clear_message(warning)
            assert config.key() == default.key(), "a rejected link must show the defaults"
        else:
            assert parse_config(config.to_dict()).key() == config.key()


def test_500_tampered_scheduler_lab_links():
    from optviz.lessons.schedlab import parse_setup, setup_from_query, setup_to_query

    default = parse_setup({"scheduler": "StepLR", "options": {"step_size": 10, "gamma": 0.5}, "base_lrs": [0.1, 0.01],
                           "epochs": 30, "steps_per_epoch": 10})
    other = parse_setup({"scheduler": "OneCycleLR", "options": {"max_lr": 0.5}, "base_lrs": [0.1], "epochs": 20,
                         "steps_per_epoch": 5})
    valid = json.loads(setup_to_query(other, default))
    rng = random.Random("links-schedlab")
    for text in _mutations(valid, rng, 520):
        t0 = time.perf_counter()
        setup, warning = setup_from_query(text, default)
        assert time.perf_counter() - t0 < 1.0
        if warning is not None:
            clear_message(warning)
            assert setup == default


# ---------------------------------------------------------------- tampered links through every page (AppTest)
def _pages() -> list[str]:
    import ast

    tree = ast.parse((ROOT / "app.py").read_text(encoding="utf-8"))
    rows = next(ast.literal_eval(n.value) for n in tree.body
                if isinstance(n, ast.Assign) and any(getattr(t, "id", None) == "PAGES" for t in n.targets))
    return [f for f, *_ in rows if (ROOT / "pages" / f).exists()]


def _query_keys() -> list[str]:
    """Every query parameter the pages read, found in their source (so a new one is tampered with too)."""
    found = {"v", "cfg", "hide", "lesson", "tab", "preset"}
    pattern = re.compile(r"""(?:query_params|qp)(?:\.get\(|\[)\s*["'](\w+)["']""")
    for path in [*(ROOT / "pages").glob("*.py"), *(ROOT / "optviz" / "ui").glob("*.py")]:
        found.update(pattern.findall(path.read_text(encoding="utf-8")))
    return sorted(found)


def _must_warn(source: str) -> set[str]:
    """Keys whose broken value must give a visible warning on a page with this source."""
    keys = set()
    if "read_config(" in source:
        keys |= {"cfg", "v"}
    if "read_state(" in source:
        keys |= {"net", "v"}
    if 'query_params.get("cfg")' in source:
        keys.add("cfg")
    if "setup_from_query(" in source:
        keys.add("lab")
    if 'query_params.get("view")' in source:
        keys.add("view")
    return keys


BROKEN = ["{", "}", "[[[", "not json", "{\"a\": }", "%7B", "\x00", "{" * 9001, "ｅ"]
# per page through AppTest: 60 in the everyday suite (a page run costs 30-500 ms); OPTVIZ_HOSTILE_LINKS=250 (CI) or more for the
# full campaign. 500+ per page always go through the pure parsers above.
N_PAGE_LINKS = int(os.environ.get("OPTVIZ_HOSTILE_LINKS", "60"))
N_STATIC_LINKS = 8  # a page that reads nothing from the link only has to ignore it


@pytest.mark.parametrize("file", _pages())
def test_tampered_links_on_a_page_warn_and_never_raise(file):
    from streamlit.testing.v1 import AppTest

    source = (ROOT / "pages" / file).read_text(encoding="utf-8")
    must_warn = _must_warn(source)
    keys = _query_keys()
    at = AppTest.from_file(str(ROOT / "pages" / file), default_timeout=60)
    at.run()
    assert not at.exception, f"{file} fails with no link settings: {at.exception}"
    written = {k: at.query_params[k] for k in at.query_params}
    rng = random.Random(f"page-{file}")
    reads_link = "query_params" in source or must_warn or "explorer_view" in source
    for i in range(N_PAGE_LINKS if reads_link else N_STATIC_LINKS):
        query, broken = {}, set()
        if i < len(must_warn) * 2:   # first, each key the page must warn about, broken on its own
            key = sorted(must_warn)[i // 2]
            query[key] = "999" if key == "v" else rng.choice(BROKEN)
            broken.add(key)
        else:
            for key in rng.sample(keys, rng.randint(1, 3)):
                base = written.get(key)
                if base and base[:1] in "[{":
                    try:
                        value = rng.choice(_mutations(json.loads(base), rng, 6))
                    except ValueError:
                        value = rng.choice(BROKEN)
                else:
                    value = rng.choice(BROKEN + [str(v) for v in HOSTILE[:20]] + ["-1", "1e309", "999", "../../etc/passwd"])
                query[key] = value
                if value in BROKEN or (key == "v" and value != "1"):
                    broken.add(key)
        at.query_params.clear()
        at.query_params.update(query)
        at.run()
        shown = [a.value for a in (*at.warning, *at.error)]
        assert not at.exception, f"{file} with {query!r}: {at.exception[0].message[:300]}"
        assert at.title, f"{file} with {query!r} shows no page"
        if broken & must_warn:
            assert shown, f"{file} with a broken {sorted(broken & must_warn)} link shows no warning: {query!r}"


# ---------------------------------------------------------------- extreme hyperparameters: every optimizer × surface
def _check_trace(trace, what: str) -> None:
    for name in ("positions", "losses", "grads", "lrs"):
        a = getattr(trace, name)
        assert np.isfinite(a).all(), f"{what}: non-finite {name}"
    assert len(trace.positions) == trace.steps + 1
    if trace.diverged_at is not None:
        assert re.match(r"(diverged|stopped) at step \d+|torch('s lr scheduler)? stopped (at|after) step \d+", trace.message), \
            f"{what}: {trace.message}"
        assert str(trace.diverged_at) in trace.message or str(trace.diverged_at - 1) in trace.message
        assert trace.steps == trace.diverged_at - 1
    clear_message(trace.message)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_lr_extremes_on_every_surface_give_a_notice_and_finite_paths(name):
    for surface in SURFACES:
        for lr in (0, 1e-12, 1e6):
            what = f"{name} lr={lr} on {surface}"
            try:
                config = parse_config({"problem": {"surface": surface}, "optimizer": {"name": name, "options": {"lr": lr}},
                                       "steps": 15})
            except ConfigError as e:
                assert e.field == "optimizer.options.lr", what
                clear_message(str(e))
                continue
            _check_trace(run(config), what)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_huge_lr_path_draws_finite_figures(name):
    config = parse_config({"problem": {"surface": "rosenbrock"}, "optimizer": {"name": name, "options": {"lr": 1e6}},
                           "steps": 15})
    trace = run(config)
    surf = SURFACES["rosenbrock"]
    fig = figures.contour_figure(surf, [figures.path_of(trace)], n_grid=40, animate=False)
    for tr in fig.data:
        if tr.type == "scatter" and tr.x is not None:
            assert np.isfinite(np.asarray(tr.x, dtype=float)).all() and np.isfinite(np.asarray(tr.y, dtype=float)).all()


NUMBERS = [-1, -1e6, 1e6, 1e300, "nan", "NaN", "inf", "-inf", "Infinity", "1e999", float("nan"), float("inf"), "abc",
           None, True, [], {}]


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_hyperparameter_rejects_or_survives_hostile_values(name):
    spec = OPTIMIZERS[name]
    for p in spec.params:
        values = NUMBERS if p.kind != "pair" else [[a, b] for a in (-1, 1e6, "nan") for b in (-1, 1e6, "inf")] + NUMBERS[:4]
        for v in values:
            what = f"{name}.{p.name}={v!r}"
            try:
                config = parse_config({"problem": {"surface": "rosenbrock"}, "optimizer": {"name": name, "options": {p.name: v}},
                                       "steps": 12})
            except ConfigError as e:
                assert e.field.startswith((f"optimizer.options.{p.name}", "optimizer")), f"{what}: field {e.field}"
                clear_message(str(e))
                if p.kind in ("float", "int", "pair") and isinstance(v, str) and v.lower().lstrip("-") in ("nan", "inf", "1e999"):
                    assert "finite" in str(e) or "number" in str(e), what
                continue
            assert not (isinstance(v, float) and not math.isfinite(v)), f"{what} was accepted"
            _check_trace(run(config), what)


@pytest.mark.parametrize("name", SCHEDULERS)
def test_every_scheduler_option_rejects_or_survives_hostile_values(name):
    spec = SCHEDULERS[name]
    for p in spec.params:
        for v in (-1, 0, 1e6, -1e6, "nan", "1e999", [], [0, -1, 10**9], "__import__('os')", "1/epoch", "epoch**epoch"):
            what = f"{name}.{p.name}={v!r}"
            try:
                config = parse_config({"optimizer": {"name": "SGD", "options": {"lr": 0.001}},
                                       "scheduler": {"name": name, "options": {p.name: v}, "steps_per_epoch": 2}, "steps": 40})
            except ConfigError as e:
                clear_message(str(e))
                continue
            _check_trace(run(config), what)


@pytest.mark.parametrize("steps", [0, -5, 10**9, 10**100, "1e999", 12.5, True, "many", None, [], 10_001])
def test_step_counts_out_of_range_are_refused(steps):
    with pytest.raises(ConfigError) as info:
        parse_config({"steps": steps})
    assert info.value.field == "steps"
    clear_message(str(info.value))


def test_the_largest_step_count_runs_in_time():
    t0 = time.perf_counter()
    trace = run({"problem": {"surface": "rosenbrock"}, "optimizer": {"name": "Adam", "options": {"lr": 0.01}}, "steps": 10_000})
    assert trace.steps == 10_000 and np.isfinite(trace.positions).all()
    assert time.perf_counter() - t0 < 30
