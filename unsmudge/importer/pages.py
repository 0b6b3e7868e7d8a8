"""A page of the source: its YAML front matter, its title heading, its lead paragraph and its body."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath

from unsmudge.importer import markup, yaml_file
from unsmudge.problems import Problem, ProblemsFound, display_path

# MkDocs' front matter: YAML between '---' lines at the very top, closed by '---' or '...'
FRONT_MATTER = re.compile(r"\A-{3}[ \t]*\n(.*?\n)?(?:-{3}|\.{3})[ \t]*(?:\n|\Z)", re.S)
INDEX_NAMES = ("index.md", "readme.md")


@dataclass
class SourcePage:
    rel: PurePosixPath  # relative to the source root
    meta: dict  # the front matter as written
    body: str  # front matter and title heading removed
    heading: str  # the first heading's text, when the page has one ("" otherwise)
    title_id: str  # the anchor of the title heading removed from the body ("" when none was)
    lead: str  # the first paragraph as plain text, when the body starts with prose
    only_lead: bool  # the body holds nothing but that paragraph (an index page made for the nav)
    anchors: dict[str, str]  # a heading's anchor as GitHub reads it -> the one the build gives it

    def anchor(self, fragment: str) -> str:
        """The build's id for a heading a link names as GitHub read it (its own id, or in any case)."""
        return self.anchors.get(fragment.lower(), fragment)


def is_index(rel: PurePosixPath) -> bool:
    """An index page stands for its folder (MkDocs: index.md; GitHub: README.md)."""
    return rel.name.lower() in INDEX_NAMES


def read_page(root: Path, rel: PurePosixPath) -> SourcePage:
    path = root / rel
    shown = display_path(path)
    try:
        text = path.read_text(encoding="utf-8-sig").replace("\r\n", "\n")
    except (OSError, UnicodeDecodeError) as err:
        raise ProblemsFound([Problem(shown, "", f"cannot read the page ({err})", "save it as UTF-8 text")]) from None
    meta, body = {}, text
    front = FRONT_MATTER.match(text)
    if front:
        meta = yaml_file.load(front[1] or "", shown, 2) or {}
        if not isinstance(meta, dict):
            raise ProblemsFound([Problem(shown, "line 2", "the front matter is not a set of 'key: value' lines",
                                         "write it as YAML keys, e.g. 'title: Linear regression'")])
        body = text[front.end():]
    heading = markup.first_heading(body)
    title_id = ""
    if heading and heading.level == 1:  # the page's title: the lesson shows it above the body
        lines = body.split("\n")
        body = "\n".join(lines[:heading.start] + lines[heading.end + 1:]).lstrip("\n")
        title_id = heading.id
    lead, rest = markup.lead(body)
    anchors = {markup.github_id(h.text): h.id for h in markup.headings(body)}
    return SourcePage(rel, meta, body, heading.text if heading else "", title_id, lead,
                      not (rest if lead else body).strip(), anchors)


def find_pages(root: Path, excluded: Callable[[PurePosixPath], bool]) -> list[PurePosixPath]:
    """Every markdown page under `root` (hidden files and folders, and what `excluded` says, left out)."""
    found = []
    for folder, folders, files in os.walk(root):
        here = PurePosixPath(Path(folder).relative_to(root).as_posix())
        folders[:] = sorted(f for f in folders if not f.startswith(".") and not excluded(here / f))
        found += [here / f for f in sorted(files)
                  if f.lower().endswith(".md") and not f.startswith(".") and not excluded(here / f)]
    return found


def ignored(rel: PurePosixPath, pattern: str) -> bool:
    """Whether a .gitignore-style pattern (as MkDocs' exclude_docs takes) matches `rel` or a folder of it:
    a pattern with a '/' is anchored at the root, one without matches any name; '*' may cross '/'."""
    pattern = pattern.strip()
    if not pattern or pattern.startswith(("#", "!")):
        return False
    if "/" in pattern.rstrip("/"):
        anchored = pattern.strip("/")
        return any(fnmatchcase(path.as_posix(), anchored) for path in (rel, *rel.parents))
    return any(fnmatchcase(part, pattern.rstrip("/")) for part in rel.parts)
