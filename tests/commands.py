"""The tests' way to run `unsmudge build` as a person does (a separate process) and to read what a command wrote."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def build_in_subprocess(content: Path, frames: Path, out: Path, *extra: str,
                        **env: str) -> subprocess.CompletedProcess:
    """`unsmudge build` in a fresh interpreter, offline, with `env` added to the environment."""
    return subprocess.run(
        [sys.executable, "-m", "unsmudge.cli", "build", "--content", str(content), "--frames", str(frames),
         "--out", str(out), *extra],
        capture_output=True, text=True, env=dict(os.environ, HF_HUB_OFFLINE="1", **env), timeout=300)


def tree(root: Path) -> dict[str, bytes]:
    """Every file under `root`, by relative path, with its bytes."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(Path(root).rglob("*")) if p.is_file()}
