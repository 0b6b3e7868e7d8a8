"""Fixtures for the precompute tests: one tiny pipeline built in code (seeded, safetensors), courses around it.

Everything is offline (HF_HUB_OFFLINE=1) and small: 32 px images, 4 steps.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.commands import tree


os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

ROOT = Path(__file__).resolve().parents[2]
ONE_THREAD = ("--threads", "1")


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


@pytest.fixture(scope="session")
def small_model(tmp_path_factory) -> Path:
    """Smaller still (16 px, 8-16 channels), for the tests that start interpreters: they test processes, not
    pictures, so the model only has to be real."""
    from tests.tiny import build_tiny_pipeline

    return build_tiny_pipeline(tmp_path_factory.mktemp("models") / "small", size=16, seed=0, channels=(8, 16),
                               vae_channels=(8, 16), text_dim=16, head_dim=4)


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


def _clean(root: Path, model: Path, *extra: str, **fields) -> tuple[Path, Path, dict[str, bytes]]:
    content, out = root / "content", root / "build"
    write_demo(content, "tiny", model, **fields)
    assert precompute(content, out, *extra) == 0
    return content, out, tree(out)


@pytest.fixture(scope="session")
def clean_run(tmp_path_factory, tiny_model):
    """The tiny demo computed once, cleanly, in this process: (content, out, {path: bytes})."""
    return _clean(tmp_path_factory.mktemp("clean"), tiny_model)


@pytest.fixture(scope="session")
def small_clean_run(tmp_path_factory, small_model):
    """Three runs on the small model, computed once in this process on one thread (CPU bytes repeat for the
    same thread count; one thread per worker keeps two workers off each other's core): (content, out, files)."""
    return _clean(tmp_path_factory.mktemp("small-clean"), small_model, *ONE_THREAD, size=16,
                  prompts=["a dog", "a cat", "a bird"])


def pytest_configure(config):
    # diffusers' own deprecation notes (numpy 2 __array__, torch_dtype), not ours
    config.addinivalue_line("filterwarnings", r"ignore::DeprecationWarning:diffusers\..*")
    config.addinivalue_line("filterwarnings", r"ignore::FutureWarning:diffusers\..*")
