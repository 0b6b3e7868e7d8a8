"""User-facing problems: every mistake in the input becomes one Problem naming file, place and fix.

Loaders collect Problems instead of raising at the first one, so a build reports them all at once;
the CLI prints them and exits with status 1, never with a traceback.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, order=True)
class Problem:
    file: str  # path as the user would type it
    where: str  # "line 3", "key 'steps'", or "" when the whole file is at fault
    message: str  # what is wrong
    fix: str = ""  # what to do about it

    def __str__(self) -> str:
        place = f"{self.file}: {self.where}" if self.where else self.file
        text = f"{place}: {self.message}"
        return f"{text}\n    fix: {self.fix}" if self.fix else text

    def sort_key(self) -> tuple:
        """By file, then place with numbers compared as numbers ("line 6" before "line 17")."""
        place = tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", self.where))
        return self.file, place, self.message, self.fix


def ordered(problems: list[Problem]) -> list[Problem]:
    """Each problem once, in the order they are shown: by file, then place."""
    return sorted(set(problems), key=Problem.sort_key)


class ProblemsFound(Exception):
    """Raised once, after gathering, with every problem found; `blocking` says why even a build that keeps
    going despite problems (`--keep-going`) could not write the site ("" when it was not asked to)."""

    def __init__(self, problems: list[Problem], blocking: str = ""):
        self.problems = ordered(problems)
        self.blocking = blocking
        super().__init__("\n".join(str(p) for p in self.problems))


def report(problems: list[Problem], consequence: str = "") -> str:
    """The one way problems are shown, in the terminal and in the preview: each with its place and fix,
    then how many there are and, when given, what that means ("nothing was written")."""
    count = len(problems)
    summary = f"{count} problem{'s' if count != 1 else ''} found" + (f"; {consequence}." if consequence else ".")
    return "\n".join(str(p) for p in problems) + f"\n\n{summary}"


def display_path(path: Path) -> str:
    """A path relative to the working directory when possible, for messages.

    String arithmetic on absolute paths, not resolve(): a build shows every lesson's path, and
    resolving each one costs more than the rest of the check."""
    absolute, base = os.path.abspath(path), os.getcwd().rstrip(os.sep) + os.sep
    return Path(absolute[len(base):]).as_posix() if absolute.startswith(base) else str(path)


def pydantic_problems(file: str, error, line_of_key=None) -> list[Problem]:
    """Turn a pydantic ValidationError into Problems; `line_of_key(loc)` may map a key path to a line."""
    problems = []
    for err in error.errors():
        path = tuple(part for part in err["loc"] if part != "[key]")  # pydantic marks a dict's key so
        loc = ".".join(str(part) for part in path)
        where = f"key '{loc}'" if loc else ""
        line = line_of_key(path) if line_of_key else None
        if line:
            where = f"line {line}, {where}" if where else f"line {line}"
        message, fix = _explain(err, loc)
        problems.append(Problem(file, where, message, fix))
    return problems


def _explain(err: dict, loc: str) -> tuple[str, str]:
    """pydantic's message for one error, and the fix it implies."""
    kind, ctx, message = err["type"], err.get("ctx", {}), err["msg"]
    if kind == "extra_forbidden":
        return f"unknown key '{loc}'", "remove it or check its spelling"
    if kind == "missing":
        return f"required key '{loc}' is missing", f"add '{loc}'"
    if kind == "value_error":  # our own validators already say what to do
        return message.removeprefix("Value error, "), ""
    fixes = {
        "greater_than_equal": lambda: f"use a value of at least {ctx.get('ge')}",
        "greater_than": lambda: f"use a value above {ctx.get('gt')}",
        "less_than_equal": lambda: f"use a value of at most {ctx.get('le')}",
        "less_than": lambda: f"use a value below {ctx.get('lt')}",
        "too_short": lambda: f"give at least {ctx.get('min_length')} item(s)",
        "string_too_short": lambda: "write some text",
        "literal_error": lambda: f"use {ctx.get('expected')}",
    }
    if kind in fixes:
        return message, fixes[kind]()
    return message, f"give '{loc}' a value of the right type" if "type" in kind or "parsing" in kind else ""


def toml_problem(shown: str, err: ValueError, offset: int, text: str) -> Problem:
    """A tomllib.TOMLDecodeError as a Problem; `offset` lines precede `text` in the file."""
    # tomllib (before 3.14) keeps the position only in its message: "... (at line 3, column 5)"
    found = re.search(r"line (\d+)", str(err))
    message = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", str(err))
    line = int(found[1]) if found else text.count("\n") + 1  # "at end of document": the last line
    where = f"line {line + offset}"
    return Problem(shown, where, f"invalid TOML: {message}", "fix the TOML syntax")


_HEADER = re.compile(r"\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")


_ASSIGNMENT = re.compile(r"""\s*("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_-]+)\s*=""")


def _assigned_key(line: str) -> str | None:
    """The key a `key = value` line sets, as TOML reads it ("\\\\E" is \\E), or None."""
    found = _ASSIGNMENT.match(line)
    if not found:
        return None
    try:
        return next(iter(tomllib.loads(f"{found[1]} = 0")))
    except tomllib.TOMLDecodeError:
        return None


def key_line(text: str, loc: tuple, offset: int = 0) -> int | None:
    """The line that sets `loc` (a key path such as ('narration', 'audio')); tomllib keeps no positions.
    A table header names one or more levels at once (`[math.macros]`); the deepest line found wins."""
    lines = text.splitlines()
    parts = [p for p in loc if isinstance(p, str)]
    start, found, depth = 0, None, 0
    while depth < len(parts):
        for number in range(start, len(lines)):
            header = _HEADER.match(lines[number])
            if header:
                names = [name.strip().strip("\"'") for name in header[1].split(".")]
                if names[:depth + 1] != parts[:depth + 1]:
                    continue
                deeper = depth + 1
                while deeper < len(names) and deeper < len(parts) and names[deeper] == parts[deeper]:
                    deeper += 1
                if deeper < len(names) and deeper < len(parts):
                    continue  # a sub-table beside the path
                start, found, depth = number + 1, number + 1, deeper
                break
            if _assigned_key(lines[number]) == parts[depth]:
                start, found, depth = number + 1, number + 1, depth + 1
                break
        else:
            break
    return found + offset if found else None
