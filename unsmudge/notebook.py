"""A Jupyter notebook as a lesson or page: its stored outputs rendered at build time (no kernel runs).

`read` turns the notebook into what a markdown lesson is: TOML front matter (its first raw or markdown
cell holding a `+++` block, or `<id>.toml` beside it) and a markdown body. Markdown cells go into that
body as they are, so their links, formulas and headings follow every lesson rule; each code cell and its
outputs go in as a marker that the renderer replaces with the HTML made here. Markdown and LaTeX outputs go
into the body as markdown, inside the cell (`<div markdown="1">`, md_in_html), so they are rendered and checked
like the lesson's own and problems in them name the cell and the output. A notebook is untrusted:
HTML outputs are sanitised (nh3: no script, style, event handler or other host's image reaches the
page); widgets, and HTML outputs that only work with a script (an animation, a Plotly or Bokeh figure), fall
back to their static form; pictures become files under assets/outputs/ named by their content, and an output
too large for a page is a problem.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from dataclasses import dataclass, field
from pathlib import Path

from unsmudge.problems import Problem, display_path

MAX_OUTPUT = 2_000_000  # bytes one output may bring to a page
MAX_OUTPUTS = 10_000_000  # bytes all outputs of one notebook may bring
PICTURES = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp",
            "image/svg+xml": "svg"}
WIDGET = "application/vnd.jupyter.widget-view+json"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
FRONT = re.compile(r"\A\s*\+\+\+[ \t]*\n(.*?)\n\+\+\+[ \t]*(\n|\Z)", re.S)
# HTML that does nothing without a script, or shows another page: sanitised, it would be an empty frame
NEEDS_SCRIPT = re.compile(r"<(script|iframe)\b", re.I)
# a repr that names an object and says nothing of it: <IPython.core.display.HTML object>, <... at 0x7f...>
BARE_REPR = re.compile(r"\s*<[^<>\n]*>\s*")
IMG = re.compile(r'<img\b(?:\s+[^\s=/>]+(?:="[^"]*")?)*\s*/?>')  # as nh3 writes it: values in "..."


@dataclass
class Parts:
    """What the notebook adds to a markdown lesson: HTML for each marker, files for the site, and where
    each cell and each markdown or LaTeX output is in the body (for messages that name a cell and its line,
    or a cell and its output)."""

    inserts: dict[str, str] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    cells: list[tuple[int, int]] = field(default_factory=list)  # (first body line index, cell number)
    front_cell: int = 0  # the cell holding the front matter, 0 when it is beside the notebook
    front_file: str = ""  # the file holding the front matter when it is beside the notebook (<id>.toml)
    # (first body line index, line index past it, cell number, output number) of each markdown or LaTeX output
    outputs: list[tuple[int, int, int, int]] = field(default_factory=list)
    extra: int = 0  # markers past the cells' own numbers (a cell split around its markdown outputs)

    def where(self, index: int) -> str:
        for start, end, cell, output in self.outputs:
            if start <= index < end:  # a stored output has no line the author wrote
                return _output_place(cell, output)
        start, cell = max(((s, c) for s, c in self.cells if s <= index), default=(0, 1))
        return f"cell {cell}, line {index - start + 1}"

    def fix(self, where: str, fix: str) -> str:
        """The fix for a problem at `where` (as `where` writes it): one in a stored output is fixed by re-running
        the notebook."""
        if where not in {_output_place(cell, output) for _, _, cell, output in self.outputs}:
            return fix
        return (f"the output is what the code gave when the notebook last ran: change the code ({fix}) and re-run "
                "the notebook, or clear the output; then save the notebook")

    def insert(self, html_text: str, name: str) -> str:
        self.inserts[name] = html_text
        return name

    def front_where(self, line: int) -> str:
        """`line` counts from the `+++` line of the front matter, as in a markdown lesson (from 1)."""
        return f"cell {self.front_cell}, line {line}" if self.front_cell else f"line {line - 1}"


def marker(number: int) -> str:
    return f"unsmudgecell{number}x"


def _output_place(cell: int, output: int) -> str:
    return f"cell {cell}, output {output}"


def read(path: Path, shown: str, problems: list[Problem]) -> tuple[str, str, Parts] | None:
    """(front matter TOML, markdown body, parts) of the notebook at `path`, or None (problems added)."""
    import nbformat  # only for courses with notebooks: it imports jsonschema

    try:
        notebook = nbformat.read(str(path), as_version=4)
    except (OSError, UnicodeDecodeError, ValueError) as err:  # nbformat's NotJSONError is a ValueError
        problems.append(Problem(shown, "", f"cannot read the notebook ({str(err).splitlines()[0][:200]})",
                                "open and save it in Jupyter, or check it is an .ipynb file"))
        return None
    parts = Parts()
    cells = list(notebook.cells)
    front = None
    if cells and cells[0].cell_type in ("raw", "markdown") and FRONT.match(cells[0].source):
        front, parts.front_cell = FRONT.match(cells[0].source)[1], 1
        cells[0] = None
    else:
        beside = path.with_suffix(".toml")
        if beside.is_file():
            parts.front_file = display_path(beside)
            try:
                front = beside.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as err:
                problems.append(Problem(parts.front_file, "", f"cannot read the front matter ({err})",
                                        "save it as UTF-8 text"))
                return None
    if front is None:
        problems.append(Problem(shown, "cell 1", "no front matter: the first cell must be a raw or markdown cell "
                                f"holding the TOML front matter between '+++' lines, or {path.stem}.toml must "
                                "sit beside the notebook", "add the front matter described in docs/authoring.md"))
        return None
    language = notebook.metadata.get("language_info", {}).get("name") or \
        notebook.metadata.get("kernelspec", {}).get("language") or "python"
    body: list[str] = []
    budget = [MAX_OUTPUTS]
    for number, cell in enumerate(cells, start=1):
        if cell is None:
            continue
        parts.cells.append((len(body), number))
        if cell.cell_type == "markdown":
            body += _with_attachments(cell).split("\n") + [""]
        elif cell.cell_type == "code":
            pieces = _code_cell(cell, number, language, shown, problems, parts, budget)
            body += _code_lines(pieces, number, len(cells), len(body), parts)
    return front, "\n".join(body), parts


def _code_lines(pieces: list[str | tuple[int, str]], number: int, count: int, start: int,
                parts: Parts) -> list[str]:
    """The body lines of code cell `number` (its first line at body index `start`), from its pieces in order:
    HTML, or (output number, markdown). A cell without markdown outputs is one marker for its HTML; one with
    them is a `<div markdown="1">` holding markers for its HTML and, between them, each markdown output in an
    output container of its own, in the order of the outputs."""
    if not any(isinstance(piece, tuple) for piece in pieces):
        return ["", parts.insert(f'<div class="nb-cell">{"".join(pieces)}</div>', marker(number)), ""]
    lines, run, name = ["", '<div class="nb-cell" markdown="1">', ""], [], marker(number)
    for piece in pieces + [(0, "")]:  # (0, "") writes the last run of HTML
        if isinstance(piece, str):
            run.append(piece)
            continue
        if run:  # the HTML since the last markdown output (the first run holds the input)
            lines += [parts.insert("".join(run), name), ""]
            parts.extra += 1
            run, name = [], marker(count + parts.extra)
        output, text = piece
        if output:
            lines.append('<div class="nb-output" markdown="1">')
            first = start + len(lines)
            lines += text.split("\n")
            parts.outputs.append((first, start + len(lines), number, output))
            lines += ["</div>", ""]
    return lines + ["</div>", ""]


def _with_attachments(cell) -> str:
    """A markdown cell's source, its `attachment:` pictures as data URLs (they live inside the notebook)."""
    source = cell.source
    for name, bundle in (cell.get("attachments") or {}).items():
        kind = next((k for k in PICTURES if k in bundle), None)
        if kind:
            data = bundle[kind] if kind != "image/svg+xml" else base64.b64encode(bundle[kind].encode()).decode()
            source = source.replace(f"attachment:{name}", f"data:{kind};base64,{''.join(data.split())}")
    return source


def _code_cell(cell, number: int, language: str, shown: str, problems: list[Problem], parts: Parts,
               budget: list[int]) -> list[str | tuple[int, str]]:
    """The cell's code, highlighted, then its outputs, in order: HTML, or (output number, markdown) for an
    output that is markdown or TeX, so that it is rendered (and checked) like the lesson's own."""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    try:
        lexer = get_lexer_by_name(language)
    except ClassNotFound:
        lexer = get_lexer_by_name("text")
    code = highlight(cell.source, lexer, HtmlFormatter(cssclass="highlight", wrapcode=True))
    pieces: list[str | tuple[int, str]] = [f'<div class="nb-input">{code}</div>']
    for index, output in enumerate(cell.get("outputs", []), start=1):
        size = len(str(output))
        if size > MAX_OUTPUT or size > budget[0]:
            over = "over the 2 MB one output may bring to a page" if size > MAX_OUTPUT else \
                "past the 10 MB all outputs of a notebook may bring"
            problems.append(Problem(shown, f"cell {number}", f"output {index} of the cell is {size / 1e6:.1f} MB, "
                                    f"{over}", "clear that output or make it smaller (print less, save a smaller "
                                    "figure), then save the notebook"))
            continue
        budget[0] -= size
        rendered = _output(output, number, shown, problems, parts)
        if isinstance(rendered, tuple):
            if rendered[0].strip():  # an empty one shows nothing, like the other outputs
                pieces.append((index, rendered[0]))
        elif rendered:
            pieces.append(f'<div class="nb-output">{rendered}</div>')
    return pieces


def _output(output, number: int, shown: str, problems: list[Problem], parts: Parts) -> str | tuple[str]:
    """The output as HTML, or as a 1-tuple of markdown (a markdown or LaTeX output)."""
    kind = output.get("output_type")
    if kind == "stream":
        return f'<pre class="nb-{html.escape(output.get("name", "stdout"))}">{_text(output.get("text", ""))}</pre>'
    if kind == "error":
        trace = "\n".join(output.get("traceback", [])) or f"{output.get('ename')}: {output.get('evalue')}"
        return f'<pre class="nb-error">{_text(trace)}</pre>'
    data = output.get("data", {})
    for mime, extension in PICTURES.items():
        if mime in data:
            return _picture(data[mime], mime, extension, output.get("metadata", {}).get(mime, {}), number, parts)
    if WIDGET in data:
        return _static(data, "An interactive widget: run the notebook to use it.")
    if "text/html" in data:
        text = _joined(data["text/html"])
        if NEEDS_SCRIPT.search(text):  # its pictures (an animation's frames) are in the script: the page runs none
            return _static(data, "An interactive output: run the notebook to see it.")
        return _sanitised(text, number, shown, problems)
    if "text/markdown" in data:
        return (_joined(data["text/markdown"]),)
    if "text/latex" in data:
        return (_joined(data["text/latex"]),)
    if "text/plain" in data:
        return f'<pre class="nb-result">{_text(_joined(data["text/plain"]))}</pre>'
    return ""


def _static(data: dict, note: str) -> str:
    """What an interactive output shows without its script: its text when that says something (a picture,
    had it one, came first), else `note`."""
    text = _joined(data.get("text/plain", ""))
    if text.strip() and not BARE_REPR.fullmatch(text):
        return f'<pre class="nb-result">{_text(text)}</pre>'
    return f'<p class="nb-widget">{html.escape(note)}</p>'


def _joined(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _text(text) -> str:
    return html.escape(ANSI.sub("", _joined(text)))


def _picture(value, mime: str, extension: str, metadata: dict, number: int, parts: Parts) -> str:
    data = _joined(value).encode() if mime == "image/svg+xml" else base64.b64decode(_joined(value))
    url = f"assets/outputs/{hashlib.sha256(data).hexdigest()[:16]}.{extension}"
    parts.files[url] = data  # an SVG shown through <img> runs no script
    size = "".join(f' {key}="{int(metadata[key])}"' for key in ("width", "height")
                   if isinstance(metadata.get(key), (int, float)))
    return f'<img src="{url}" alt="A picture output of code cell {number}"{size} loading="lazy">'


def _sanitised(text: str, number: int, shown: str, problems: list[Problem]) -> str:
    """HTML output without script, style, handlers or anything loaded from elsewhere (the CSP would block it)."""
    import nh3

    elsewhere: list[str] = []

    def keep(tag: str, attribute: str, value: str) -> str | None:
        if tag == "img" and attribute == "src" and not re.match(r"data:image/[^,]*,.", value.strip()):
            if value.strip() and not value.strip().startswith("data:"):
                elsewhere.append(value)
            return None
        return value

    clean = nh3.clean(text, attribute_filter=keep, url_schemes={"http", "https", "mailto", "data"},
                      set_tag_attribute_values={"a": {"target": "_blank"}},
                      clean_content_tags={"script", "style"})
    clean = IMG.sub(lambda tag: tag[0] if re.search(r'\ssrc="[^"]', tag[0]) else "", clean)  # no broken pictures
    for url in elsewhere:
        problems.append(Problem(shown, f"cell {number}", f"an HTML output of the cell shows a picture from '{url}'",
                                "clear that output, or embed the picture in the notebook "
                                "(IPython.display.Image(data=...))"))
    return f'<div class="nb-html">{clean}</div>'
