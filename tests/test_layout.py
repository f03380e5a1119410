"""The house rules, enforced: the parts' import layering (import-linter contracts in pyproject.toml) and shared helpers
being public (no module imports another module's underscored names)."""
import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PARTS = ("core", "lessons", "nets", "figures", "ui")
LINT = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True, no_logo=True))"


def lint(cwd: Path) -> subprocess.CompletedProcess:
    """import-linter over the `optviz` package found in cwd, with cwd's pyproject.toml contracts."""
    env = {**os.environ, "COLUMNS": "200"}  # one contract per line in the report
    return subprocess.run([sys.executable, "-c", LINT], cwd=cwd, capture_output=True, text=True, timeout=300, env=env)


def test_the_import_contracts_hold():
    out = lint(ROOT)
    assert out.returncode == 0 and "BROKEN" not in out.stdout, out.stdout[-3000:] + out.stderr[-1000:]
    assert "KEPT" in out.stdout


# one violation of each contract, planted in a copy of the package: the linter must name that contract
VIOLATIONS = [
    ("core/trace.py", "import streamlit", "nothing outside optviz.ui imports streamlit"),
    ("lessons/race.py", "import plotly.graph_objects", "only optviz.figures and optviz.ui import plotly"),
    ("core/engine.py", "from optviz.figures import base", "the parts are layered"),
    ("nets/model.py", "from optviz.lessons import race", "the parts are layered"),
    ("figures/base.py", "from optviz.ui import urlstate", "the parts are layered"),
    ("core/specs.py", "from . import optimizers", "no import cycles between the modules of a package"),
    ("core/build.py", "from .config import Config", "no import cycles between the modules of a package"),  # the old circle
]


@pytest.fixture(scope="module")
def package_copy(tmp_path_factory):
    """A copy of optviz and pyproject.toml, so a planted import never touches the working tree."""
    root = tmp_path_factory.mktemp("layout")
    shutil.copytree(ROOT / "optviz", root / "optviz", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


@pytest.mark.parametrize("module, line, contract", VIOLATIONS, ids=[f"{m}:{c.split(':')[0]}" for m, _, c in VIOLATIONS])
def test_a_planted_violation_breaks_its_contract(package_copy, module, line, contract):
    path = package_copy / "optviz" / module
    original = path.read_text()
    try:
        path.write_text(original + f"\n{line}  # planted by the test\n")
        out = lint(package_copy)
    finally:
        path.write_text(original)
    assert out.returncode != 0, out.stdout[-3000:]
    broken = [ln for ln in out.stdout.splitlines() if " BROKEN" in ln]
    assert any(ln.startswith(contract) for ln in broken), out.stdout[-3000:]


# -- shared helpers are public -----------------------------------------------------------------------

def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def private_uses(source: str, module: str, is_package: bool = False) -> list[tuple[str, int, str]]:
    """(module, line, use) for each underscored name this module takes from another optviz module: `from optviz.x
    import _y`, or `x._y` where x was imported from optviz (dunder names excepted)."""
    tree = ast.parse(source)
    found, modules = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            origin = _resolve(node, module, is_package)
            if origin != "optviz" and not origin.startswith("optviz."):
                continue
            for a in node.names:
                if a.name.startswith("_") and not a.name.startswith("__"):
                    found.append((module, node.lineno, f"from {origin} import {a.name}"))
                modules.add(a.asname or a.name)
        elif isinstance(node, ast.Import):
            modules.update((a.asname or a.name).split(".")[0] for a in node.names if a.name.startswith("optviz"))
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules
                and node.attr.startswith("_") and not node.attr.startswith("__")):
            found.append((module, node.lineno, f"{node.value.id}.{node.attr}"))
    return found


def test_the_scan_finds_private_imports():
    assert private_uses("from optviz.core.config import _int, parse_config\n", "optviz.nets.model")
    assert private_uses("from ..core.codegen import _PRELUDE\n", "optviz.nets.netcode")
    assert private_uses("from .urlstate import _diff\n", "optviz.ui.net_state")
    assert private_uses("from optviz.core import engine\nengine._run_single(None, None)\n", "pages.x")
    assert private_uses("import optviz.core.engine\noptviz._x\n", "app")
    assert not private_uses("from optviz.core.config import parse_config\nfrom typing import _T\nx._y\n", "optviz.lessons.race")
    assert not private_uses("from optviz import __version__\n", "app")


def test_no_module_imports_another_modules_underscored_names():
    """The app's modules (tests may look inside what they test)."""
    files = [ROOT / "app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "optviz").rglob("*.py")]
    found = [u for f in files for u in private_uses(f.read_text(), _module_name(f), f.name == "__init__.py")]
    assert not found, "\n".join(f"{m}:{line}: {use}" for m, line, use in found)


@pytest.mark.parametrize("part", PARTS)
def test_every_part_says_what_lives_there_and_what_it_may_import(part):
    doc = ast.get_docstring(ast.parse((ROOT / "optviz" / part / "__init__.py").read_text())) or ""
    assert len(doc.split()) >= 30 and "import" in doc, doc
