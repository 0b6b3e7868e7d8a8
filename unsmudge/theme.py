"""The theme: Jinja2 templates and static assets, the course's own `templates/` folder first.

Static `.css` and `.js` files get content-hashed names (`assets/css/site.3f2a9c1e07.css`) so a CDN may
cache them forever; a page refers to them through `asset('css/site.css')`, which returns the hashed URL.
The theme's `live/` folder (the live mode's draw.js and runtime) becomes assets under `live/`, which the build
leaves out of a site without a draw demo.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import jinja2
from pygments.formatters import HtmlFormatter

HASHED = (".css", ".js")
LIVE = "live/"  # the theme's live/ folder (the live mode's scripts and runtime), as assets under this prefix


def default_theme() -> Path:
    """The theme folder: inside the installed wheel (`unsmudge/_theme`) or the repository's `templates/`."""
    packaged = Path(__file__).parent / "_theme"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parent.parent / "templates"


def _hashed_name(rel: str, data: bytes) -> str:
    stem, dot, ext = rel.rpartition(".")
    return f"{stem}.{hashlib.sha256(data).hexdigest()[:10]}.{ext}"


def pygments_css() -> bytes:
    """Code colours for light and dark schemes (CSS classes; the CSP forbids inline styles). The two
    styles are the Pygments ones whose every colour keeps a 4.5:1 contrast (WCAG AA) on the theme's
    code background; each is scoped to its scheme so no colour of one leaks into the other."""
    light = HtmlFormatter(style="xcode").get_style_defs(".highlight")
    dark = HtmlFormatter(style="lightbulb").get_style_defs(".highlight")
    return (f"@media not all and (prefers-color-scheme: dark) {{\n{light}\n}}\n"
            f"@media (prefers-color-scheme: dark) {{\n{dark}\n}}\n"
            ".highlight, .highlight pre { background: var(--soft); }\n").encode()


class Asset:
    """A file of the site's assets/: read, and its name hashed, only when a page or the site asks for it, so
    a part of the theme a site leaves out (the live mode's 5 MB runtime) costs nothing."""

    def __init__(self, rel: str, source: Path | bytes):
        self.rel, self.source = rel, source

    @functools.cached_property
    def data(self) -> bytes:
        return self.source if isinstance(self.source, bytes) else self.source.read_bytes()

    @functools.cached_property
    def url(self) -> str:
        """Relative to the site root."""
        return f"assets/{_hashed_name(self.rel, self.data) if self.rel.endswith(HASHED) else self.rel}"


class Theme:
    def __init__(self, course_templates: Path | None = None):
        self.folders = [f for f in (course_templates, default_theme()) if f and f.is_dir()]
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader([str(f) for f in self.folders]),
            autoescape=jinja2.select_autoescape(["html", "xml"]),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            auto_reload=False,  # a Theme lasts one build (serve makes another when a template changes)
        )
        self.assets = self._collect_assets()
        self.env.globals["asset"] = self.asset
        self.env.globals["has_asset"] = self.assets.__contains__  # a course's own css/extra.css, say

    def _collect_assets(self) -> dict[str, Asset]:
        """Every static file, the course's overriding the theme's; plus generated ones."""
        sources: dict[str, Path | bytes] = {}
        for folder in reversed(self.folders):
            for files, prefix in ((folder / "static", ""), (folder / "live", LIVE)):
                for path in sorted(p for p in files.rglob("*") if p.is_file()):
                    sources[prefix + path.relative_to(files).as_posix()] = path
        sources["css/pygments.css"] = pygments_css()
        return {rel: Asset(rel, source) for rel, source in sorted(sources.items())}

    def drop_assets(self, prefix: str) -> None:
        """Leave out of the site every asset under `prefix` (a part of the theme this site does not use)."""
        for rel in [rel for rel in self.assets if rel.startswith(prefix)]:
            del self.assets[rel]

    def add_asset(self, rel: str, data: bytes) -> str:
        """A generated asset (such as the search index); returns its hashed URL."""
        self.assets[rel] = Asset(rel, data)
        return self.assets[rel].url

    def asset(self, rel: str) -> str:
        try:
            return self.assets[rel].url
        except KeyError:
            raise jinja2.TemplateError(f"no static file '{rel}' in the theme") from None

    def render(self, template: str, **context) -> str:
        return self.env.get_template(template).render(**context)
