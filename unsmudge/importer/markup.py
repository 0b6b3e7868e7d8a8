"""Markdown structure the import needs without rendering: code masked out, link destinations, the first
heading, the lead paragraph, and plain text for titles and descriptions.

Code blocks, code spans and HTML comments are masked (replaced by spaces, newlines kept, so offsets
still match the text) before anything is looked for: a link written in a code sample stays as written.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from markdown.extensions.toc import slugify

FENCE = re.compile(r"^[ \t>]*(?:(?:[-*+]|\d+[.)])[ \t]+)?(`{3,}|~{3,})")  # also in a quote or list item
CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(?:(?!\n[ \t]*\n).)+?(?<!`)\1(?!`)", re.S)  # within a paragraph
COMMENT = re.compile(r"<!--.*?-->", re.S)

# destinations: inline links and images `](dest "title")`, reference definitions `[id]: dest`, and the
# src/href/poster attributes of raw HTML tags
# (Python-Markdown takes spaces in a destination, and one level of parentheses, before an optional title)
INLINE = re.compile(r"\]\([ \t]*(<[^<>\n]*>|[^()\n]*?(?:\([^()\n]*\)[^()\n]*?)*)"
                    r"(?:[ \t]+(?:\"[^\"\n]*\"|'[^'\n]*'))?[ \t]*\)")
REFERENCE = re.compile(r"^[ \t]*\[(?!\^)[^\]\n]+\]:[ \t]*(<[^<>\n]*>|\S+)", re.M)
TAG = re.compile(r"<[A-Za-z][\w-]*\s[^<>]*>")
ATTRIBUTE = re.compile(r"""\b(?:src|href|poster)\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.I)

# images loaded from another host: `![alt](https://...)` and `<img ... src="https://...">`
REMOTE_IMAGE = re.compile(r"!\[((?:[^\[\]\n]|\[[^\]\n]*\])*)\]\([ \t]*(?:<https?://[^<>\n]*>|https?://[^\s)]*)"
                          r"(?:[ \t]+(?:\"[^\"]*\"|'[^']*'))?[ \t]*\)"
                          r"|<img\b[^<>]*?\bsrc\s*=\s*[\"']https?://[^<>]*>", re.I)
STYLE = re.compile(r"""\s+style\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'>]+)""", re.I)
ALT = re.compile(r"""\balt\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.I)

# GitHub's formulas: ```math fences, $$...$$ and $...$ (the dollar hugging the formula)
MATH_FENCE = re.compile(r"^([ \t]*)(`{3,}|~{3,})[ \t]*math[ \t]*\n(.*?)^[ \t]*\2[ \t]*$", re.M | re.S)
GITHUB_FORMULA = re.compile(r"\$\$.+?\$\$|(?<![\\$])\$(?=\S)[^$\n]+?(?<=\S)\$", re.S)
ESCAPED_BRACKET = re.compile(r"\\[()\[\]]")
# a raw HTML element at the start of a line, which Python-Markdown keeps as written up to its end tag, and the
# elements inside it that can hold text (where `markdown="1"` lets the build read their markdown)
HTML_ELEMENT = re.compile(r"^ {0,3}<([A-Za-z][\w-]*)\b[^<>]*>", re.M)
CONTAINER = re.compile(r"<(?:div|p|center|table|thead|tbody|tr|td|th|details|summary|blockquote|section|figure|"
                       r"figcaption|ul|ol|li|dl|dt|dd|h[1-6])\b(?![^<>]*\bmarkdown\s*=)[^<>]*?(?<!/)(?=>)", re.I)

ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
ATTR_LIST = re.compile(r"[ \t]*\{:?([^}]*)\}[ \t]*$")
# a paragraph does not start with these: headings, quotes, tables, HTML, admonitions, tabs, lists,
# images, fences, math blocks, rules, footnotes, snippets, attribute lists
NOT_PROSE = re.compile(r"^[ \t]*(#|>|\||<|!!!|\?\?\?|===|!\[|\[!|```|~~~|\$\$|\\\[|[-*+][ \t]|\d+[.)][ \t]|"
                       r"(?:-[ \t]*){3,}$|(?:\*[ \t]*){3,}$|\[\^|--8<--|\{|:::|/{3})")
MATH = re.compile(r"\$|\\\(|\\\[")

# pymdownx.emoji's :shortcodes:, and among them the check and close icons of Material's icon sets, which the
# import writes as ✓ and ✗ (an attribute list right after one, `{ .green }`, styled the icon: it goes too)
SHORTCODE = re.compile(r"(?<![\w:]):(?=[+-]?[a-z0-9])[a-z0-9_+-]+:(?![\w:])")  # not a table's |:---:|
CHECK_ICONS = (r"material-check(?:-bold|-circle(?:-outline)?)?|octicons-check(?:-circle(?:-fill)?)?-(?:12|16|24)"
               r"|fontawesome-(?:solid|regular)-(?:check|circle-check|square-check|check-circle|check-square)")
CLOSE_ICONS = (r"material-close(?:-thick|-circle(?:-outline)?)?|octicons-x(?:-circle(?:-fill)?)?-(?:12|16|24)"
               r"|fontawesome-(?:solid|regular)-(?:xmark|x|times|circle-xmark|square-xmark|times-circle)")
ICON = re.compile(rf"(?<![\w:]):(?:(?P<check>{CHECK_ICONS})|{CLOSE_ICONS}):(?![\w:])(?:\{{:?[ \t]*[.#\w][^}}\n]*\}})?")


def mask(text: str) -> str:
    """`text` with fenced code, code spans and HTML comments replaced by spaces (newlines kept)."""
    lines = text.split("\n")
    fence = None
    for number, line in enumerate(lines):
        opened = FENCE.match(line)
        if fence is None:
            if not opened:
                continue
            fence = opened[1]
        elif opened and opened[1].startswith(fence) and not line.strip().strip(fence[0]):
            fence = None  # a closing fence: the same character, at least as many, nothing else
        lines[number] = " " * len(line)
    masked = "\n".join(lines)
    blank = lambda m: re.sub(r"[^\n]", " ", m[0])  # noqa: E731
    return CODE_SPAN.sub(blank, COMMENT.sub(blank, masked))


@dataclass(frozen=True)
class Destination:
    start: int
    end: int
    value: str  # without the angle brackets markdown allows around a destination


def destinations(text: str) -> list[Destination]:
    """Every link or image destination outside code, in order."""
    masked = mask(text)
    found = []
    for pattern in (INLINE, REFERENCE):
        for match in pattern.finditer(masked):
            start, end = match.span(1)
            value = text[start:end]
            if value.startswith("<"):
                start, end, value = start + 1, end - 1, value[1:-1]
            found.append(Destination(start, end, value))
    for tag in TAG.finditer(masked):
        for match in ATTRIBUTE.finditer(tag[0]):
            group = 1 if match[1] is not None else 2
            start, end = (tag.start() + offset for offset in match.span(group))
            found.append(Destination(start, end, text[start:end]))
    return sorted(found, key=lambda d: d.start)


def rewrite(text: str, change: Callable[[Destination], str | None]) -> str:
    """`text` with each destination replaced by `change(destination)` (None: kept as written)."""
    out, last = [], 0
    for destination in destinations(text):
        new = change(destination)
        if new is not None and new != destination.value:
            out += [text[last:destination.start], new]
            last = destination.end
    return "".join(out) + text[last:]


def without_remote_images(text: str) -> tuple[str, int]:
    """`text` with each image from another host replaced by its alt text (outside code), and how many.
    A site loads nothing from another host, and an image inside a link leaves the link."""
    masked = mask(text)
    out, last, count = [], 0, 0
    for match in REMOTE_IMAGE.finditer(masked):
        tag = text[match.start():match.end()]
        alt = match[1] if match[1] is not None else next((a[1] or a[2] for a in [ALT.search(tag)] if a), "")
        out += [text[last:match.start()], alt]
        last, count = match.end(), count + 1
    return "".join(out) + text[last:], count


def without_inline_styles(text: str) -> tuple[str, int]:
    """`text` with the style attributes of its raw HTML tags dropped (outside code), and how many: the
    site's Content-Security-Policy forbids inline styles (and GitHub drops them too)."""
    masked = mask(text)
    out, last, count = [], 0, 0
    for tag in TAG.finditer(masked):
        for style in STYLE.finditer(tag[0]):
            out.append(text[last:tag.start() + style.start()])
            last, count = tag.start() + style.end(), count + 1
    return "".join(out) + text[last:], count


def with_check_icons(text: str) -> tuple[str, int]:
    """`text` with the check and close icons of Material's icon sets (`:material-check:`, `:octicons-x-16:`,
    `:fontawesome-solid-xmark:` ...) written as ✓ and ✗ outside code, and how many."""
    out, last, count = [], 0, 0
    for icon in ICON.finditer(mask(text)):
        out += [text[last:icon.start()], "✓" if icon["check"] else "✗"]
        last, count = icon.end(), count + 1
    return "".join(out) + text[last:], count


def github_math(text: str) -> str:
    """GitHub's math as the build reads math: a ```math fence becomes a $$ block, and `\\(`, `\\)`,
    `\\[`, `\\]` outside code and formulas, which GitHub shows as brackets, stay brackets (as entities:
    the build would read them as formula delimiters)."""
    text = _markdown_in_html(MATH_FENCE.sub(lambda m: f"{m[1]}$$\n{m[3]}{m[1]}$$", text))
    masked = GITHUB_FORMULA.sub(lambda m: " " * len(m[0]), mask(text))
    out, last = [], 0
    for match in ESCAPED_BRACKET.finditer(masked):
        out += [text[last:match.start()], f"&#{ord(match[0][1])};"]
        last = match.end()
    return "".join(out) + text[last:]


def _markdown_in_html(text: str) -> str:
    """`text` with `markdown="1"` on the elements of each raw HTML block that holds a formula (a centred
    `<p align="center">$x$</p>`): GitHub shows the formula, Python-Markdown would keep it as raw TeX."""
    masked = mask(text)
    out, last, end = [], 0, 0
    for element in HTML_ELEMENT.finditer(masked):
        if element.start() < end:
            continue  # inside the block already looked at
        end = _element_end(masked, element.start(), element[1])
        if not GITHUB_FORMULA.search(masked, element.start(), end):
            continue
        for opening in CONTAINER.finditer(masked, element.start(), end):
            out += [text[last:opening.end()], ' markdown="1"']
            last = opening.end()
    return "".join(out) + text[last:]


def _element_end(masked: str, start: int, name: str) -> int:
    """Where the element opened at `start` ends: after its matching end tag, or after the opening tag itself
    when nothing closes it (`<br>`, `<img>`)."""
    depth, tags = 0, list(re.finditer(rf"<(/?){re.escape(name)}\b[^<>]*?(/?)>", masked[start:], re.I))
    for tag in tags:
        depth += -1 if tag[1] else 0 if tag[2] else 1
        if depth <= 0:
            return start + tag.end()
    return start + tags[0].end()


@dataclass(frozen=True)
class Heading:
    level: int
    text: str  # plain text
    id: str  # its anchor: an attr_list `{#id}` or the id Python-Markdown's toc gives it
    start: int  # first and last line (0-based, inclusive)
    end: int


def headings(text: str) -> Iterator[Heading]:
    """Every heading outside code, in order."""
    lines = mask(text).split("\n")
    for number, line in enumerate(lines):
        atx = ATX.match(line)
        if atx and not line.lstrip().startswith("#!"):  # `#!python` is a code hint, not a heading
            yield _heading(len(atx[1]), atx[2] or "", number, number)
        below = lines[number + 1] if number + 1 < len(lines) else ""
        if line.strip() and SETEXT.match(below) and not NOT_PROSE.match(line) and not SETEXT.match(line):
            yield _heading(1 if below.strip()[0] == "=" else 2, line.strip(), number, number + 1)


def first_heading(text: str) -> Heading | None:
    return next(headings(text), None)


def github_id(heading_text: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, each space a hyphen."""
    return re.sub(r"[^\w\- ]", "", heading_text.lower()).replace(" ", "-")


def _heading(level: int, written: str, start: int, end: int) -> Heading:
    attrs = ATTR_LIST.search(written)
    custom = re.search(r"#([\w-]+)", attrs[1]) if attrs else None
    text = plain(written[:attrs.start()] if attrs else written)
    return Heading(level, text, custom[1] if custom else slugify(text, "-"), start, end)


def lead(text: str) -> tuple[str, str]:
    """(the first paragraph as plain text, the text after it) when the text starts with a prose
    paragraph without math; otherwise ("", text)."""
    lines = text.split("\n")
    first = next((n for n, line in enumerate(lines) if line.strip()), None)
    if first is None or NOT_PROSE.match(lines[first]):
        return "", text
    last = next((n for n in range(first, len(lines)) if not lines[n].strip()), len(lines))
    paragraph = "\n".join(lines[first:last])
    if MATH.search(paragraph) or ATTR_LIST.search(paragraph):
        return "", text
    return plain(paragraph), "\n".join(lines[last:])


def plain(markdown_text: str) -> str:
    """Inline markdown as plain text: links and emphasis dropped, tags removed, entities decoded."""
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", markdown_text)  # images
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)|\[([^\]]*)\]\[[^\]]*\]", lambda m: m[1] or m[2] or "", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = re.sub(r"`+|\*+|(?<!\w)_+|_+(?!\w)", "", text)
    return " ".join(html.unescape(text).split())
