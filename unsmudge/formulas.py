"""Formulas: the TeX in lessons, typeset to MathML when the site is built.

Temml (vendored: unsmudge/vendor/temml.min.js) runs in V8 through mini-racer, which is started only when
a page has a formula, once per process. Its MathML is laid out by the browser with the Latin Modern Math
font the theme ships (`static/math/`), read out by screen readers, and printed: no script on the page.
What Temml leaves to a script in the browser is done here instead, page by page:
- equation numbers are written into the page (Temml counts them with a CSS counter);
- `\\ref` and `\\eqref` get their numbers, and one naming a label the page lacks is a problem;
- inline styles become classes (the page's CSP forbids inline styles); the rules go into the site's
  math stylesheet (`stylesheet_rules`).

Temml's answers are kept on disk (`Store`, by default in ~/.cache/unsmudge), keyed by Temml's own bytes,
the macros and the formula: a later build, or another course, typesets a formula it has seen without
starting V8, and gets the bytes Temml would give. UNSMUDGE_CACHE names another folder; set empty, no cache.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

TEMML = Path(__file__).parent / "vendor" / "temml.min.js"
# MathJax (what Material for MkDocs and Jupyter render with) accepts these; Temml does not.
# \displaylines: lines centred one under the other, as gathered sets them
COMPATIBLE_MACROS = {"\\mbox": "\\text{#1}", "\\displaylines": "\\begin{gathered}#1\\end{gathered}"}
# one JS call per page: [[tex, display], ...] -> [[true, mathml] | [false, message], ...]
TYPESET_PAGE = """function typesetPage(formulas, macros) {  // JSON in and out: one crossing each way
  return JSON.stringify(JSON.parse(formulas).map(function (f) {
    try {
      return [true, temml.renderToString(f[0], {displayMode: f[1], throwOnError: true, trust: false,
                                                macros: Object.assign({}, macros)})];
    } catch (err) {
      return [false, String(err.message || err)];
    }
  }));
}"""


@dataclass(frozen=True)
class Formula:
    tex: str
    display: bool


@dataclass
class Typeset:
    """A page's formulas typeset: MathML (or the renderer's message) per formula, and the styles used."""

    html: list[str]
    errors: dict[int, str]  # formula index -> what went wrong
    styles: set[str]


_engine = None  # (pid, MiniRacer) once this process has started V8
# Temml's answers by macros, then formula: a course writes $x$ or $\theta$ on page after page
_typeset: dict[str, dict[Formula, tuple[bool, str]]] = {}


def engine_running() -> bool:
    """True when this process has started V8: forking then would hand the children a broken engine."""
    return _engine is not None


def _context():
    global _engine
    if _engine is None or _engine[0] != os.getpid():
        from py_mini_racer import MiniRacer  # only when a page has math: V8 costs ~0.3 s to start

        context = MiniRacer()
        context.eval(TEMML.read_text(encoding="utf-8"))
        context.eval(TYPESET_PAGE)
        atexit.register(context.close)  # an open context keeps the interpreter from exiting
        _engine = (os.getpid(), context)
    return _engine[1]


class Store:
    """Temml's MathML on disk, one SQLite file: key -> MathML, for formulas Temml accepted. The key hashes
    Temml's script and our call of it, the macros and the formula, so a change of any of them is a miss.
    A store that cannot be read or written is left alone: the build typesets as if it were empty."""

    def __init__(self, folder: Path):
        self.path = folder / "formulas.sqlite"
        self.engine = hashlib.sha256(TEMML.read_bytes() + TYPESET_PAGE.encode()).hexdigest()
        self.db = None  # opened on first use: sqlite3 is imported only by a build with formulas
        self.broken = False  # set on the first error: the rest of the build goes without the store

    def fill(self, answers: dict[Formula, tuple[bool, str]], macros: str, wanted: list[Formula]) -> list[Formula]:
        """Puts the stored answers among `answers`; returns the formulas still to typeset."""
        import sqlite3

        keys = {self._key(macros, f): f for f in wanted}
        found: dict[str, str] = {}
        try:
            listed = list(keys)
            for start in range(0, len(listed), 500):  # SQLite takes a bounded number of parameters
                chunk = listed[start:start + 500]
                query = f"SELECT key, mathml FROM mathml WHERE key IN ({','.join('?' * len(chunk))})"
                found.update(self._open().execute(query, chunk).fetchall())
        except (sqlite3.Error, OSError):
            self.broken = True
        answers.update((keys[key], (True, mathml)) for key, mathml in found.items())
        return [f for key, f in keys.items() if key not in found]

    def keep(self, macros: str, answers: list[tuple[Formula, tuple[bool, str]]]) -> None:
        import sqlite3

        try:
            with self._open() as db:
                db.executemany("INSERT OR IGNORE INTO mathml VALUES (?, ?)",
                               [(self._key(macros, f), text) for f, (ok, text) in answers if ok])
        except (sqlite3.Error, OSError):
            self.broken = True

    def _key(self, macros: str, formula: Formula) -> str:
        text = "\0".join([self.engine, macros, "display" if formula.display else "inline", formula.tex])
        return hashlib.sha256(text.encode()).hexdigest()

    def _open(self):
        import sqlite3

        if self.db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # serve's watcher and request threads may both typeset; SQLite serialises them itself
            self.db = sqlite3.connect(self.path, timeout=30, check_same_thread=sqlite3.threadsafety != 3)
            # a lost write costs one formula typeset again: no fsync; WAL lets forked workers read while one writes
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=OFF")
            self.db.execute("CREATE TABLE IF NOT EXISTS mathml (key TEXT PRIMARY KEY, mathml TEXT NOT NULL)")
        return self.db


_store = None  # (pid, Store or None): each process opens its own connection (forked workers too)


def store() -> Store | None:
    """This process's store: UNSMUDGE_CACHE, else $XDG_CACHE_HOME/unsmudge, else ~/.cache/unsmudge; none
    when UNSMUDGE_CACHE is set empty."""
    global _store
    if _store is None or _store[0] != os.getpid():
        folder = os.environ.get("UNSMUDGE_CACHE")
        if folder is None:
            folder = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "unsmudge")
        _store = (os.getpid(), Store(Path(folder)) if folder else None)
    return _store[1]


def typeset(formulas: list[Formula], macros: dict[str, str]) -> Typeset:
    """Typeset one page's formulas in order: numbers, references and style classes included."""
    if not formulas:
        return Typeset([], {}, set())
    known = {**COMPATIBLE_MACROS, **{f"\\{name}": body for name, body in macros.items()}}
    macros_key = json.dumps(known, sort_keys=True)
    cache = _typeset.setdefault(macros_key, {})
    missing = list(dict.fromkeys(f for f in formulas if f not in cache))
    disk = store() if missing else None
    if disk is not None and not disk.broken:
        missing = disk.fill(cache, macros_key, missing)
    if missing:
        done = json.loads(_context().call("typesetPage", json.dumps([[f.tex, f.display] for f in missing]), known))
        cache.update(zip(missing, done))
        if disk is not None and not disk.broken:
            disk.keep(macros_key, list(zip(missing, done)))
    results = [cache[f] for f in formulas]
    html = [text if ok else "" for ok, text in results]
    # Temml's message, first line: "Undefined control sequence: \\foo at position 7"
    errors = {i: text.removeprefix("ParseError: ").split("\n")[0].strip().rstrip(":")
              for i, (ok, text) in enumerate(results) if not ok}
    errors.update(_number_equations(html))
    styles: set[str] = set()
    html = [_styles_to_classes(text, styles) for text in html]
    for i, formula in enumerate(formulas):
        if formula.display and i not in errors:
            html[i] = f'<div class="math-display" tabindex="0">{html[i]}</div>'
    return Typeset(html, errors, styles)


_NUMBERING = re.compile(r'<mtr id="([^"]+)"|<span class="tml-eqn"></span>|<mtext class="tml-tag">([^<]*)</mtext>')
_REFERENCE = re.compile(r"""<a href=['"]#([^'"]+)['"] class="tml-ref( tml-eqref)?"></a>""")


def _number_equations(html: list[str]) -> dict[int, str]:
    """Write each numbered equation's number, then fill in the references; unknown labels are errors."""
    labels: dict[str, str] = {}
    count, pending = 0, None  # pending: the label of the row whose number comes next

    def number(match: re.Match) -> str:
        nonlocal count, pending
        if match[0].startswith("<mtr"):
            pending = match[1]
            return match[0]
        if match[0].startswith("<span"):
            count += 1
            shown = f"({count})"
            result = f'<span class="tml-eqn">{shown}</span>'
        else:
            shown, result = match[2], match[0]
        if pending:
            labels[pending], pending = shown, None
        return result

    html[:] = [_NUMBERING.sub(number, text) for text in html]
    errors = {}

    def reference(index: int, match: re.Match) -> str:
        shown = labels.get(match[1])
        if shown is None:
            errors[index] = f"no numbered equation on this page has the label this refers to ('{match[1]}')"
            return match[0]
        text = shown if match[2] else shown.strip("()")
        return f'<a href="#{match[1]}" class="tml-ref{match[2] or ""}">{text}</a>'

    html[:] = [_REFERENCE.sub(lambda m, i=i: reference(i, m), text) for i, text in enumerate(html)]
    return errors


_STYLED_TAG = re.compile(r'<([a-z]+)\b([^<>]*?)\sstyle="([^"]*)"([^<>]*)>')
_CLASS = re.compile(r'\sclass="([^"]*)"')


def style_class(style: str) -> str:
    return "m-" + hashlib.sha256(style.encode()).hexdigest()[:8]


def _styles_to_classes(text: str, styles: set[str]) -> str:
    def replace(match: re.Match) -> str:
        tag, before, style, after = match.groups()
        styles.add(style)
        attributes = before + after
        name = style_class(style)
        if _CLASS.search(attributes):
            attributes = _CLASS.sub(lambda c: f' class="{c[1]} {name}"', attributes, count=1)
        else:
            attributes += f' class="{name}"'
        return f"<{tag}{attributes}>"

    return _STYLED_TAG.sub(replace, text)


def stylesheet_rules(styles: set[str]) -> str:
    """One rule per inline style, `!important` because an inline style wins over every stylesheet rule."""
    rules = []
    for style in sorted(styles, key=style_class):
        declarations = ";".join(f"{d.strip()} !important" for d in style.split(";") if d.strip())
        rules.append(f".{style_class(style)}{{{declarations}}}")
    return "\n".join(rules) + "\n" if rules else ""
