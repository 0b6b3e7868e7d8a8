"""The source's navigation as one tree: pages, sections and links, in reading order.

MkDocs' `nav`, the navigation plugins' files (`.nav.yml`, `.pages`) and plain folders all end up here.
A nav file gives a folder's `FolderRules`: its items in order, with glob patterns standing for "the rest";
a folder without one is read in MkDocs' order (index first, then pages, then sub-folders as sections),
sorted naturally ("2-x" before "10-x").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import PurePosixPath

from unsmudge.importer.notes import Notes
from unsmudge.importer.pages import is_index


@dataclass
class PageEntry:
    rel: PurePosixPath  # relative to the source root
    title: str = ""  # the title the nav gives it, if any


@dataclass
class SectionEntry:
    title: str
    children: list  # of PageEntry, SectionEntry, LinkEntry


@dataclass
class LinkEntry:
    title: str
    url: str


# items of a nav as written, before they are matched to files
@dataclass
class Ref:
    path: str  # a page or a folder, relative to the folder of the nav that names it
    title: str = ""
    where: str = ""  # "file: line N", for notes


@dataclass
class Glob:
    pattern: str  # matches the pages and folders of this folder not placed elsewhere ("*": all of them)


@dataclass
class Group:
    title: str
    items: list  # of Ref, Glob, Group, LinkEntry


@dataclass
class FolderRules:
    title: str = ""
    hide: bool = False
    items: list | None = None  # None: every page and folder, in the default order
    descending: bool = False


ROOT = PurePosixPath(".")


def natural_key(name: str) -> list:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def dirname_to_title(name: str) -> str:
    """MkDocs' title for a folder or file without one: '-' and '_' become spaces, first letter capital."""
    title = name.replace("-", " ").replace("_", " ")
    return title.capitalize() if title.lower() == title else title


class FolderNav:
    """Resolves nav items against the source's pages; each page is placed once."""

    def __init__(self, pages: list[PurePosixPath], notes: Notes,
                 rules: Callable[[PurePosixPath], FolderRules | None] = lambda folder: None,
                 folder_title: Callable[[PurePosixPath], str] = lambda folder: dirname_to_title(folder.name)):
        self.pages = set(pages)
        self.folders = {parent for page in pages for parent in page.parents}
        self.notes, self.rules, self.folder_title = notes, rules, folder_title
        self.placed: set[PurePosixPath] = set()

    def folder(self, folder: PurePosixPath = ROOT) -> list:
        """The entries of a folder: its nav file's items, or every page and sub-folder in order."""
        rules = self.rules(folder) or FolderRules()
        items = rules.items if rules.items is not None else [Glob("*")]
        return self.resolve(items, folder, rules.descending)

    def resolve(self, items: list, folder: PurePosixPath, descending: bool = False) -> list:
        self._claim(items, folder)  # named pages are theirs before any glob can take them
        entries: list = []
        for item in items:
            if isinstance(item, Glob):
                entries += self._glob(item.pattern, folder, descending)
            elif isinstance(item, Group):
                entries.append(SectionEntry(item.title, self.resolve(item.items, folder, descending)))
            elif isinstance(item, LinkEntry):
                entries.append(item)
            else:
                entries += self._ref(item, folder)
        return [e for e in entries if not isinstance(e, SectionEntry) or e.children]

    def _claim(self, items: list, folder: PurePosixPath) -> None:
        for item in items:
            if isinstance(item, Ref) and (named := self._named(item, folder)) in self.pages:
                self.placed.add(named)
            elif isinstance(item, Group):
                self._claim(item.items, folder)

    def _named(self, ref: Ref, folder: PurePosixPath) -> PurePosixPath:
        """The page or folder a nav entry names: as written, else the only one whose path differs from it
        only in case (MkDocs found it on a case-insensitive file system, as macOS and Windows have)."""
        path = _join(folder, ref.path)
        if path in self.pages or path in self.folders:
            return path
        same = self._in_other_case(path)
        return same[0] if len(same) == 1 else path

    def _in_other_case(self, path: PurePosixPath) -> list[PurePosixPath]:
        """The pages and folders whose path differs from `path` only in case."""
        return [p for p in sorted(self.pages | self.folders)
                if p != path and p.as_posix().casefold() == path.as_posix().casefold()]

    def _ref(self, ref: Ref, folder: PurePosixPath) -> list:
        path = self._named(ref, folder)
        if path != _join(folder, ref.path):
            self.notes.add("nav entries matched in another case", ref.path,
                           f"taken as `{path.as_posix()}`, whose name differs only in case (MkDocs finds it on "
                           "a case-insensitive file system, as macOS and Windows have; rename one to match)",
                           ref.where)
        if path in self.pages:
            return [PageEntry(path, ref.title)]
        if path in self.folders and path not in self.placed:
            return [self._section(path, ref.title)]
        same = [p.as_posix() for p in self._in_other_case(path)]
        self.notes.add("nav entries left out", ref.path,
                       "names no markdown page or folder of the source (a notebook, or a missing file)"
                       + (f"; {' and '.join(f'`{p}`' for p in same)} differ from it only in case" if same else ""),
                       ref.where)
        return []

    def _section(self, folder: PurePosixPath, title: str = "") -> SectionEntry:
        self.placed.add(folder)
        rules = self.rules(folder) or FolderRules()
        return SectionEntry(title or rules.title or self.folder_title(folder), self.folder(folder))

    def _glob(self, pattern: str, folder: PurePosixPath, descending: bool) -> list:
        depth = pattern.strip("/").count("/") + 1
        candidates = [p for p in sorted(self.pages | self.folders) if p not in self.placed and p != folder
                      and _within(p, folder, depth) and _matches(pattern, p.relative_to(folder))]
        pages = [p for p in candidates if p in self.pages]
        folders = [f for f in candidates if f in self.folders
                   and not (self.rules(f) or FolderRules()).hide
                   and any(page not in self.placed and page.is_relative_to(f) for page in self.pages)]
        order = lambda p: (not is_index(p), natural_key(p.as_posix()))  # noqa: E731
        pages.sort(key=order, reverse=descending)
        folders.sort(key=order, reverse=descending)
        self.placed.update(pages)
        return [PageEntry(p) for p in pages] + [self._section(f) for f in folders if f not in self.placed]


def _join(folder: PurePosixPath, written: str) -> PurePosixPath:
    parts: list[str] = list(folder.parts)
    for part in written.strip("/").split("/"):
        if part == "..":
            parts = parts[:-1]
        elif part not in ("", "."):
            parts.append(part)
    return PurePosixPath(*parts) if parts else ROOT


def _within(path: PurePosixPath, folder: PurePosixPath, depth: int) -> bool:
    return path.is_relative_to(folder) and len(path.parts) - len(folder.parts) == depth


def _matches(pattern: str, rel: PurePosixPath) -> bool:
    wanted = pattern.strip("/").split("/")
    return all(fnmatchcase(part, want) for part, want in zip(rel.parts, wanted))
