"""Shared by the import tests: the fixture projects, the import and build commands run in-process."""

from __future__ import annotations

import re
import shutil
import tomllib
from pathlib import Path

from unsmudge.cli import main

PROJECTS = Path(__file__).resolve().parents[1] / "fixtures" / "import"


def project(tmp: Path, name: str) -> Path:
    """A copy of a fixture project, so a test can change it."""
    return Path(shutil.copytree(PROJECTS / name, tmp / name))


def run_import(capsys, kind: str, path: Path, out: Path, *extra: str) -> tuple[int, str, str]:
    """`unsmudge import KIND PATH --out OUT ...` through the CLI; (status, stdout, stderr)."""
    code = main(["import", kind, str(path), "--out", str(out), *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def build(capsys, content: Path, out: Path) -> tuple[int, str]:
    """`unsmudge build` of an imported course (no demos, so no frames); (status, stderr)."""
    code = main(["build", "--content", str(content), "--frames", str(out.parent / "no-frames"),
                 "--out", str(out)])
    return code, capsys.readouterr().err


def course(content: Path) -> dict:
    return tomllib.loads((content / "course.toml").read_text(encoding="utf-8"))


def front_matter(content: Path, lesson: str) -> dict:
    text = (content / "lessons" / f"{lesson}.md").read_text(encoding="utf-8")
    return tomllib.loads(text.split("+++")[1])


def body(content: Path, lesson: str) -> str:
    return (content / "lessons" / f"{lesson}.md").read_text(encoding="utf-8").split("+++", 2)[2]


def local_references(page: str) -> list[str]:
    """Every href and src of a built page that is not external, a fragment or a data URL (nor the 404 page's
    <base>, the site's own path)."""
    found = re.findall(r'<(?!base )[^>]*\b(?:href|src)="([^"]*)"', page)
    return [ref for ref in found if not re.match(r"^(https?:|mailto:|data:|#)", ref)]


def tracks(content: Path) -> list[tuple[str, list[str]]]:
    """(track id, its lessons in order) as the built course index groups them."""
    data = course(content)
    by_track: dict[str, list[str]] = {t["id"]: [] for t in data["tracks"]}
    for lesson in data["lessons"]:
        by_track[front_matter(content, lesson)["track"]].append(lesson)
    return list(by_track.items())
