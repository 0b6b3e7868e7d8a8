"""Imports go one way: problems <- contract <- build, precompute; the CLI on top wires both stages.

Read from the source (every `import` and `from` statement, at any depth), so an import added inside a
function is caught too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "unsmudge"
ROOT = PACKAGE.parent

# what each layer may import from unsmudge (by module name prefix)
BUILD = ("unsmudge.course", "unsmudge.demos", "unsmudge.diagram", "unsmudge.formulas", "unsmudge.machine",
         "unsmudge.markdown", "unsmudge.notebook", "unsmudge.raw_html", "unsmudge.search", "unsmudge.serve",
         "unsmudge.site", "unsmudge.starter", "unsmudge.theme", "unsmudge.importer")
ALLOWED = {
    "problems": (),
    "contract": ("unsmudge.problems",),
    "precompute": ("unsmudge.problems", "unsmudge.contract", "unsmudge.precompute"),
    "build": ("unsmudge.problems", "unsmudge.contract") + BUILD,
}


def layer(module: str) -> str | None:
    if module == "unsmudge.problems":
        return "problems"
    if module == "unsmudge.contract":
        return "contract"
    if module.startswith("unsmudge.precompute"):
        return "precompute"
    if module.startswith(BUILD):
        return "build"
    return None  # unsmudge/__init__.py and the CLI, which sits above both stages


def imports(path: Path, module: str) -> list[tuple[int, str]]:
    found = []
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        yield path, ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def wrong_way(path: Path, module: str) -> list[str]:
    own = layer(module)
    if own is None:
        return []
    bad = []
    for line, name in imports(path, module):
        if name == "unsmudge" or not name.startswith("unsmudge.") or name.startswith("unsmudge._"):
            continue  # the package itself (its __file__, __version__) and third-party modules
        target = name if layer(name) else name.rpartition(".")[0]  # `from unsmudge.x import name`
        if not target.startswith(ALLOWED[own]):
            bad.append(f"{module} line {line} ({own}) imports {name}")
    return bad


def test_every_module_is_in_a_layer_or_the_cli():
    stray = [m for _, m in modules() if layer(m) is None and m not in ("unsmudge", "unsmudge.cli")]
    assert stray == [], "put each new module in a layer of tests/test_layers.py"


def test_imports_go_one_way():
    bad = [line for path, module in modules() for line in wrong_way(path, module)]
    assert bad == []


@pytest.mark.parametrize("source, expected", [
    ("from unsmudge.site import build\n", "imports unsmudge.site"),
    ("def f():\n    from unsmudge.precompute import command\n", "imports unsmudge.precompute"),
    ("from .site import Options\n", "imports unsmudge.site"),
])
def test_the_check_catches_a_wrong_import(tmp_path, source, expected):
    fake = tmp_path / "contract.py"
    fake.write_text(source, encoding="utf-8")
    assert any(expected in line for line in wrong_way(fake, "unsmudge.contract"))


def test_the_contract_and_the_build_stage_load_without_the_diffusion_stack():
    code = ("import sys, unsmudge.contract, unsmudge.site, unsmudge.demos, unsmudge.serve\n"
            "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('torch', 'diffusers', 'transformers', 'accelerate') or m.startswith('unsmudge.precompute'))\n"
            "print(heavy)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == "[]"


def test_the_wheel_has_no_generic_top_level_package():
    import tomllib

    wheel = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["hatch"]["build"]
    assert wheel["targets"]["wheel"]["packages"] == ["unsmudge"]
    assert not (ROOT / "precompute").exists()
