"""Formulas: the TeX in lessons, typeset to MathML when the site is built.

Temml (vendored: unsmudge/vendor/temml.min.js) runs in V8 through mini-racer, in a child process (`Engine`)
that a build starts beside its own imports. Its MathML is laid out by the browser with the Latin Modern Math
font the theme ships (`static/math/`), read out by screen readers, and printed: no script on the page.
What Temml leaves to a script in the browser is done here instead, page by page:
- equation numbers are written into the page (Temml counts them with a CSS counter);
- `\\ref` and `\\eqref` get their numbers, and one naming a label the page lacks is a problem;
- inline styles become classes (the page's CSP forbids inline styles); the rules go into the site's
  math stylesheet (`stylesheet_rules`).

Temml's answers are kept on disk (`Store`, by default in ~/.cache/unsmudge), keyed by Temml's own bytes,
the macros and the formula: a later build, or another course, typesets a formula it has seen without
starting V8, and gets the bytes Temml would give. UNSMUDGE_CACHE names another folder; set empty, no cache.

A build hands each page's formulas to one `Typesetter` as the page is converted; its thread sends them to the
child, which answers from what it has typeset already (it guesses the course's formulas and typesets them
while the build imports and converts), from the store, or from V8, so V8's start and Temml's work overlap
the build instead of adding to it.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import json
import os
import queue
import re
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from unsmudge.problems import Problem, ProblemsFound

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


class Formula(NamedTuple):  # a tuple: hashed in C, and builds look up thousands
    tex: str
    display: bool


@dataclass
class Typeset:
    """A page's formulas typeset: MathML (or the renderer's message) per formula, and the styles used."""

    html: list[str]
    errors: dict[int, str]  # formula index -> what went wrong
    styles: set[str]


class Engine:
    """Temml in V8, in a child process of its own (`python -m unsmudge.formulas`), which also keeps the store:
    the build's process never runs V8 (so it may fork workers at any time: V8 does not survive fork) nor
    SQLite, and V8's start (about 0.2 s of CPU, most of it importing mini-racer) can overlap the build's
    own imports (`start`).

    One JSON line each way per batch: [store folder, macros, [[tex, display], ...]] in; out, the answers and
    how many of them V8 typeset, or why V8 could not typeset them. The child's first line says it is ready,
    or that the course it was asked to look at has no formula (then it exits)."""

    READY, NO_MATH = "ready", "no math"

    def __init__(self, content: Path | None = None):
        import subprocess

        folder = store_folder()
        command = [sys.executable, "-m", "unsmudge.formulas", str(folder or ""), str(content or "")]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.state: str | None = None  # the child's first line, once read

    def ready(self) -> bool:
        """Waits for the child's first line: True when it answers, False when the course had no formula."""
        if self.state is None:
            self.state = self._answer()
        if self.state not in (self.READY, self.NO_MATH):
            raise EngineFailed(self.state)
        return self.state == self.READY

    def typeset(self, batch: list[Formula], macros: dict[str, str],
                folder: Path | None) -> tuple[list[tuple[bool, str]], int]:
        """Each formula's answer, from the store in `folder` or from V8; and how many V8 typeset."""
        request = [str(folder) if folder else None, macros, [[f.tex, f.display] for f in batch]]
        try:
            self.process.stdin.write(json.dumps(request, ensure_ascii=False).encode() + b"\n")
            self.process.stdin.flush()
        except OSError:
            pass  # the child has stopped: its exit status comes from _answer
        reply = json.loads(self._answer())
        if isinstance(reply, str):
            raise EngineFailed(reply)
        answers, typeset = reply
        return [tuple(answer) for answer in answers], typeset

    def _answer(self) -> str:
        line = self.process.stdout.readline()
        if not line.endswith(b"\n"):
            raise EngineFailed(f"it stopped (exit status {self.process.wait()})")
        return line[:-1].decode("utf-8")

    def close(self) -> None:
        try:
            self.process.stdin.close()
            self.process.wait(timeout=10)
        except Exception:  # noqa: BLE001 - a child that hangs or is gone at exit is stopped
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()


class EngineFailed(Exception):
    """V8 could not start or stopped: mini-racer missing or broken, or the machine out of memory."""


_thread_lock = threading.Lock()
# Temml's answers by macros, then formula: a course writes $x$ or $\theta$ on page after page
_typeset: dict[str, dict[Formula, tuple[bool, str]]] = {}
_engine: tuple[int, Engine] | None = None  # this process's child, by pid: a forked worker never uses its parent's


def start(content: Path | None = None) -> None:
    """Starts the child now, before the build's imports, so that V8 starts on a CPU they leave idle. Given
    `content`, the child first looks for a formula in its lessons and pages, and exits if none has one (a
    build that meets a formula after all starts another)."""
    global _engine
    if _engine is None or _engine[0] != os.getpid():
        _engine = (os.getpid(), Engine(content))
        atexit.register(_engine[1].close)


def engine() -> Engine:
    """This process's child, running V8: the one `start` started, or a new one."""
    global _engine
    if _engine is not None and _engine[0] == os.getpid() and not _engine[1].ready():  # the course had no math
        _engine = None
    start()
    _engine[1].ready()
    return _engine[1]


class Store:
    """Temml's MathML on disk, one SQLite file: key -> MathML, for formulas Temml accepted. The key hashes
    Temml's script and our call of it, the macros and the formula, so a change of any of them is a miss.
    A store that cannot be read or written is left alone: the build typesets as if it were empty."""

    def __init__(self, folder: Path):
        self.path = folder / "formulas.sqlite"
        self.engine = hashlib.sha256(TEMML.read_bytes() + TYPESET_PAGE.encode()).hexdigest()
        self.db = None  # opened on first use
        self.broken = False  # set on the first error: the store is not used again
        self.keys: dict[tuple[str, Formula], str] = {}  # a formula is looked up, then kept: hashed once

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
        key = self.keys.get((macros, formula))
        if key is None:
            text = "\0".join([self.engine, macros, "display" if formula.display else "inline", formula.tex])
            key = self.keys[macros, formula] = hashlib.sha256(text.encode()).hexdigest()
        return key

    def _open(self):
        import sqlite3

        if self.db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, timeout=30)
            # a lost write costs one formula typeset again: no fsync; WAL lets other builds read while one writes
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=OFF")
            self.db.execute("CREATE TABLE IF NOT EXISTS mathml (key TEXT PRIMARY KEY, mathml TEXT NOT NULL)")
        return self.db


def store_folder() -> Path | None:
    """Where the store is: UNSMUDGE_CACHE, else $XDG_CACHE_HOME/unsmudge, else ~/.cache/unsmudge; none when
    UNSMUDGE_CACHE is set empty."""
    folder = os.environ.get("UNSMUDGE_CACHE")
    if folder is None:
        folder = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "unsmudge")
    return Path(folder) if folder else None


def course_macros(macros: dict[str, str]) -> dict[str, str]:
    """Temml's macros for a course: MathJax's commands Temml lacks, then the course's own ([math.macros])."""
    return {**COMPATIBLE_MACROS, **{f"\\{name}": body for name, body in macros.items()}}


# what arithmatex reads as a formula (pymdownx/arithmatex.py, generic mode), to guess a course's formulas;
# each pattern starts with a plain character, which Python's re looks for quickly
_GUESS_DISPLAY = re.compile(r"\$\$((?:[^\\$]+|\\.|\$(?!\$))+?)\$\$|\\\[((?:\\[^\]]|[^\\])+?)\\\]|"
                            r"\\begin\{([a-z]+\*?)\}(?:\\.|[^\\])+?\\end\{\3\}")
_GUESS_INLINE = re.compile(r"\$(?<!\\\$)(?!\s)((?:[^\\$]+|\\.)+?)(?<!\s)\$|\\\((?<!\\\\\()((?:\\[^)]|[^\\])+?)\\\)")
_CODE_SPAN = re.compile(r"`[^`\n]+`")
GUESS_CHUNK = 32  # formulas typeset between two looks for the build's requests: about 10 ms of V8


class _Course:
    """What the child reads of a course: its macros and the formulas its lessons and pages seem to hold, in
    reading order. A guess: the build asks for the formulas arithmatex finds, and a wrong guess costs only V8's
    time."""

    def __init__(self, content: Path):
        import tomllib

        try:
            course = tomllib.loads((content / "course.toml").read_text(encoding="utf-8"))
            order = {name: n for n, name in enumerate(course.get("lessons", []))}
            self.macros = course_macros(course.get("math", {}).get("macros", {}))
        except (OSError, ValueError, AttributeError):
            order, self.macros = {}, dict(COMPATIBLE_MACROS)
        paths = [path for folder in (content / "lessons", content / "pages") if folder.is_dir()
                 for path in folder.rglob("*") if path.suffix in (".md", ".ipynb") and path.is_file()]
        paths.sort(key=lambda path: (path.parent.name != "lessons", order.get(path.stem, len(order)), path))
        texts = [(path, path.read_text(encoding="utf-8", errors="replace")) for path in paths]
        self.texts = [(path, text) for path, text in texts if "$" in text or "\\(" in text or "\\[" in text
                      or "\\begin{" in text]

    def formulas(self) -> list[Formula]:
        found = []
        for path, text in self.texts:
            for markdown in _notebook_markdown(text) if path.suffix == ".ipynb" else [text]:
                markdown = _CODE_SPAN.sub("", _prose(markdown))
                found += [Formula((m[1] or m[2] or m[0]).strip(), True) for m in _GUESS_DISPLAY.finditer(markdown)]
                found += [Formula((m[1] or m[2]).strip(), False)
                          for m in _GUESS_INLINE.finditer(_GUESS_DISPLAY.sub("", markdown))]
        return list(dict.fromkeys(found))


def _notebook_markdown(text: str) -> list[str]:
    """A notebook's markdown cells (none when it is not valid JSON: the build reports that)."""
    try:
        cells = json.loads(text).get("cells", [])
        return ["".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
                for cell in cells if cell.get("cell_type") == "markdown"]
    except (ValueError, AttributeError, KeyError, TypeError):
        return []


def _prose(text: str) -> str:
    """A lesson's lines outside its front matter and fenced code."""
    kept, fence = [], "+++" if text.startswith("+++") else None
    for line in text.split("\n")[1 if fence else 0:]:
        stripped = line.lstrip()
        if fence:
            fence = None if stripped.startswith(fence) else fence
        elif stripped.startswith(("```", "~~~")):
            fence = stripped[:3]
        else:
            kept.append(line)
    return "\n".join(kept)


class _Child:
    """The child's answers: what V8 typeset (guessed or asked for) and what the stores hold. V8 starts at the
    first formula no store holds: a rebuild starts none. V8's answers the build asked for are kept in the store
    when the child is idle, or a thousand at a time."""

    KEEP_AT = 1000

    def __init__(self):
        self.v8 = None
        self.known: dict[tuple[str, Formula], tuple[tuple[bool, str], bool]] = {}  # -> (answer, by V8)
        self.kept: set[tuple[str, str, Formula]] = set()  # (folder, macros, formula) stored, or in `to_keep`
        self.to_keep: dict[tuple[str, str], list[Formula]] = {}  # (folder, macros) -> formulas
        self.stores: dict[str, Store] = {}

    def store(self, folder: str | None) -> Store | None:
        if folder and folder not in self.stores:
            self.stores[folder] = Store(Path(folder))
        disk = self.stores.get(folder)
        return disk if disk is not None and not disk.broken else None

    def keep(self) -> None:
        """Writes the answers waiting to be kept, one transaction per store."""
        for (folder, key), formulas in self.to_keep.items():
            if (disk := self.store(folder)) is not None:
                disk.keep(key, [(f, self.known[key, f][0]) for f in formulas])
        self.to_keep = {}

    def typeset(self, formulas: list[Formula], macros: dict[str, str]) -> None:
        if self.v8 is None:
            from py_mini_racer import MiniRacer

            context = MiniRacer()
            context.eval(TEMML.read_text(encoding="utf-8"))
            context.eval(TYPESET_PAGE)
            self.v8 = context
        key = json.dumps(macros, sort_keys=True)
        done = json.loads(self.v8.call("typesetPage", json.dumps([[f.tex, f.display] for f in formulas]), macros))
        self.known.update(((key, f), (tuple(answer), True)) for f, answer in zip(formulas, done))

    def from_store(self, folder: str | None, macros: dict[str, str], formulas: list[Formula]) -> list[Formula]:
        """Takes what the store holds; returns the rest."""
        disk, key = self.store(folder), json.dumps(macros, sort_keys=True)
        if disk is None or not formulas:
            return formulas
        stored: dict[Formula, tuple[bool, str]] = {}
        missing = disk.fill(stored, key, formulas)
        self.known.update(((key, f), (answer, False)) for f, answer in stored.items())
        self.kept.update((folder, key, f) for f in stored)
        return missing

    def answer(self, folder: str | None, macros: dict[str, str], batch: list[list]) -> str:
        """The reply to one request: each formula's answer, and how many V8 typeset."""
        key, wanted = json.dumps(macros, sort_keys=True), [Formula(tex, display) for tex, display in batch]
        missing = self.from_store(folder, macros, [f for f in wanted if (key, f) not in self.known])
        if missing:
            self.typeset(missing, macros)
        answers = [self.known[key, f] for f in wanted]
        new = [f for f in dict.fromkeys(wanted) if (folder, key, f) not in self.kept]
        if new and self.store(folder) is not None:
            self.to_keep.setdefault((folder, key), []).extend(new)
            self.kept.update((folder, key, f) for f in new)
            if sum(len(waiting) for waiting in self.to_keep.values()) >= self.KEEP_AT:
                self.keep()
        return json.dumps([[answer for answer, _ in answers], sum(by_v8 for _, by_v8 in answers)],
                          ensure_ascii=False)

    def close(self) -> None:
        self.keep()
        if self.v8 is not None:
            self.v8.close()


def _serve(folder: str, content: str) -> None:
    """The child: answers batches of formulas from stdin until stdin closes (UTF-8 both ways, whatever the
    locale). While no batch waits, it typesets the formulas the course seems to hold and the store lacks, so
    that most are ready before the build asks for them."""

    def say(line: str) -> None:
        sys.stdout.buffer.write(line.encode("utf-8") + b"\n")
        sys.stdout.buffer.flush()

    try:
        course = _Course(Path(content)) if content else None
    except OSError:  # a file the build will report: no guesses
        course = None
    if course is not None and not course.texts:
        say(Engine.NO_MATH)
        return
    say(Engine.READY)
    requests: queue.SimpleQueue = queue.SimpleQueue()
    threading.Thread(target=lambda: [requests.put(line) for line in sys.stdin.buffer] + [requests.put(None)],
                     daemon=True).start()
    child = _Child()
    guesses = child.from_store(folder or None, course.macros, course.formulas()) if course else []
    while True:
        if guesses and requests.empty():  # guessing goes on between batches
            chunk, guesses = guesses[:GUESS_CHUNK], guesses[GUESS_CHUNK:]
            try:
                child.typeset(chunk, course.macros)
            except Exception:  # noqa: BLE001 - V8 cannot start: the build's first batch says why
                guesses = []
            continue
        if requests.empty():
            child.keep()  # idle: the build is rendering, or done
        line = requests.get()
        if line is None:
            break
        try:
            say(child.answer(*json.loads(line)))
        except Exception as err:  # noqa: BLE001 - reported by the build, not as a traceback here
            say(json.dumps(f"V8 could not typeset: {type(err).__name__}: {err}", ensure_ascii=False))
    child.close()


_thread = None  # (pid, job queue) once this process has started its typesetting thread


def _in_typesetting_thread(job) -> None:
    """Runs `job` in this process's typesetting thread, which waits on the child."""
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


class Typesetter:
    """One build's formulas: `add` each page's as it is converted, `finish` once all are added, then `page`
    gives each page's typeset. The formulas not yet known go to this process's typesetting thread, which
    sends all that is waiting to the child (the store's answers, or V8's) while the pages that follow are
    converted."""

    def __init__(self, macros: dict[str, str]):
        self.known = course_macros(macros)
        self.answers = _typeset.setdefault(json.dumps(self.known, sort_keys=True), {})
        self.folder = store_folder()
        self.waiting: list[Formula] = []
        self.typeset = 0  # formulas V8 typeset (the rest came from this process's memory or the store)
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
        """Waits until every added formula is typeset; a failure of the thread is raised here."""
        with self.changed:
            while self.scheduled:
                self.changed.wait()
        if isinstance(self.failure, EngineFailed):
            raise ProblemsFound([Problem("V8 (the mini-racer package)", "", f"formulas cannot be typeset: {self.failure}",
                                         "reinstall it: pip install --force-reinstall mini-racer")]) from None
        if self.failure is not None:
            raise self.failure

    def _typeset_waiting(self) -> None:
        """A job of the typesetting thread: until nothing is waiting, send it to the child."""
        try:
            while True:
                with self.changed:
                    batch, self.waiting = self.waiting, []
                    if not batch:
                        self.scheduled = False
                        self.changed.notify_all()
                        return
                batch = list(dict.fromkeys(f for f in batch if f not in self.answers))
                if batch:
                    done, typeset = engine().typeset(batch, self.known, self.folder)
                    self.answers.update(zip(batch, done))
                    self.typeset += typeset
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

    html[:] = [_NUMBERING.sub(number, text) if "tml-" in text or "<mtr id=" in text else text for text in html]
    errors = {}

    def reference(index: int, match: re.Match) -> str:
        shown = labels.get(match[1])
        if shown is None:
            errors[index] = f"no numbered equation on this page has the label this refers to ('{match[1]}')"
            return match[0]
        text = shown if match[2] else shown.strip("()")
        return f'<a href="#{match[1]}" class="tml-ref{match[2] or ""}">{text}</a>'

    html[:] = [_REFERENCE.sub(lambda m, i=i: reference(i, m), text) if "tml-ref" in text else text
               for i, text in enumerate(html)]
    return errors


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


if __name__ == "__main__":
    _serve(*sys.argv[1:3])
