"""`unsmudge import mkdocs PATH` and `unsmudge import markdown PATH`: write a course folder from another
format. Problems stop the import with nothing written; what could not be carried over is printed and
kept in the course's import-report.md."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from unsmudge.importer import course_folder
from unsmudge.importer.markdown_tree import read_tree
from unsmudge.importer.mkdocs import read_project
from unsmudge.importer.outline import Outline, plan
from unsmudge.problems import ProblemsFound, report
from unsmudge.site import write_site

KINDS = {"mkdocs": "MkDocs project", "markdown": "markdown tree"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    kinds = parser.add_subparsers(dest="kind", required=True, metavar="KIND")
    mkdocs = kinds.add_parser("mkdocs", help="an MkDocs or Material for MkDocs project (its mkdocs.yml)")
    markdown = kinds.add_parser("markdown", help="a plain markdown tree (a folder per section, README.md per lesson)")
    for sub in (mkdocs, markdown):
        sub.add_argument("path", type=Path, metavar="PATH",
                         help="the project folder (or its mkdocs.yml)" if sub is mkdocs else "the tree's root folder")
        sub.add_argument("--out", type=Path, default=Path("content"), metavar="DIR",
                         help="the course folder to write (default: content)")
        sub.add_argument("--force", action="store_true", help="replace a course already in --out")
        sub.add_argument("--source-url", default="", metavar="URL",
                         help="where the source is published, e.g. https://github.com/you/course/tree/main: "
                              "links to its folders of code or data lead there")
    markdown.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                          help="leave out what matches (.gitignore style, e.g. 'translations/'); repeatable")


def run(args: argparse.Namespace) -> int:
    """Import; the exit status. Problems are printed with their file, place and fix, exit 1."""
    try:
        _, imported = import_course(args.kind, args.path, args.out, args.force, getattr(args, "exclude", []),
                                    args.source_url)
    except ProblemsFound as err:
        print(report(err.problems, "nothing was written"), file=sys.stderr)
        return 1
    print(imported, end="")
    return 0


def import_course(kind: str, path: Path, out: Path, force: bool = False, exclude: list[str] = (),
                  source_url: str = "") -> tuple[Outline, str]:
    """Read the source, write the course folder into `out` in one swap; (the outline, the report)."""
    path, out = Path(path), Path(out)
    source = read_project(path, skip=out) if kind == "mkdocs" else read_tree(path, list(exclude), skip=out)
    source.source_url = source_url
    course_folder.check_target(out, source.root, force)
    planned = plan(source)
    files = course_folder.course_files(planned)
    report = course_folder.report(planned, KINDS[kind], out, files)
    files[course_folder.REPORT] = report.encode()
    write_site(files, out)
    return planned, report
