"""Fixtures for the precompute tests: one tiny pipeline built in code (seeded, safetensors), courses around it.

Everything is offline (HF_HUB_OFFLINE=1) and small: 32 px images, 4 steps.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

ROOT = Path(__file__).resolve().parents[2]


def write_demo(content: Path, demo_id: str, model: Path | str, **fields) -> Path:
    """A demo spec with the given fields (strings quoted, lists and numbers as TOML)."""
    values = {"title": "Tiny demo", "model": str(model), "steps": 4, "size": 32, "seeds": [0],
              "guidance": [7.5], "prompts": ["a dog", "a cat"]}
    values.update(fields)
    frames = values.pop("frames", None)
    lines = []
    for key, value in values.items():
        lines.append(f"{key} = {toml_value(value)}")
    if frames:
        lines.append("[frames]")
        lines += [f"{k} = {toml_value(v)}" for k, v in frames.items()]
    path = content / "demos" / f"{demo_id}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def toml_value(value) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return str(value)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    from tests.tiny import build_tiny_pipeline

    return build_tiny_pipeline(tmp_path_factory.mktemp("models") / "tiny", size=32, seed=0)


@pytest.fixture
def course(tmp_path, tiny_model) -> Path:
    """A content folder with one demo 'tiny' (2 prompts, 4 steps, 32 px) on the tiny model."""
    content = tmp_path / "content"
    write_demo(content, "tiny", tiny_model)
    (content / "lessons").mkdir()
    (content / "lessons" / "intro.md").write_text("# Intro\n\n::: demo tiny\n", encoding="utf-8")
    return content


def precompute(content: Path, out: Path, *extra: str) -> int:
    """`python -m unsmudge.precompute` in this process (torch stays imported between tests)."""
    from unsmudge.precompute.command import main

    return main(["--content", str(content), "--out", str(out), "--device", "cpu", *extra])


def precompute_subprocess(content: Path, out: Path, *extra: str, **kwargs):
    import subprocess

    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "unsmudge.precompute", "--content", str(content), "--out", str(out),
                             "--device", "cpu", *extra], env=env, cwd=ROOT, **kwargs)


def tree_bytes(out: Path) -> dict[str, bytes]:
    """Every file under `out`, by relative path, with its bytes."""
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(Path(out).rglob("*")) if p.is_file()}


@pytest.fixture(scope="session")
def clean_run(tmp_path_factory, tiny_model):
    """The tiny demo computed once, cleanly, in this process: (content, out, {path: bytes})."""
    root = tmp_path_factory.mktemp("clean")
    content = root / "content"
    write_demo(content, "tiny", tiny_model)
    out = root / "build"
    assert precompute(content, out) == 0
    return content, out, tree_bytes(out)


def pytest_configure(config):
    # diffusers' own deprecation notes (numpy 2 __array__, torch_dtype), not ours
    config.addinivalue_line("filterwarnings", r"ignore::DeprecationWarning:diffusers\..*")
    config.addinivalue_line("filterwarnings", r"ignore::FutureWarning:diffusers\..*")
