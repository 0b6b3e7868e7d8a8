"""The navigation plugins' files: `.nav.yml` (mkdocs-awesome-nav) and `.pages` (awesome-pages), one per
folder, read into `FolderRules`.

Both list a folder's pages and sub-folders in order, give it a title, or hide it; what is not listed is
left out unless a pattern takes it: `"*"` or another glob (awesome-nav), `...` (awesome-pages), or
awesome-nav's `append_unmatched`. Options that only change how the site looked are noted, not followed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from unsmudge.importer import yaml_file
from unsmudge.importer.nav import FolderRules, Glob, Group, LinkEntry, Ref
from unsmudge.importer.notes import Notes
from unsmudge.problems import Problem, ProblemsFound

AWESOME_NAV, AWESOME_PAGES = "awesome-nav", "awesome-pages"
DEFAULT_FILE = {AWESOME_NAV: ".nav.yml", AWESOME_PAGES: ".pages"}
FOLLOWED = {"title", "hide", "nav", "arrange", "append_unmatched", "sort", "order"}
URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.I)


def folder_rules(docs: Path, plugin: str, filename: str, notes: Notes) -> Callable[[PurePosixPath], FolderRules | None]:
    """A reader of `filename` in each folder, for FolderNav; each file is read once."""
    read: dict[PurePosixPath, FolderRules | None] = {}

    def rules(folder: PurePosixPath) -> FolderRules | None:
        if folder not in read:
            path = docs / folder / filename
            read[folder] = _read(path, plugin, notes) if path.is_file() else None
        return read[folder]

    return rules


def _read(path: Path, plugin: str, notes: Notes) -> FolderRules:
    data, text, shown = yaml_file.read(path)
    if data is None:
        return FolderRules()
    if not isinstance(data, dict):
        raise ProblemsFound([Problem(shown, "line 1", "expected 'key: value' lines (title, nav, ...)",
                                     f"write it as the {plugin} plugin's documentation shows")])
    for key in data:
        if key not in FOLLOWED or (key == "sort" and set(data[key] or {}) - {"direction"}):
            notes.add("navigation options not carried", f"{key}: {data[key]}",
                      "changed the navigation; the import used its own order and titles", shown)
    written = data.get("nav", data.get("arrange"))
    items = None if written is None else _items(written, shown, text, plugin)
    if plugin == AWESOME_NAV and data.get("append_unmatched") and items is not None:
        items.append(Glob("*"))
    sort = data.get("sort") if isinstance(data.get("sort"), dict) else {}
    descending = (sort.get("direction") if plugin == AWESOME_NAV else data.get("order")) == "desc"
    title = data.get("title")
    return FolderRules(title if isinstance(title, str) else "", bool(data.get("hide")), items, descending)


def _items(written, shown: str, text: str, plugin: str) -> list:
    if not isinstance(written, list):
        raise ProblemsFound([Problem(shown, yaml_file.line_of(text, "nav") or yaml_file.line_of(text, "arrange"),
                                     "'nav' must be a list of entries", "write one '- entry' per line")])
    items: list = []
    for entry in written:
        if isinstance(entry, str):
            items.append(_item(entry, "", shown, text, plugin))
        elif isinstance(entry, dict) and "glob" in entry and plugin == AWESOME_NAV:
            items.append(Glob(str(entry["glob"])))
        elif isinstance(entry, dict) and len(entry) == 1:
            (title, value), = entry.items()
            if isinstance(value, list):
                items.append(Group(str(title), _items(value, shown, text, plugin)))
            elif isinstance(value, str):
                items.append(_item(value, str(title), shown, text, plugin))
            else:
                raise _bad_entry(shown, text, str(title))
        else:
            raise _bad_entry(shown, text, str(entry))
    return items


def _item(value: str, title: str, shown: str, text: str, plugin: str):
    if URL.match(value):
        return LinkEntry(title or value, value)
    if plugin == AWESOME_PAGES and value.startswith("..."):  # "...", "... | glob=*.md", "... | flat"
        pattern = re.search(r"\|\s*(?:glob=)?([^|\s=]+)\s*$", value)
        return Glob(pattern[1] if pattern and pattern[1] not in ("flat",) else "*")
    if plugin == AWESOME_NAV and any(c in value for c in "*?["):
        return Glob(value)
    return Ref(value, title, yaml_file.place(shown, text, value))


def _bad_entry(shown: str, text: str, written: str) -> ProblemsFound:
    return ProblemsFound([Problem(shown, yaml_file.line_of(text, written), f"cannot read the nav entry '{written}'",
                                  "write 'page.md', 'folder', 'Title: page.md' or 'Title:' with a list below")])
