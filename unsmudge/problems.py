"""User-facing problems: every mistake in the input becomes one Problem naming file, place and fix.

Loaders collect Problems instead of raising at the first one, so a build reports them all at once;
the CLI prints them and exits with status 1, never with a traceback.
"""

from __future__ import annotations

import os
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


class ProblemsFound(Exception):
    """Raised once, after gathering, with every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(set(problems))
        super().__init__("\n".join(str(p) for p in self.problems))


def display_path(path: Path, root: Path | None = None) -> str:
    """A path relative to the working directory (or `root`) when possible, for messages.

    String arithmetic on absolute paths, not resolve(): a build shows every lesson's path, and
    resolving each one costs more than the rest of the check."""
    absolute = os.path.abspath(path)
    for base in (root, os.getcwd()):
        if base is None:
            continue
        base = os.path.abspath(base)
        if absolute.startswith(base.rstrip(os.sep) + os.sep):
            return Path(absolute[len(base.rstrip(os.sep)) + 1:]).as_posix()
    return str(path)


def pydantic_problems(file: str, error, line_of_key=None) -> list[Problem]:
    """Turn a pydantic ValidationError into Problems; `line_of_key(loc)` may map a key path to a line."""
    problems = []
    for err in error.errors():
        loc = ".".join(str(part) for part in err["loc"])
        where = f"key '{loc}'" if loc else ""
        line = line_of_key(err["loc"]) if line_of_key else None
        if line:
            where = f"line {line}, {where}" if where else f"line {line}"
        kind = err["type"]
        if kind == "extra_forbidden":
            message, fix = f"unknown key '{loc}'", "remove it or check its spelling"
        elif kind == "missing":
            message, fix = f"required key '{loc}' is missing", f"add '{loc}'"
        else:
            message, fix = err["msg"], ""
        problems.append(Problem(file, where, message, fix))
    return problems
