"""YAML as MkDocs projects write it: PyYAML (the import's own dependency, loaded lazily), safe loading,
and tags such as `!!python/name:...` or `!ENV` read as plain values instead of refused."""

from __future__ import annotations

import functools
from pathlib import Path

from unsmudge.problems import Problem, ProblemsFound, display_path

INSTALL = "pip install pyyaml"


def _yaml():
    try:
        import yaml
    except ImportError:
        raise ProblemsFound([Problem("unsmudge import", "", "reading YAML needs PyYAML, which is not installed",
                                     f"run `{INSTALL}` (or `pip install unsmudge[import]`)")]) from None
    return yaml


@functools.cache
def _loader():
    yaml = _yaml()

    class Loader(yaml.SafeLoader):
        """Safe loading; a tag that would call Python or read the environment keeps its written value."""

    def plain(loader, suffix, node):
        if isinstance(node, yaml.ScalarNode):
            return loader.construct_scalar(node)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node, deep=True)
        return loader.construct_mapping(node, deep=True)

    Loader.add_multi_constructor("!", plain)
    Loader.add_multi_constructor("tag:yaml.org,2002:python/", plain)
    return Loader


def read(path: Path) -> tuple[object, str, str]:
    """A YAML file's (data, text, name as shown); a file that cannot be read is a Problem."""
    shown = display_path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise ProblemsFound([Problem(shown, "", f"cannot read the file ({err})", "save it as UTF-8 text")]) from None
    return load(text, shown), text, shown


def load(text: str, shown: str, first_line: int = 1):
    """The data in `text`; a syntax error is a Problem naming `shown` and the line (counted from
    `first_line`, the line of the file `text` starts on)."""
    yaml = _yaml()
    try:
        return yaml.load(text, Loader=_loader())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + first_line}" if mark else ""
        message = " ".join(str(getattr(err, "problem", None) or err).split())
        raise ProblemsFound([Problem(shown, where, f"invalid YAML: {message}", "fix the YAML syntax")]) from None


def place(shown: str, text: str, needle: str) -> str:
    """'file: line N' where `needle` is first written, for notes; just the file when it is not found."""
    line = line_of(text, needle)
    return f"{shown}: {line}" if line else shown


def line_of(text: str, needle: str) -> str:
    """'line N' where `needle` is first written in `text` (PyYAML's data keeps no positions)."""
    for number, line in enumerate(text.split("\n"), 1):
        if needle in line:
            return f"line {number}"
    return ""


def text_value(value) -> str:
    """A YAML value as one line of text; '' when it is not a string."""
    return " ".join(value.split()) if isinstance(value, str) else ""
