"""Raw HTML in a lesson, held to the same rules as its markdown.

`src`, `href`, `poster` and `srcset` are resolved, checked and rewritten by the same rules as markdown
links and images (`references`: an object with `link(href)` and `resource(src)`, both returning the
URL to write, and `problem(written, message, fix)`), and whatever the page's Content-Security-Policy
would block (an inline script, an inline style, an event handler, a `javascript:` URL) is a problem,
not a console error in the reader's browser. Everything else is written back exactly as it was.

What a problem leaves behind is what a `--keep-going` site shows: a link or resource `references` calls
broken (it returns None) loses its URL, so the page makes no failed request; a link keeps its text behind
a visible "broken link" mark and a picture becomes its alt text behind a "missing picture" mark (words,
not colour alone); what the CSP would block is left out.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

# attributes that load something into the page, by element; `href` of <a> and <area> is a link
RESOURCES = {"src": {"img", "video", "audio", "source", "track", "iframe", "embed", "script", "input"},
             "poster": {"video"}, "href": {"link"}, "data": {"object"}}
LINKS = {"a", "area"}
SRCSET = re.compile(r"\s*([^\s,]+)(\s+[^,]+)?\s*(?:,|$)")
# what makes a piece of HTML worth parsing (looked for in the lowered text: twice as fast as re.I); most of
# the stash is highlighted code and diagrams, which never match
WORTH_A_LOOK = re.compile(r"\b(?:src|href|poster|srcset|data|style|on[a-z]+)\s*=|<(?:script|style)\b|javascript:")


BROKEN_LINK, MISSING_PICTURE, FORMULA_ERROR = "broken link", "missing picture", "formula error"  # the marks' words
MARK = '<span class="broken-mark">{}</span>'


def rewritten(tag: str, attrs: list[tuple[str, str | None]], references) -> list[tuple[str, str | None]] | None:
    """An element's attributes with its links and resources rewritten (problems reported), or None when
    nothing changed. Used for raw HTML and for the elements the markdown made alike. A broken URL and
    what the CSP blocks are left out."""
    result, changed = [], False
    for name, value in attrs:
        new = value
        if name == "style":
            references.problem(f'style="{value}"', f"inline style on <{tag}> is blocked by the page's "
                               "Content-Security-Policy", "use width/height attributes or a class "
                               "from the theme's CSS")
            new = None
        elif name.startswith("on"):
            references.problem(f"{name}=", f"event handler '{name}' on <{tag}> is blocked by the page's "
                               "Content-Security-Policy", "remove it (a lesson runs no inline script)")
            new = None
        elif value is not None and value.strip().lower().startswith("javascript:"):
            references.problem(value, f"'{value}' is a script, blocked by the page's Content-Security-Policy",
                               "link to a page or a file instead")
            new = None
        elif name == "href" and tag in LINKS and value is not None:
            new = references.link(value)
        elif name == "srcset" and value is not None:
            found = [(references.resource(url), descriptor or "") for url, descriptor in SRCSET.findall(value)]
            new = ", ".join(url + descriptor for url, descriptor in found if url is not None) or None
        elif tag == "iframe" and name == "src" and value is not None and urlsplit(value.strip()).netloc:
            references.problem(value, f"an <iframe> of another host ('{value}') would be blocked by the page's "
                               "Content-Security-Policy (a page loads nothing from other hosts)",
                               "link to it instead, e.g. <a href=\"...\">Watch the video</a>")
            new = None
        elif tag in RESOURCES.get(name, ()) and value is not None:
            new = references.resource(value)
        changed |= new != value
        if new is not None or value is None:
            result.append((name, new))
    if tag in LINKS and (dict(attrs).get("href") or "").startswith(("http://", "https://")):
        for name, value in (("target", "_blank"), ("rel", "noopener")):
            if name not in dict(result):
                result.append((name, value))
                changed = True
    if tag == "img" and "loading" not in dict(result):
        result.append(("loading", "lazy"))
        changed = True
    return result if changed else None


def broken(tag: str, before: list[tuple[str, str | None]], after: list[tuple[str, str | None]]) -> str | None:
    """The mark an element needs once rewritten: BROKEN_LINK for a link that lost its URL, MISSING_PICTURE
    for a picture that lost its source, else None."""
    lost = {name for name, value in before if value is not None} - {name for name, _ in after}
    if tag == "a" and "href" in lost:
        return BROKEN_LINK
    if tag == "img" and "src" in lost:
        return MISSING_PICTURE
    return None


def with_class(attrs: list[tuple[str, str | None]], name: str) -> list[tuple[str, str | None]]:
    classes = " ".join(filter(None, [dict(attrs).get("class"), name]))
    return [(key, value) for key, value in attrs if key != "class"] + [("class", classes)]


class _Rewriter(HTMLParser):
    def __init__(self, references):
        super().__init__(convert_charrefs=False)
        self.references = references
        self.out: list[str] = []
        self.blocked: str | None = None  # the <style> or inline <script> being left out, up to its end tag

    def _start(self, tag: str, attrs, closing: str) -> None:
        if tag == "style":
            self.references.problem("<style", "a <style> element is blocked by the page's Content-Security-Policy",
                                    "move the rules into the course's stylesheet, templates/static/css/extra.css in "
                                    "the course folder: every page links it")
            self.blocked = tag
            return
        if tag == "script" and "src" not in dict(attrs):
            self.references.problem("<script", "an inline <script> is blocked by the page's "
                                    "Content-Security-Policy", "put the script in a file and load it with src")
            self.blocked = tag
            return
        new = rewritten(tag, attrs, self.references)
        if new is None:
            self.out.append(self.get_starttag_text())
            return
        mark = broken(tag, attrs, new)
        if mark == MISSING_PICTURE:
            alt = html.escape(dict(attrs).get("alt") or "", quote=False)
            self.out.append(f'<span class="broken-picture">{MARK.format(mark)} {alt}</span>')
            return
        if mark == BROKEN_LINK:
            new = with_class(new, "broken-link")
        written = "".join(f' {name}="{html.escape(value, quote=True)}"' if value is not None else f" {name}"
                          for name, value in new)
        self.out.append(f"<{tag}{written}{closing}>" + (MARK.format(mark) + " " if mark else ""))

    def handle_starttag(self, tag, attrs):
        if not self.blocked:
            self._start(tag, attrs, "")

    def handle_startendtag(self, tag, attrs):
        if not self.blocked:
            self._start(tag, attrs, " /")

    def handle_endtag(self, tag):
        if tag == self.blocked:
            self.blocked = None
        elif not self.blocked:
            self.out.append(f"</{tag}>")

    def handle_data(self, data):
        if not self.blocked:
            self.out.append(data)

    def handle_entityref(self, name):
        self.out.append(f"&{name};")

    def handle_charref(self, name):
        self.out.append(f"&#{name};")

    def handle_comment(self, data):
        self.out.append(f"<!--{data}-->")

    def handle_decl(self, decl):
        self.out.append(f"<!{decl}>")

    def handle_pi(self, data):
        self.out.append(f"<?{data}>")

    def unknown_decl(self, data):
        self.out.append(f"<![{data}]>")


def rewrite(text: str, references) -> str:
    """`text` with its links and resources rewritten; problems go to `references.problem`."""
    if not WORTH_A_LOOK.search(text.lower()):
        return text
    rewriter = _Rewriter(references)
    rewriter.feed(text)
    rewriter.close()
    return "".join(rewriter.out)
