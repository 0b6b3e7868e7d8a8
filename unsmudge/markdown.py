"""Lesson markdown -> HTML: Python-Markdown + pymdown-extensions, plus our link, diagram and demo rules.

One `LessonRenderer` converts every lesson of a build (a Markdown instance is costly to set up, cheap to
reset). Links are checked in two passes: while converting, each link is resolved to a lesson or a file;
once every lesson is converted, `check_anchors` looks each `#fragment` up in the target page's ids.
"""

from __future__ import annotations

import collections
import difflib
import html as html_lib
import os
import re
import xml.etree.ElementTree as etree
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import quote, unquote, urlsplit

import markdown
from markdown import inlinepatterns
from markdown.extensions import admonition, attr_list, footnotes, md_in_html, tables, toc
from markdown.blockparser import BlockParser
from markdown.blockprocessors import BlockProcessor
from markdown.treeprocessors import InlineProcessor, Treeprocessor
from pymdownx import arithmatex, details, highlight, superfences, tabbed

from unsmudge import diagram, formulas, raw_html
from unsmudge.course import Lesson
from unsmudge.formulas import Formula
from unsmudge.problems import Problem, display_path

DEMO_MARK = re.compile(r'<div data-unsmudge-demo="([^"]*)"></div>')
SCROLLABLE_PRE = '<div class="highlight"><pre tabindex="0">'
IDS = re.compile(r'id="([^"]+)"')  # an attribute when no letter, digit or _ comes before it (see _ids)
FENCE_LANGUAGE = re.compile(r"^[ \t]*(?:```|~~~)[`~]*[ \t]*\{?\.?([\w+#-]+)", re.M)
SITE_FOLDERS = {"assets", "frames"}  # the site's own: theme assets, demo frames
NOTEBOOK_CELL = re.compile(r"<p>(unsmudgecell\d+x)</p>")
FORMULA_MARK = re.compile(r'<unsmudge-formula n="(\d+)"></unsmudge-formula>')
BARE_ENVIRONMENT = re.compile(r"\\(?:begin|end)\{[^}]*\}(?:\{[^}]*\})?")
HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
LABEL_ID = re.compile(r'<mtr id="([^"]+)"')  # a numbered equation's \label, as Temml writes it


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
    attachments: dict[str, Path] = field(default_factory=dict)  # site path -> file of the content folder


@dataclass
class Draft:
    """A page converted but for its formulas (marks where they go): what a forked worker sends back."""

    html: str
    toc: list[dict]
    demos: list[str]
    formulas: list[Formula]
    problems: list[Problem]
    anchors: list[tuple[str, str, str, str]]
    attachments: dict[str, Path]


def _demo_fence(source, language, class_name, options, md, **kwargs) -> str:
    demo_id = source.strip()
    md.unsmudge_demos.append(demo_id)
    # replaced by the rendered partial once the page's relative URLs are known
    return f'<div data-unsmudge-demo="{demo_id}"></div>'


def _pipeline_fence(source, language, class_name, options, md, **kwargs) -> str:
    try:
        return diagram.render(source)
    except ValueError as err:
        md.unsmudge_fence_problems.append(("pipeline", source, str(err)))
        return ""


class InlinePatternsInOrder(InlineProcessor):
    """Python-Markdown's inline processor, reading its patterns from a tuple: the registry sorts and type-checks
    on each of the about 700 lookups a lesson makes (4 % of its conversion)."""

    def run(self, tree, ancestors=None):
        self.inlinePatterns = tuple(self.md.inlinePatterns)
        return super().run(tree, ancestors)


class LessonMarkdown(markdown.Markdown):
    """Python-Markdown made quicker, the same HTML: block-level tag names looked up in a set, not in a list of 59
    (2 % of a lesson's conversion; extensions add to the list while it is set up, none later); the block parser
    `BlockParserInOrder`, the inline processor `InlinePatternsInOrder`; the regexes of QUICKER_INLINE; and the
    toc extension's walk for a [TOC] marker (2 %) only in a text that writes one."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.block_names = frozenset(self.block_level_elements)
        self.treeprocessors.register(InlinePatternsInOrder(self), "inline", 20)  # in place of the original
        for name, (theirs, ours) in QUICKER_INLINE.items():
            pattern = self.inlinePatterns[name]
            if pattern.compiled_re.pattern == theirs:  # a Python-Markdown with other regexes keeps its own
                pattern.compiled_re = re.compile(ours, pattern.compiled_re.flags)

    def is_block_level(self, tag) -> bool:
        return isinstance(tag, str) and tag.lower().rstrip("/") in self.block_names

    def build_parser(self) -> LessonMarkdown:
        super().build_parser()
        self.parser.__class__ = BlockParserInOrder  # the same parser, but for the one method
        return self

    def convert(self, source: str) -> str:
        self.treeprocessors["toc"].marker = "[TOC]" if "[TOC]" in source else ""
        return super().convert(source)


class BlockParserInOrder(BlockParser):
    """Python-Markdown's block parser, reading its processors from a tuple made once per call, not from the
    registry for each block (which sorts and copies it: 3 % of a lesson's conversion)."""

    def parseBlocks(self, parent: etree.Element, blocks: list[str]) -> None:
        processors = tuple(self.blockprocessors)
        while blocks:
            for processor in processors:
                if processor.test(parent, blocks[0]) and processor.run(parent, blocks) is not False:
                    break


class CodeFormatter(highlight.BlockHtmlFormatter):
    """pymdownx's code block formatter, its stylesheet made once per style: Pygments remakes it for every
    code block (4 % of a lesson's conversion), from the same style each time."""

    stylesheets: dict = {}  # (style, class prefix) -> (ttype2class, class2style), never changed once made

    def _create_stylesheet(self):
        key = (self.style, self.classprefix)
        if key not in self.stylesheets:
            super()._create_stylesheet()
            self.stylesheets[key] = self.ttype2class, self.class2style
        self.ttype2class, self.class2style = self.stylesheets[key]


highlight.BlockHtmlFormatter = CodeFormatter  # pymdownx looks its formatter up for each code block


class DisplayFormulaLines(BlockProcessor):
    """A `$$` formula, or a `\\begin{env}...\\end{env}` (MathJax takes one anywhere), on lines of its own within
    a paragraph, or indented by one to three spaces (as Jupyter and GitHub show it, and as notebooks and
    moved-in courses write it), made a block of its own: arithmatex reads display math only from a block that
    is nothing else. An environment inside a `$...$` formula stays where it is."""

    FORMULA = re.compile(r"^[ ]{0,3}(?:\$\$(?:(?!\$\$).)+?\$\$|\\begin\{([a-z]+\*?)\}.*?\\end\{\1\})[ ]*$",
                         re.M | re.S)

    def _found(self, block: str) -> re.Match | None:
        if "$$" not in block and "\\begin{" not in block:  # most blocks: skip the regex, tried at each line
            return None
        for found in self.FORMULA.finditer(block):
            if not found[1] or len(re.findall(r"(?<!\\)\$", block[:found.start()])) % 2 == 0:
                return found
        return None

    def test(self, parent, block) -> bool:
        found = self._found(block)
        return bool(found) and not (found.start() == 0 and found.end() == len(block) and block[:1] != " ")

    def run(self, parent, blocks) -> bool:
        block = blocks.pop(0)
        found = self._found(block)
        parts = [block[:found.start()].rstrip("\n"), found[0].lstrip(" "), block[found.end():].lstrip("\n")]
        blocks[0:0] = [part for part in parts if part.strip()]
        return False  # not done: the blocks go on to the processors after this one (arithmatex, paragraphs)


# arithmatex's smart dollars ($ next to a space opens or closes nothing) with Pandoc's rule, which Quarto and
# R Markdown follow: a closing $ followed by a digit closes nothing ("US$5 and US$6", "$5-$10"); and a $ next
# to another opens or closes nothing, so `$$x$$` within a line is not read as $x$ between two dollars
TIGHT = r"(?!\s)(?:\\.|[^\\$\x02\x03])+?(?<!\s)"
# `$ \mathbf{x} $`, spaces (or line breaks) inside the dollars, as KaTeX's auto-render (Material for MkDocs)
# and Jupyter's MathJax typeset it: taken when TeX (a \command, ^ or _) is inside and no digit follows the
# opening $, so "$5 and $10" and "$10 \times 3" stay text
SPACED = r"(?!\d)(?=[^$]*?(?:\\[A-Za-z]|[\^_]))(?:\\.|[^\\$\x02\x03])+?"
DOLLAR_FORMULA = rf"(?:(?<!\\)((?:\\{{2}})+)(?=\$)|(?<![\\$])(\$)({TIGHT}|{SPACED})\$(?![\d$]))"
# as arithmatex joins its own; every branch starts with \ or $, and saying so first lets `re` skip the rest of a
# text, where it would try each branch's lookbehind at every position (6 % of a lesson's conversion)
INLINE_FORMULA = rf"(?=[\\$])(?:{DOLLAR_FORMULA}|{arithmatex.RE_BRACKET_INLINE})"
# Python-Markdown's regexes (theirs, ours) that start with a lookbehind, written to start with the character they
# need, which `re` then searches for; the same matches (4 % of a lesson's conversion)
QUICKER_INLINE = {
    "backtick": (inlinepatterns.BACKTICK_RE, r"(?=[\\`])" + inlinepatterns.BACKTICK_RE),
    **{name: (inlinepatterns.LINK_RE, r"\[(?<!!\[)") for name in ("reference", "link", "short_reference")},
}
# TeX that no formula took, in the text of a page: the reader would see it raw
RAW_TEX = [
    (re.compile(r"^[ \t]*\$\$[ \t]*$", re.M),
     "a '$$' on a line of its own opens a display formula that no '$$' closes: it is shown as text",
     "close it with '$$' on a line of its own; a display formula may not contain a blank line"),
    (re.compile(r"\$\$(?=\S)[^$\n]*?(?<=\S)\$\$"),
     "a '$$' formula within a line of text is not typeset",
     "put the '$$' lines on lines of their own for a display formula, or write $...$ for an inline one"),
    (re.compile(r"\\(?:begin|end)\{[A-Za-z]+\*?\}"),
     "TeX outside any formula is shown as text",
     "write the formula between '$$' lines, or between $ and $ within a line, each \\begin{...} with its "
     "\\end{...} and no blank line inside; to show TeX as code, put it between backticks"),
]


class FormulaMarks(Treeprocessor):
    """Takes each formula arithmatex found out of the tree, leaving a mark where its MathML goes; TeX left in
    the page's text (an unclosed `$$`, a lone \\begin{...}) is a problem."""

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
        self._raw_tex(root)

    def _raw_tex(self, element: etree.Element) -> None:
        if element.tag not in ("code", "pre"):  # code shows TeX on purpose
            self._check(element.text)
            for child in element:
                self._raw_tex(child)
        # not recursing from a child: its tail is its parent's text
        for child in element:
            self._check(child.tail)

    def _check(self, text: str | None) -> None:
        if text and ("$$" in text or "\\" in text):
            for pattern, message, fix in RAW_TEX:
                for found in pattern.finditer(text):
                    # up to three lines either side: how its place in the file is told from the TeX's other uses
                    before = [line.strip() for line in text[:found.start()].split("\n")[-3:] if line.strip()]
                    after = [line.strip() for line in text[found.end():].split("\n")[:3] if line.strip()]
                    self.md.unsmudge_raw_tex.append((found[0].strip(), before, after, message, fix))


class LinkRules(Treeprocessor):
    """Rewrites lesson links to pages and file paths to the site's, in the markdown and in its raw HTML,
    and records what is broken (marked as raw_html marks it, for a --keep-going site)."""

    def __init__(self, md, renderer: "LessonRenderer"):
        super().__init__(md)
        self.renderer = renderer

    def run(self, root: etree.Element) -> None:
        for element in list(root.iter()):
            if element.tag == "table":
                element.set("tabindex", "0")  # it scrolls sideways on a narrow screen: keyboard users too
            # the same rules as raw HTML: links, resources, what the CSP forbids (a heading's own permalink,
            # the toc extension's, needs no check)
            if element.attrib and element.get("class") != "headerlink":
                before = list(element.items())
                new = raw_html.rewritten(element.tag, before, self.renderer)
                if new is not None:
                    element.attrib = dict(new)
                    _mark(element, raw_html.broken(element.tag, before, new))
        # raw HTML (blocks and inline tags) waits in the stash until the tree is written out
        stash = self.md.htmlStash.rawHtmlBlocks
        for index, block in enumerate(stash):
            if isinstance(block, str):
                stash[index] = raw_html.rewrite(block, self.renderer)


class FootnoteBackLinks(Treeprocessor):
    """Drops the back-link Python-Markdown gives a footnote that the text never cites: it would point at a
    reference that does not exist (and be reported as a broken anchor of the build's own making)."""

    def run(self, root: etree.Element) -> None:
        ids = {element.get("id") for element in root.iter() if element.get("id")}
        dangling = [(parent, child) for parent in root.iter() for child in parent
                    if child.get("class") == "footnote-backref" and (child.get("href") or "#")[1:] not in ids]
        for parent, child in dangling:
            _remove(parent, child)


class JupyterHeadingIds(Treeprocessor):
    """In a notebook lesson, each heading also answers to the id Jupyter gives it (its text, spaces made '-',
    case kept): a notebook's own contents cell links `#The-main-steps`, where the page's id is `the-main-steps`."""

    def run(self, root: etree.Element) -> None:
        if not self.md.unsmudge_notebook:
            return
        ids = {element.get("id") for element in root.iter() if element.get("id")}
        for heading in root.iter():
            if heading.tag in HEADINGS and heading.get("id"):
                jupyter = _heading_text(heading).strip().replace(" ", "-")
                if jupyter and jupyter not in ids:
                    ids.add(jupyter)
                    anchor = etree.Element("span", {"id": jupyter})
                    anchor.tail, heading.text = heading.text, None
                    heading.insert(0, anchor)


class NotebookTitle(Treeprocessor):
    """A notebook's first heading, when it is a level-1 heading saying the lesson's title (case and surrounding
    spaces aside), is left out: the page shows the title above the body, and would show it twice."""

    def run(self, root: etree.Element) -> None:
        if not self.md.unsmudge_notebook:
            return
        first = next((child for child in root if child.tag in HEADINGS), None)
        title = self.md.unsmudge_notebook.meta.title.strip().casefold()
        if first is not None and first.tag == "h1" and _heading_text(first).strip().casefold() == title:
            _remove(root, first)


def _heading_text(heading: etree.Element) -> str:
    """A heading's words, without the permalink the toc extension adds."""
    parts = [heading.text or ""]
    for child in heading:
        if child.get("class") != "headerlink":
            parts.append("".join(child.itertext()))
        parts.append(child.tail or "")
    return "".join(parts)


def _remove(parent: etree.Element, child: etree.Element) -> None:
    """Takes `child` out of `parent`, keeping the text that follows it."""
    index = list(parent).index(child)
    if child.tail:
        if index:
            parent[index - 1].tail = (parent[index - 1].tail or "") + child.tail
        else:
            parent.text = (parent.text or "") + child.tail
    parent.remove(child)


def _mark(element: etree.Element, mark: str | None) -> None:
    """A broken link keeps its text behind the mark; a missing picture becomes the mark and its alt text."""
    if mark is None:
        return
    badge = etree.fromstring(raw_html.MARK.format(mark))
    if mark == raw_html.MISSING_PICTURE:
        alt, tail = element.get("alt") or "", element.tail
        element.clear()
        element.tag, element.tail = "span", tail
        element.set("class", "broken-picture")
        badge.tail = f" {alt}"
    else:
        element.attrib = dict(raw_html.with_class(list(element.items()), "broken-link"))
        badge.tail, element.text = f" {element.text or ''}", None
    element.insert(0, badge)


class LessonRenderer:
    def __init__(self, content_dir: Path, lesson_ids: set[str], macros: dict[str, str] | None = None,
                 page_ids: set[str] = frozenset()):
        self.content_dir = Path(content_dir).resolve()
        self.macros = macros or {}
        self.lessons_dir, self.pages_dir = self.content_dir / "lessons", self.content_dir / "pages"
        self.lesson_ids, self.page_ids = lesson_ids, page_ids
        self.files_by_name: dict[str, list[Path]] | None = None  # the content folder's files, for near misses
        # extension objects, not names: a name is looked up among every installed package's entry points
        self.md = LessonMarkdown(
            extensions=[
                attr_list.makeExtension(), footnotes.makeExtension(), md_in_html.makeExtension(),
                # align="center", not style="text-align: center": the CSP forbids inline styles
                tables.makeExtension(use_align_attribute=True), admonition.makeExtension(),
                toc.makeExtension(permalink="¶", permalink_title="Link to this section", toc_depth="2-3"),
                # $...$, \(...\), $$...$$, \[...\] and \begin{env}: the syntax of Material for MkDocs
                math := arithmatex.makeExtension(generic=True),
                details.makeExtension(),
                # CSS classes, not inline styles: the CSP forbids inline styles
                highlight.makeExtension(use_pygments=True, css_class="highlight", noclasses=False),
                superfences.makeExtension(custom_fences=[
                    {"name": "demo", "class": "demo", "format": _demo_fence},
                    {"name": "pipeline", "class": "pipeline", "format": _pipeline_fence},
                ]),
                tabbed.makeExtension(alternate_style=True),
            ],
            output_format="html",
        )
        # "2. Step" after a list that ended (a block not indented by four spaces) starts at 2, as on GitHub
        self.md.parser.blockprocessors["olist"].LAZY_OL = False
        self.md.inlinePatterns.register(arithmatex.InlineArithmatexPattern(INLINE_FORMULA, math.getConfigs()),
                                        "arithmatex-inline", 189.9)  # in place of arithmatex's own
        # before arithmatex's display blocks (79.9), after indented code (80)
        self.md.parser.blockprocessors.register(DisplayFormulaLines(self.md.parser), "unsmudge-display-formulas", 79.95)
        self.md.treeprocessors.register(FormulaMarks(self.md), "unsmudge-formulas", 15)  # after inline (20)
        self.md.treeprocessors.register(FootnoteBackLinks(self.md), "unsmudge-footnote-back-links", 2)
        self.md.treeprocessors.register(JupyterHeadingIds(self.md), "unsmudge-jupyter-heading-ids", 1.5)
        self.md.treeprocessors.register(NotebookTitle(self.md), "unsmudge-notebook-title", 1.4)
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

    def convert(self, lesson) -> tuple[Converted, list[Problem]]:
        """One page on its own, formulas included (a build drafts every page first: `draft`, `finish`)."""
        draft = self.draft(lesson)
        typesetter = formulas.Typesetter(self.macros)
        typesetter.add(draft.formulas)
        typesetter.finish()
        return self.finish(lesson, draft, typesetter)

    # the lesson being converted, and what its conversion found
    def draft(self, lesson) -> Draft:
        """The markdown converted, links checked; its formulas listed, each marked where it goes."""
        self.lesson, self.problems, self.anchors, self.attachments = lesson, [], [], {}
        self.asked: collections.Counter[str] = collections.Counter()  # for `line`
        self.folder = lesson.path.parent.resolve()  # links are relative to the lesson's file
        self.md.reset()
        self.md.unsmudge_demos, self.md.unsmudge_formulas, self.md.unsmudge_fence_problems = [], [], []
        self.md.unsmudge_raw_tex = []
        self.md.unsmudge_notebook = lesson if lesson.notebook else None  # for the notebook's own rules
        html = self.md.convert(lesson.body)
        if lesson.notebook:  # each code cell and its outputs, made by unsmudge.notebook
            html = NOTEBOOK_CELL.sub(lambda m: lesson.notebook.inserts[m[1]], html)
        # code scrolls sideways on a narrow screen, so keyboard users must be able to focus it
        html = html.replace('<div class="highlight"><pre>', SCROLLABLE_PRE)
        for language, source, message in self.md.unsmudge_fence_problems:
            self.problems.append(Problem(display_path(lesson.path), fence_line(lesson, language, source), message,
                                         "write one row of boxes per line, 'Prompt -> Encoder -> Picture', "
                                         "or remove the fence"))
        taken: set[int] = set()  # lines already reported: two alike unclosed blocks are two problems
        for written, before, after, message, fix in self.md.unsmudge_raw_tex:
            shown = "" if written == "$$" else f": {_shorten(written)}"
            self.problems.append(Problem(display_path(lesson.path), line_among(lesson, written, before, after, taken),
                                         message + shown, fix))
        toc = [{"level": t["level"], "id": t["id"], "name": t["name"]} for t in _flatten(self.md.toc_tokens)]
        return Draft(html, toc, list(self.md.unsmudge_demos), self.md.unsmudge_formulas, self.problems,
                     self.anchors, self.attachments)

    def finish(self, lesson, draft: Draft, typesetter: formulas.Typesetter) -> tuple[Converted, list[Problem]]:
        """The drafted page with its formulas, once `typesetter` has typeset them (`Typesetter.finish`)."""
        self.lesson, self.problems, self.asked = lesson, list(draft.problems), collections.Counter()
        html, styles = self._typeset(draft.html, draft.formulas, typesetter)
        converted = Converted(html, draft.toc, _ids(html), draft.demos, _plain_text(html), bool(draft.formulas),
                              styles, draft.anchors, draft.attachments)
        return converted, self.problems

    def _typeset(self, html: str, found: list[Formula], typesetter: formulas.Typesetter) -> tuple[str, set[str]]:
        """The page's formulas as MathML in place of their marks; a formula Temml rejects is a problem."""
        if not found:
            return html, set()
        typeset = typesetter.page(found)
        for index, message in sorted(typeset.errors.items()):
            tex = found[index].tex
            if "only in display mode" in message:  # $\begin{align*}...$, as notebooks write it
                fix = "write it between '$$' lines, as a display formula, not between single dollars"
            else:
                used = [f"\\{name}" for name in self.macros if re.search(rf"\\{name}(?![A-Za-z])", tex)]
                fix = ("fix the TeX (Temml's supported functions: https://temml.org/docs/en/supported), "
                       + (f"or the course macros it uses ({', '.join(used)}) under [math.macros] in course.toml"
                          if used else "or define the macro under [math.macros] in course.toml"))
            self.problem(_telling_line(tex), f"formula ${_shorten(tex)}$ cannot be typeset: {message}", fix)
            # marked where it is, like a broken link (a --keep-going site): a display formula stays a block
            shown = raw_html.MARK.format(raw_html.FORMULA_ERROR) + f" <code>{html_lib.escape(tex)}</code>"
            typeset.html[index] = (f'<p class="math-error">{shown}</p>' if found[index].display
                                   else f'<span class="math-error">{shown}</span>')
        for index, message in sorted(typeset.references.items()):
            self.problem(_telling_line(found[index].tex), message,
                         "write the \\label in a numbered equation (\\begin{equation}, align or gather; not $$...$$ "
                         "alone or a starred environment), or correct the name")
        page = FORMULA_MARK.sub(lambda m: typeset.html[int(m[1])], html)
        self._clashing_labels(page, found, typeset.html)
        return page, typeset.styles

    def _clashing_labels(self, page: str, found: list[Formula], typeset: list[str]) -> None:
        """An equation's label is an id of the page: another element with that id (a heading, another label)
        would take its links."""
        if "<mtr id=" not in page:
            return
        ids = collections.Counter(_id_list(page))
        texs = [f.tex for f in found]
        for index, html in enumerate(typeset):
            for label_id in LABEL_ID.findall(html):
                if ids[label_id] > 1:
                    label = formulas.written_label(texs, "label", label_id)
                    self.problem(_telling_line(found[index].tex),
                                 f"the label '{label}' makes the id '{label_id}', which another element of this "
                                 f"page has too (a heading or another label): links to #{label_id} reach the first",
                                 "give the equation a label of its own on this page (of a label, only letters, "
                                 "digits, - and _ are kept)")

    def line(self, written: str) -> str:
        """The line of `written`: the next of its lines each time it is asked for (a missing file used on
        three lines is three problems, each at its line: pages are converted in the order they are written)."""
        occurrence = self.asked[written]
        self.asked[written] += 1
        return line_of(self.lesson, written, occurrence)

    def problem(self, written: str, message: str, fix: str) -> None:
        where = self.line(written)
        if self.lesson.notebook:  # a notebook's stored output is mended by re-running it, not on a line
            fix = self.lesson.notebook.fix(where, fix)
        self.problems.append(Problem(display_path(self.lesson.path), where, message, fix))

    # link, resource and attachment return the URL to write, or None when it is broken (a problem is reported)
    def link(self, href: str) -> str | None:
        """The URL to write for a link: a lesson's page, an anchor, a file of the content folder, or the web."""
        parts = urlsplit(href)
        if parts.scheme in ("http", "https", "mailto", "tel"):
            return href
        if not href.strip():  # [Code]() or <a href="">: a placeholder left in
            self.problem("]()" if "]()" in self.lesson.body else 'href=""', "link has no target",
                         "write the lesson, file or web address it should go to between the brackets, or remove "
                         "the link")
            return None
        if parts.scheme or parts.netloc or href.startswith("/"):
            self.problem(href, f"link '{href}' is absolute", "link to a lesson as 'other-lesson.md' or to a file "
                         "by its path relative to the lesson; external links need http(s)://")
            return None
        if not parts.path:  # "#fragment" within this lesson
            self.anchors.append((self.lesson.id, parts.fragment, href, self.line(href)))
            return href
        page = self._page_of(parts.path)
        if page is not None:
            kind, folder, page_id = page
            known = self.lesson_ids if kind == "lesson" else self.page_ids
            if page_id not in known:
                self.problem(href, f"broken link '{href}': no {kind} '{page_id}'",
                             self._folder_lesson(parts.path)
                             or self._nearest_page(parts.path, page_id, known, self.content_dir / folder)
                             or f"link to an existing {kind}'s file in {folder}/")
                return None
            if parts.fragment:
                self.anchors.append((page_id, parts.fragment, href, self.line(href)))
            return f"{page_id}.html" + (f"#{parts.fragment}" if parts.fragment else "")
        if parts.path.endswith(".html") and PurePosixPath(parts.path).stem in self.lesson_ids:
            fragment = f"#{parts.fragment}" if parts.fragment else ""
            self.problem(href, f"link '{href}' names a page of the built site",
                         f"link to the lesson's file, '{PurePosixPath(parts.path).stem}.md{fragment}'")
            return None
        return self.attachment(href)

    @staticmethod
    def _nearest_page(path: str, page_id: str, known: set[str], folder: Path) -> str | None:
        """A misspelt lesson or page id (a typo: 'perceptorn'; '05.06-Linear-Regression' for
        '05-06-linear-regression'), or part of longer ones ('attention' for 'additive-attention'): the link as
        written, with those names and their files' own suffix (.md or .ipynb). Two ids that share a word
        ('missing-lesson', 'first-lesson') are not near."""
        wanted = page_id.casefold()
        close = [k for k in sorted(known) if wanted in k.casefold()][:3] if len(wanted) >= 3 else []
        if not close:  # case and punctuation aside
            loose = {_loose(k): k for k in sorted(known, reverse=True)}
            close = [loose[k] for k in difflib.get_close_matches(_loose(page_id), sorted(loose), n=1, cutoff=0.8)]
        name = PurePosixPath(path).name
        suffix = lambda k: ".ipynb" if (folder / f"{k}.ipynb").is_file() else ".md"  # noqa: E731
        named = [f"'{path[:-len(name)]}{k}{suffix(k)}'" for k in close]
        return f"did you mean {' or '.join(named)}?" if named else None

    def _folder_lesson(self, path: str) -> str | None:
        """A link to `folder/`, `folder/README.md` or `folder/index.md` (a GitHub or MkDocs habit): the
        lesson or page whose id is the folder's name, case, punctuation and a leading number aside (or very near it)."""
        written = PurePosixPath(unquote(path))
        if path.endswith("/") or not written.suffix:
            folder = written.name
        elif written.stem.lower() in ("readme", "index"):
            folder = written.parent.name
        else:
            return None
        files = {page_id: self.lessons_dir / f"{page_id}.md" for page_id in self.lesson_ids}
        files.update({page_id: self.pages_dir / f"{page_id}.md" for page_id in self.page_ids})
        by_key = {_name_key(page_id): page_id for page_id in sorted(files, reverse=True)}  # the first id wins
        key = _name_key(folder)
        close = difflib.get_close_matches(key, sorted(by_key), n=1, cutoff=0.8)  # 'code' is not 'course'
        match = key if key in by_key else next(iter(close), None)
        if not key or match is None:
            return None
        link = Path(os.path.relpath(files[by_key[match]], self.folder)).as_posix()
        return f"did you mean '{link}'? (no lesson is named after the folder '{folder}'; this one is nearest)"

    def resource(self, src: str) -> str | None:
        """The URL to write for something the page loads (an image, a video): a file of the content folder."""
        parts = urlsplit(src)
        if parts.scheme == "data":
            return src
        if parts.scheme or parts.netloc:
            self.problem(src, f"'{src}' would be loaded from another host", "download it into the content folder "
                         "(media/ for pictures and sound) and refer to it by a path relative to the lesson")
            return None
        return self.attachment(src, loaded=True)

    def attachment(self, written: str, loaded: bool = False) -> str | None:
        """A file of the content folder, by its path relative to the lesson (one the page loads, such as a
        picture, or one it links to): copied into the site under its path in the content folder (so its URL
        never changes), after these checks."""
        parts = urlsplit(written)
        target = Path(os.path.normpath(self.folder / unquote(parts.path)))
        if not target.is_relative_to(self.content_dir):
            self.problem(written, f"'{written}' leaves the content folder", "copy the file into the content folder "
                         "(media/ for pictures and sound) and refer to it by a path relative to the lesson")
            return None
        rel = target.relative_to(self.content_dir).as_posix()
        if any(part.startswith(".") for part in rel.split("/")):
            self.problem(written, f"'{written}' is a hidden file", "move it out of the hidden folder")
            return None
        if not target.is_file():
            folder = target.is_dir() or parts.path.endswith("/")
            near = self._folder_lesson(parts.path) if folder else self._moved(target)
            example = "'../media/picture.png'" if loaded else "'../code/train.py'; or remove a link whose target " \
                                                              "is still to come"
            self.problem(written, f"'{written}' is not a file in the content folder",
                         near or f"check the path: it is relative to the lesson's file, e.g. {example}")
            return None
        if "/" not in rel or rel.split("/")[0] in SITE_FOLDERS:
            self.problem(written, f"'{rel}' would take the place of a file the site makes itself",
                         "move it into a folder of its own, e.g. files/")
            return None
        self.attachments[rel] = target
        # the query and fragment as written: a static host and file:// ignore the query, and keep the file
        query, fragment = (f"?{parts.query}" if parts.query else ""), (f"#{parts.fragment}" if parts.fragment else "")
        return quote(rel) + query + fragment

    def _moved(self, target: Path) -> str | None:
        """A file of the same name elsewhere in the content folder (moved, or its name's case differs)."""
        if self.files_by_name is None:  # walked once per build, and only when a file is missing
            self.files_by_name = {}
            for folder, subfolders, names in os.walk(self.content_dir):
                subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
                for name in sorted(names):
                    self.files_by_name.setdefault(name.casefold(), []).append(Path(folder) / name)
        found = self.files_by_name.get(target.name.casefold(), [])
        if not found:
            return None
        links = [f"'{Path(os.path.relpath(path, self.folder)).as_posix()}'" for path in found[:3]]
        return f"did you mean {' or '.join(links)}?"

    def _page_of(self, path: str) -> tuple[str, str, str] | None:
        """("lesson" or "page", its folder, id) when `path` names a lesson's or page's file (a .md anywhere,
        or a notebook in lessons/ or pages/): such a link goes to its page."""
        if "/" not in path and path.endswith(".md") and self.folder == self.lessons_dir:
            return "lesson", "lessons", unquote(path)[:-3]  # the usual 'other-lesson.md': no file system
        target = PurePosixPath(os.path.normpath(self.folder / unquote(path)))
        folder = {str(self.lessons_dir): "lessons", str(self.pages_dir): "pages"}.get(str(target.parent))
        if folder and target.suffix in (".md", ".ipynb"):
            return ("lesson" if folder == "lessons" else "page"), folder, target.stem
        if target.suffix == ".md":
            return "lesson", "lessons", target.stem
        return None


def line_of(lesson: Lesson, written: str, occurrence: int = 0) -> str:
    """The line of the lesson's file where `written` appears (links keep no source position) for the
    `occurrence`-th time from 0 (the last time past them); else where it appears in another case (HTML's
    names are case-blind: the parser reports ONCLICK= as onclick=)."""
    text = lesson.body
    if written not in text:  # one search of the whole text first: most links asked about are not there
        text, written = text.casefold(), written.casefold()
        if written not in text:
            return ""
    lines = text.split("\n")
    found = [number for number, line in enumerate(lines) if written in line]
    if occurrence:  # a line that has it twice counts twice
        found = [number for number in found for _ in range(lines[number].count(written))]
    return lesson.where(found[min(occurrence, len(found) - 1)]) if found else ""


def line_among(lesson: Lesson, written: str, before: list[str], after: list[str], taken: set[int]) -> str:
    """The line where `written` appears among the lines around it, `before` and `after` (up to three each, in
    order, as the page's text has them): of the lines that have `written` and are not `taken`, the one whose
    neighbours match most of them, each in its place (the first on a tie). It is added to `taken`."""
    lines = lesson.body.split("\n")

    def fit(number: int) -> int:  # how many of the lines around it are where the page's text has them
        line, at = lines[number], lines[number].index(written)
        following = [part.strip() for part in [line[at + len(written):]] + lines[number + 1:number + 6] if part.strip()]
        preceding = [part.strip() for part in [line[:at]] + lines[max(number - 5, 0):number][::-1] if part.strip()]
        return (sum(k < len(following) and text in following[k] for k, text in enumerate(after))
                + sum(k < len(preceding) and text in preceding[k] for k, text in enumerate(before[::-1])))

    found = [number for number, line in enumerate(lines) if written in line and number not in taken]
    if not found:
        return line_of(lesson, written)
    best = max(found, key=lambda number: (fit(number), -number))
    taken.add(best)
    return lesson.where(best)


FENCE_OPEN = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*\{?\.?([\w+#-]+)")


def fence_line(lesson: Lesson, language: str, source: str) -> str:
    """The line of the first `language` fence holding `source` (fences keep no source position)."""
    lines = lesson.body.split("\n")
    wanted = [line.strip() for line in source.strip().split("\n")] if source.strip() else []
    for number, line in enumerate(lines):
        opened = FENCE_OPEN.match(line)
        if not opened or opened[2] != language:
            continue
        content = []
        for inner in lines[number + 1:]:
            if inner.strip().startswith(opened[1]):
                break
            content.append(inner.strip())
        while content and not content[-1]:
            content.pop()
        if content == wanted:
            return lesson.where(number)
    return ""


def check_anchors(path_of: dict[str, Path], converted: dict[str, Converted]) -> list[Problem]:
    """Every `#fragment` link in the lessons of `path_of` must name an id in its target page (checked
    once all pages exist; a lesson that could not be read is not checked against)."""
    problems = []
    for source_id, source_path in path_of.items():
        for target_id, fragment, written, where in converted[source_id].anchors:
            if target_id in converted and fragment not in converted[target_id].ids:
                near = sorted(i for i in converted[target_id].ids if _loose(i) == _loose(fragment))
                problems.append(Problem(
                    display_path(source_path), where,
                    f"broken anchor '{written}': lesson '{target_id}' has no heading or id '{fragment}'",
                    f"did you mean '{written[:-len(fragment)]}{near[0]}'? (ids are lowercase, words joined by '-')"
                    if near else "use one of its heading ids: " + (", ".join(t["id"] for t in converted[target_id].toc)
                                                                   or "(it has no headings)")))
    return problems


def _ids(html: str) -> set[str]:
    return set(_id_list(html))


def _id_list(html: str) -> list[str]:
    """The page's ids in order, a repeated one as often as it is given, as links name them ('a&b', not
    'a&amp;b'). A plain search for 'id="' and a look at the character before it: 20 times faster than a regex
    starting with \\b, which is tried at every position."""
    found = []
    for match in IDS.finditer(html):
        before = html[match.start() - 1] if match.start() else " "
        if not (before.isalnum() or before == "_"):
            found.append(html_lib.unescape(match[1]))
    return found


def _loose(name: str) -> str:
    """A name with case and punctuation gone: '#Dropout' and 'drop_out' both become 'dropout'."""
    return re.sub(r"[\W_]+", "", name.casefold())


def _name_key(name: str) -> str:
    """A folder's or file's name without its ordering number: '03-Dropout' -> 'dropout'."""
    return _loose(re.sub(r"^\d+(?=[\W_])", "", name))


def _telling_line(tex: str) -> str:
    """The formula's first line that tells it from others: not a bare \\begin{...} (problems find their line
    by it)."""
    lines = [line.strip() for line in tex.split("\n") if line.strip()] or [""]
    return next((line for line in lines if not BARE_ENVIRONMENT.fullmatch(line)), lines[0])


def _shorten(tex: str, limit: int = 60) -> str:
    flat = " ".join(tex.split())
    return flat if len(flat) <= limit else flat[:limit - 3] + "..."


def _flatten(tokens: list[dict]) -> list[dict]:
    out = []
    for token in tokens:
        out.append(token)
        out += _flatten(token.get("children", []))
    return out


_TAGS = re.compile(r"<(?:(script|style|svg)\b.*?</\1>|[^>]+>)", re.S)  # "<" first: searched for, not tried everywhere


def _plain_text(html: str) -> str:
    return " ".join(html_lib.unescape(_TAGS.sub(" ", html)).split()).replace("¶", "").strip()
