"""What a link or image in a source page points to, and how it is written in the course.

Pages become lessons (`other-lesson.md#anchor`); any other file of the source a page refers to is
copied to `media/` under its path in the source; a folder without a page (code, data) can only be
linked where the source is published (`--source-url`). The build reads links in raw HTML as it reads
markdown's, so both are written alike.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import quote, unquote, urlsplit

from unsmudge.importer.nav import natural_key
from unsmudge.importer.pages import is_index


@dataclass(frozen=True)
class Target:
    rel: PurePosixPath  # relative to the source root
    fragment: str
    kind: str  # "page", "file" or "folder"


class Resolver:
    """Reads a link as its readers followed it. A folder means its index page, or its first page when it
    has none; `page` without `.md` finds `page.md`. With `directory_urls` (MkDocs' default, where page
    `a/b.md` is served as `a/b/`) a path that names nothing from the file's folder is read from the
    page's address, as the browser did. `notebook_pages`: the suffixes of files a plugin served as pages
    (mkdocs-jupyter's `.ipynb`, `.py`): `notebooks/x` finds `notebooks/x.ipynb`, carried as a file."""

    def __init__(self, root: Path, pages: list[PurePosixPath], directory_urls: bool = False,
                 notebook_pages: tuple[str, ...] = ()):
        self.root, self.pages, self.directory_urls = root, set(pages), directory_urls
        self.notebook_pages = notebook_pages
        self.first_page: dict[PurePosixPath, PurePosixPath] = {}
        for page in sorted(pages, key=lambda p: (len(p.parts), natural_key(p.as_posix()))):
            for folder in page.parents:
                self.first_page.setdefault(folder, page)

    def target(self, written: str, page: PurePosixPath) -> Target | None:
        """The page or file `written` (a destination in `page`) points to; None for anything else:
        an external URL, a fragment of the same page, or a path that names nothing in the source."""
        parts = urlsplit(written)
        if parts.scheme or parts.netloc or not parts.path:
            return None
        path = unquote(parts.path)
        folders = [page.parent]
        if self.directory_urls and not is_index(page):
            folders.append(page.parent / page.stem)
        for folder in folders:
            found = self._find(path, folder)
            if found:
                return Target(found[0], parts.fragment, found[1])
        return None

    def _find(self, path: str, folder: PurePosixPath) -> tuple[PurePosixPath, str] | None:
        # '/x' is the docs root as MkDocs (and a site served from the root) reads it
        joined = posixpath.normpath(path.lstrip("/") if path.startswith("/") else f"{folder}/{path}")
        if joined == ".." or joined.startswith("../"):
            return None
        rel = PurePosixPath(joined)
        candidates = [rel, *(rel / name for name in ("index.md", "README.md", "readme.md"))]
        if rel.name:
            candidates.append(rel.with_name(rel.name + ".md"))
        for candidate in candidates:
            if candidate in self.pages:
                return candidate, "page"
        if rel in self.first_page:
            return self.first_page[rel], "page"
        notebooks = [rel.with_name(rel.name + suffix) for suffix in self.notebook_pages if rel.name]
        for notebook in notebooks:
            if (self.root / notebook).is_file():
                return notebook, "file"
        if rel.suffix.lower() != ".md" and (self.root / rel).is_file():
            return rel, "file"
        if (self.root / rel).is_dir():
            return rel, "folder"
        return None


def media_file(rel: PurePosixPath) -> str:
    """Where a file the lessons use goes in the course: media/ and its path in the source, a hidden
    folder's dot made an underscore (the build serves no hidden file)."""
    return "media/" + "/".join("_" + part[1:] if part.startswith(".") else part for part in rel.parts)


def written_link(target: Target, lesson_id: str | None, source_url: str) -> str | None:
    """The link as the course writes it, from lessons/; None keeps it as written (a page that is no
    lesson, a folder when the source's address is not known)."""
    fragment = f"#{target.fragment}" if target.fragment else ""
    if target.kind == "file":
        return f"../{quote(media_file(target.rel))}{fragment}"
    if target.kind == "folder":
        return f"{source_url.rstrip('/')}/{quote(target.rel.as_posix())}{fragment}" if source_url else None
    return f"{lesson_id}.md{fragment}" if lesson_id else None
