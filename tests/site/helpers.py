"""Shared by the site tests: the fixture course, mini-courses written as one text block, the CLI."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.fakeframes import fake_frames
from unsmudge.cli import main

FIXTURE = Path(__file__).parent / "fixtures" / "course"
EXPECTED = Path(__file__).parent / "fixtures" / "expected"


def fixture_course(tmp: Path, frames: bool = True) -> tuple[Path, Path]:
    """A copy of the fixture course in tmp/content, with fake frames in tmp/build."""
    content, build = tmp / "content", tmp / "build"
    shutil.copytree(FIXTURE, content)
    if frames:
        fake_frames(content, build, "tiny")
    return content, build


def write_tree(root: Path, text: str) -> Path:
    """Files from one text block, each introduced by a line `-- path --` (Hugo's txtar style)."""
    path = None
    for line in text.strip("\n").split("\n"):
        if line.startswith("-- ") and line.endswith(" --"):
            path = root / line[3:-3]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("")
        elif path is not None:
            with path.open("a") as out:
                out.write(line + "\n")
    return root


COURSE = """
-- course.toml --
title = "Mini"
lessons = ["one", "two"]
[[tracks]]
id = "t"
title = "T"
-- lessons/one.md --
+++
title = "One"
module = 1
track = "t"
+++
## Start
Hello.
-- lessons/two.md --
+++
title = "Two"
module = 2
track = "t"
prerequisites = ["one"]
+++
See [one](one.md#start).
"""


def mini_course(tmp: Path, **replace: str) -> Path:
    """The two-lesson course above with files replaced: mini_course(tmp, **{"lessons/two.md": text})."""
    content = write_tree(tmp / "content", COURSE)
    for rel, text in replace.items():
        (content / rel).parent.mkdir(parents=True, exist_ok=True)
        (content / rel).write_text(text.lstrip("\n"))
    return content


def build(tmp: Path, content: Path, capsys, *extra: str, frames: Path | None = None) -> tuple[int, str]:
    """Run `unsmudge build` in-process; (exit status, stderr)."""
    code = main(["build", "--content", str(content), "--frames", str(frames or tmp / "build"),
                 "--out", str(tmp / "site"), *extra])
    return code, capsys.readouterr().err
