"""`unsmudge new DIR`: copy the starter project (unsmudge/starter/) into a new folder.

The project is laid out as unsmudge's defaults expect (the course in content/, frames in build/, the site
in site/), so `cd DIR && unsmudge precompute && unsmudge build` needs no option. Its course has a formula,
a demo on the embedded model, a notebook lesson and a page.
"""

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
