"""A plain markdown tree, as many GitHub courses are: a folder per section, a README.md per lesson.

Folders are sections (top-level ones become tracks), their pages lessons, in natural order (README
first, then pages, then sub-folders); titles come from first headings (a folder's from its README).
The root README names and describes the course. A repository's own files (licence, contributing guide,
code of conduct ...) are no lessons, but one a lesson links to is published in a last track; what
`--exclude` matches is left out.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath

from unsmudge.importer.nav import ROOT, FolderNav, dirname_to_title
from unsmudge.importer.notes import Notes
from unsmudge.importer.outline import Source
from unsmudge.importer.pages import SourcePage, find_pages, ignored, is_index, read_page
from unsmudge.problems import Problem, ProblemsFound, display_path

REPOSITORY_FILES = ("LICENSE*", "LICENCE*", "CONTRIBUTING*", "CODE_OF_CONDUCT*", "SECURITY*", "SUPPORT*",
                    "CHANGELOG*", "CHANGES*", "AUTHORS*", "PULL_REQUEST_TEMPLATE*", "ISSUE_TEMPLATE*")


def read_tree(path: Path, exclude: list[str], skip: Path | None = None) -> Source:
    if not path.is_dir():
        raise ProblemsFound([Problem(display_path(path), "", "not a folder", "pass the folder that holds the pages")])
    notes = Notes()
    skip = skip.resolve() if skip else None

    def excluded(rel: PurePosixPath) -> bool:
        return rel.name == "node_modules" or any(ignored(rel, pattern) for pattern in exclude) \
            or (skip is not None and (path / rel).resolve() == skip)

    pages = find_pages(path, excluded)
    course_pages = [rel for rel in pages if not _repository_file(rel)]
    readmes = {rel.parent: rel for rel in course_pages if is_index(rel)}

    def folder_title(folder: PurePosixPath) -> str:
        page = _readable(path, readmes[folder]) if folder in readmes else None
        return (page.heading if page else "") or dirname_to_title(folder.name)

    nav = FolderNav(course_pages, notes, folder_title=folder_title).folder()
    page = _readable(path, readmes[ROOT]) if ROOT in readmes else None
    title = (page.heading if page else "") or dirname_to_title(path.resolve().name)
    return Source(path, display_path(path), title, nav, pages, notes, page.lead if page else "",
                  github=True)


def _readable(root: Path, rel: PurePosixPath) -> SourcePage | None:
    try:
        return read_page(root, rel)
    except ProblemsFound:  # reported with every other page's problems when the outline reads them all
        return None


def _repository_file(rel: PurePosixPath) -> bool:
    return len(rel.parts) == 1 and any(fnmatchcase(rel.name.upper(), name) for name in REPOSITORY_FILES)
