"""`unsmudge new DIR`: copy the starter course (unsmudge/starter/) into a new folder."""

from __future__ import annotations

import shutil
from pathlib import Path

from unsmudge.problems import Problem, ProblemsFound, display_path

STARTER = Path(__file__).parent / "starter"


def write_starter(target: Path) -> None:
    target = Path(target)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ProblemsFound([Problem(display_path(target), "", "the folder exists and is not empty",
                                     "choose a new folder name")])
    shutil.copytree(STARTER, target, dirs_exist_ok=True)
