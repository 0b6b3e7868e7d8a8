"""Lesson markdown -> HTML: Python-Markdown + pymdown-extensions, plus our link, diagram and demo rules.

One `LessonRenderer` converts every lesson of a build (a Markdown instance is costly to set up, cheap to
reset). Links are checked in two passes: while converting, each link is resolved to a lesson or a file;
once every lesson is converted, `check_anchors` looks each `#fragment` up in the target page's ids.
"""

from __future__ import annotations

import difflib
import html as html_lib
import re
import xml.etree.ElementTree as etree
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

import markdown
from markdown.treeprocessors import Treeprocessor

from unsmudge import diagram, formulas
from unsmudge.course import Lesson
from unsmudge.formulas import Formula
from unsmudge.problems import Problem, display_path

DEMO_MARK = re.compile(r'<div data-unsmudge-demo="([^"]*)"></div>')
SCROLLABLE_PRE = '<div class="highlight"><pre tabindex="0">'
IDS = re.compile(r'\bid="([^"]+)"')
FENCE_LANGUAGE = re.compile(r"^[ \t]*(?:```|~~~)[`~]*[ \t]*\{?\.?([\w+#-]+)", re.M)
FORMULA_MARK = re.compile(r'<unsmudge-formula n="(\d+)"></unsmudge-formula>')


@dataclass
class Converted:
    html: str
    toc: list[dict]  # [{level, id, name}] for h2/h3
    ids: set[str]
    demos: list[str]  # demo ids in order of appearance
    text: str  # plain text for the search index
    has_math: bool
    math_styles: set[str]  # inline styles of its formulas, as classes (formulas.stylesheet_rules)
    # links with a fragment, checked once every page is converted: (target lesson, fragment, link, line)
    anchors: list[tuple[str, str, str, str]] = field(default_factory=list)


def _demo_fence(source, language, class_name, options, md, **kwargs) -> str:
    demo_id = source.strip()
    md.unsmudge_demos.append(demo_id)
    # replaced by the rendered partial once the page's relative URLs are known
    return f'<div data-unsmudge-demo="{demo_id}"></div>'


def _pipeline_fence(source, language, class_name, options, md, **kwargs) -> str:
    return diagram.render(source)


class FormulaMarks(Treeprocessor):
    """Takes each formula arithmatex found out of the tree, leaving a mark where its MathML goes."""

    def run(self, root: etree.Element) -> None:
        found = self.md.unsmudge_formulas
        for element in root.iter():
            if element.get("class") == "arithmatex" and element.tag in ("span", "div"):
                display = element.tag == "div"
                text = element.text or ""  # arithmatex wraps it as \(...\) or \[...\] and escapes blocks
                tex = html_lib.unescape(text[2:-2]) if display else text[2:-2]
                tail = element.tail
                element.clear()
                element.tag, element.tail = "unsmudge-formula", tail
                element.set("n", str(len(found)))
                found.append(Formula(tex.strip(), display))


class LinkRules(Treeprocessor):
    """Rewrites lesson links to pages and media paths to the site's, and records what is broken."""

    def __init__(self, md, renderer: "LessonRenderer"):
        super().__init__(md)
        self.renderer = renderer

    def run(self, root: etree.Element) -> None:
        for element in root.iter():
            if element.tag == "a" and element.get("href") is not None:
                element.set("href", self.renderer.link(element.get("href"), element))
            elif element.tag == "img" and element.get("src") is not None:
                element.set("src", self.renderer.media(element.get("src")))
                element.set("loading", "lazy")
            elif element.tag == "table":
                element.set("tabindex", "0")  # it scrolls sideways on a narrow screen: keyboard users too


class LessonRenderer:
    def __init__(self, content_dir: Path, lesson_ids: set[str], macros: dict[str, str] | None = None):
        self.content_dir = Path(content_dir).resolve()
        self.macros = macros or {}
        self.lessons_dir = self.content_dir / "lessons"
        self.lesson_ids = lesson_ids
        self.md = markdown.Markdown(
            extensions=[
                "attr_list", "footnotes", "md_in_html", "tables", "toc", "admonition",
                "pymdownx.arithmatex", "pymdownx.details", "pymdownx.highlight", "pymdownx.superfences", "pymdownx.tabbed",
            ],
            extension_configs={
                "toc": {"permalink": "¶", "permalink_title": "Link to this section", "toc_depth": "2-3"},
                # CSS classes, not inline styles: the CSP forbids inline styles
                "pymdownx.highlight": {"use_pygments": True, "css_class": "highlight", "noclasses": False},
                "pymdownx.tabbed": {"alternate_style": True},
                # $...$, \(...\), $$...$$, \[...\] and \begin{env}: the syntax of Material for MkDocs
                "pymdownx.arithmatex": {"generic": True},
                "pymdownx.superfences": {"custom_fences": [
                    {"name": "demo", "class": "demo", "format": _demo_fence},
                    {"name": "pipeline", "class": "pipeline", "format": _pipeline_fence},
                ]},
            },
            output_format="html",
        )
        self.md.treeprocessors.register(FormulaMarks(self.md), "unsmudge-formulas", 15)  # after inline (20)
        self.md.treeprocessors.register(LinkRules(self.md, self), "unsmudge-links", 1)

    def warm(self, lessons) -> None:
        """Compile the code lexers the lessons use once, before forked workers would each compile them."""
        from pygments.lexers import get_lexer_by_name
        from pygments.util import ClassNotFound

        for language in sorted({m for lesson in lessons for m in FENCE_LANGUAGE.findall(lesson.body)}):
            try:
                get_lexer_by_name(language)
            except ClassNotFound:
                pass

    # the lesson being converted, and what its conversion found
    def convert(self, lesson) -> tuple[Converted, list[Problem]]:
        self.lesson, self.problems, self.anchors = lesson, [], []
        self.md.reset()
        self.md.unsmudge_demos, self.md.unsmudge_formulas = [], []
        # code scrolls sideways on a narrow screen, so keyboard users must be able to focus it
        html = self.md.convert(lesson.body).replace('<div class="highlight"><pre>', SCROLLABLE_PRE)
        html, styles = self._typeset(html, self.md.unsmudge_formulas)
        toc = [{"level": t["level"], "id": t["id"], "name": t["name"]} for t in _flatten(self.md.toc_tokens)]
        ids = set(IDS.findall(html))
        converted = Converted(html, toc, ids, list(self.md.unsmudge_demos), _plain_text(html),
                              bool(self.md.unsmudge_formulas), styles, self.anchors)
        return converted, self.problems

    def _typeset(self, html: str, found: list[Formula]) -> tuple[str, set[str]]:
        """The page's formulas as MathML in place of their marks; a formula Temml rejects is a problem."""
        if not found:
            return html, set()
        typeset = formulas.typeset(found, self.macros)
        for index, message in sorted(typeset.errors.items()):
            tex = found[index].tex
            self._problem(tex.split("\n")[0].strip(), f"formula ${_shorten(tex)}$ cannot be typeset: {message}",
                          "fix the TeX (Temml's supported functions: https://temml.org/docs/en/supported), "
                          "or define the macro under [math.macros] in course.toml")
            typeset.html[index] = f'<code class="math-error">{html_lib.escape(tex)}</code>'
        return FORMULA_MARK.sub(lambda m: typeset.html[int(m[1])], html), typeset.styles

    def _problem(self, written: str, message: str, fix: str) -> None:
        self.problems.append(Problem(display_path(self.lesson.path), line_of(self.lesson, written), message, fix))

    def _resolve(self, path: str) -> Path | None:
        """A relative path from the lesson file, resolved; None when it leaves the content folder."""
        target = (self.lessons_dir / unquote(path)).resolve()
        return target if target.is_relative_to(self.content_dir) else None

    def link(self, href: str, element: etree.Element) -> str:
        parts = urlsplit(href)
        if parts.scheme in ("http", "https"):
            element.set("target", "_blank")
            element.set("rel", "noopener")
            return href
        if parts.scheme or parts.netloc or href.startswith("/"):
            if parts.scheme in ("mailto", "tel"):
                return href
            self._problem(href, f"link '{href}' is absolute", "link to a lesson as 'other-lesson.md' or to "
                          "a file under media/ by a relative path; external links need http(s)://")
            return href
        if not parts.path:  # "#fragment" within this lesson
            self.anchors.append((self.lesson.id, parts.fragment, href, line_of(self.lesson, href)))
            return href
        if parts.path.endswith(".md"):
            if "/" not in parts.path:  # the usual 'other-lesson.md': no need to touch the file system
                lesson_id = unquote(parts.path)[:-3]
            else:
                target = self._resolve(parts.path)
                lesson_id = target.stem if target and target.parent == self.lessons_dir else None
            if lesson_id not in self.lesson_ids:
                missing = PurePosixPath(parts.path).stem
                close = difflib.get_close_matches(missing, sorted(self.lesson_ids), n=1)
                fix = f"did you mean '{close[0]}.md'?" if close else "link to an existing lesson's file, as 'lesson-id.md'"
                self._problem(href, f"broken link '{href}': no lesson '{missing}'", fix)
                return href
            if parts.fragment:
                self.anchors.append((lesson_id, parts.fragment, href, line_of(self.lesson, href)))
            return f"{lesson_id}.html" + (f"#{parts.fragment}" if parts.fragment else "")
        return self.media(href, written=href)

    def media(self, src: str, written: str | None = None) -> str:
        """A file the lesson refers to: it must exist under media/; its site path is the same."""
        parts = urlsplit(src)
        if parts.scheme in ("http", "https"):
            self._problem(src, f"'{src}' would be loaded from another host", "download it into media/ and "
                          "refer to it by a relative path")
            return src
        if parts.scheme == "data":
            return src
        target = self._resolve(parts.path)
        media_dir = self.content_dir / "media"
        if target is None or not target.is_relative_to(media_dir) or not target.is_file():
            self._problem(written or src, f"'{src}' is not a file under media/",
                          "put the file in the content folder's media/ and refer to it as '../media/NAME'")
            return src
        rel = target.relative_to(self.content_dir).as_posix()
        return rel + (f"#{parts.fragment}" if parts.fragment else "")


def line_of(lesson: Lesson, written: str) -> str:
    """The line of the lesson's file where `written` first appears (links keep no source position)."""
    for number, line in enumerate(lesson.body.split("\n")):
        if written in line:
            return f"line {number + lesson.body_line}"
    return ""


def check_anchors(path_of: dict[str, Path], converted: dict[str, Converted]) -> list[Problem]:
    """Every `#fragment` link in the lessons of `path_of` must name an id in its target page (checked
    once all pages exist; a lesson that could not be read is not checked against)."""
    problems = []
    for source_id, source_path in path_of.items():
        for target_id, fragment, written, where in converted[source_id].anchors:
            if target_id in converted and fragment not in converted[target_id].ids:
                problems.append(Problem(
                    display_path(source_path), where,
                    f"broken anchor '{written}': lesson '{target_id}' has no heading or id '{fragment}'",
                    "use one of its heading ids: " + (", ".join(t["id"] for t in converted[target_id].toc)
                                                      or "(it has no headings)")))
    return problems


def _shorten(tex: str, limit: int = 60) -> str:
    flat = " ".join(tex.split())
    return flat if len(flat) <= limit else flat[:limit - 3] + "..."


def _flatten(tokens: list[dict]) -> list[dict]:
    out = []
    for token in tokens:
        out.append(token)
        out += _flatten(token.get("children", []))
    return out


_TAGS = re.compile(r"<(script|style|svg)\b.*?</\1>|<[^>]+>", re.S)
_SPACE = re.compile(r"\s+")


def _plain_text(html: str) -> str:
    return _SPACE.sub(" ", html_lib.unescape(_TAGS.sub(" ", html))).replace("¶", "").strip()
