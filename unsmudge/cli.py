"""`unsmudge build | serve | new | precompute | import`.

User mistakes arrive as ProblemsFound: every problem is printed with its file, place and fix, and the
command exits 1 without a traceback. `precompute` and `import` are imported only when asked for;
precompute loads torch only when runs are missing.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from pathlib import Path

from unsmudge import __version__
from unsmudge.problems import ProblemsFound, display_path, report


def _common(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--content", type=Path, default=Path("content"), metavar="DIR",
                     help="the course folder (default: content)")
    sub.add_argument("--frames", type=Path, default=Path("build"), metavar="DIR",
                     help="where `unsmudge precompute` wrote the demo frames (default: build)")


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="unsmudge", description="Build interactive ML lessons into a static site.")
    parser.add_argument("--version", action="version", version=f"unsmudge {__version__}")
    subs = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    build = subs.add_parser("build", help="build the static site (never runs a model)")
    _common(build)
    build.add_argument("--out", type=Path, default=Path("site"), metavar="DIR", help="output folder (default: site)")
    build.add_argument("--zip", type=Path, metavar="FILE", help="also write an offline zip of the site")
    build.add_argument("--base-url", metavar="URL",
                       help="the site's public URL, for 404.html and sitemap.xml (overrides course.toml)")
    build.add_argument("--keep-going", action="store_true",
                       help="write the site despite problems, each marked where it is and listed in problems.html "
                            "(still exits 1; stops only when a page cannot be made at all)")

    serve = subs.add_parser("serve", help="preview on 127.0.0.1 with live reload")
    _common(serve)
    serve.add_argument("--port", type=int, default=8000, help="port (default: 8000)")

    new = subs.add_parser("new", help="write a starter project into DIR (its course in DIR/content)")
    new.add_argument("dir", type=Path, metavar="DIR")

    precompute = subs.add_parser("precompute", help="compute demo frames into build/ (loads the model)")
    if argv[:1] == ["precompute"]:  # its options only when asked for: keeps `build` start-up lean
        _precompute_command().add_arguments(precompute)
    imported = subs.add_parser("import", help="turn an MkDocs project or a markdown tree into a course folder")
    if argv[:1] == ["import"]:  # its options only when asked for, like precompute's
        _import_command().add_arguments(imported)
    return parser


def _build(args) -> int:
    started = time.perf_counter()
    from unsmudge import formulas

    formulas.typeset_ahead(args.content)  # first: V8 typesets while the imports below load
    from unsmudge.site import PROBLEMS_PAGE, Options, build

    options = Options(args.content, args.frames, args.out, args.base_url, keep_going=args.keep_going)
    builder = build(options, args.zip)
    seconds = time.perf_counter() - started
    if builder.problems:
        print(report(builder.problems, "the site was written with each one marked where it is, and listed in "
                     + display_path(args.out / PROBLEMS_PAGE)), file=sys.stderr)
    print(f"built {len(builder.course.lessons)} lessons into {display_path(args.out)} in {seconds:.2f} s"
          + (f"; offline zip {display_path(args.zip)}" if args.zip else ""))
    return 1 if builder.problems else 0


def _serve(args) -> int:
    from unsmudge.serve import serve

    return serve(args.content, args.frames, args.port)


def _new(args) -> int:
    from unsmudge.starter import write_starter

    write_starter(args.dir)
    print(f"wrote a starter course into {display_path(args.dir)}/content; then:\n"
          f"    cd {display_path(args.dir)}\n"
          "    unsmudge precompute   # the demo's frames, from the built-in model (seconds on a CPU)\n"
          "    unsmudge build        # the site, in site/\n"
          "    unsmudge serve        # or a preview that reloads as you edit")
    return 0


def _precompute_command():
    return importlib.import_module("unsmudge.precompute.command")  # imports torch only when there is work to do


def _precompute(args) -> int:
    return _precompute_command().run(args)


def _import_command():
    return importlib.import_module("unsmudge.importer.command")


def _import(args) -> int:
    return _import_command().run(args)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    run = {"build": _build, "serve": _serve, "new": _new, "precompute": _precompute, "import": _import}[args.command]
    try:
        return run(args)
    except ProblemsFound as err:
        consequence = "nothing was written" if args.command in ("build", "new") else ""
        if err.blocking:
            consequence += f", even with --keep-going: {err.blocking}"
        print(report(err.problems, consequence), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def run() -> None:
    """The `unsmudge` command. When `main` returns, a build has written and closed the site and the zip and
    committed V8's answers to the formula store, so its process ends there, as mypy's does: tearing the
    interpreter down would free a build's objects one by one (docs/benchmarks.md, run AB)."""
    try:
        code = main()
    except BrokenPipeError:  # what reads the output went away (`| head -0`): the rest goes nowhere, quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 1
    if sys.argv[1:2] == ["build"]:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except OSError:  # as above, the report held back until now
            code = code or 1
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    run()
