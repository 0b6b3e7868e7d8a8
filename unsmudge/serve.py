"""`unsmudge serve`: preview from memory on 127.0.0.1, re-rendering only what changed.

The site is held in memory (`Builder.files`), never written to disk. A watcher polls the content,
theme and frames folders; an edit to one lesson's body re-renders that page alone (and marks the
search index stale: it is remade, at its old URL, when next asked for); anything else (front matter,
course.toml, templates, new frames) rebuilds everything. Pages get one extra classic
script, /__unsmudge/livereload.js, which listens on an EventSource and reloads on each new version: no
inline script, so the page's CSP holds in preview too. The preview keeps going despite problems as
`build --keep-going` does (marked in place, listed on /problems.html and in the terminal); only a problem
that leaves a page impossible replaces the site with the list.
"""

from __future__ import annotations

import html
import mimetypes
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from unsmudge.problems import Problem, ProblemsFound, report
from unsmudge.site import CSP, Builder, Options
from unsmudge.theme import default_theme

LIVERELOAD = b"""(function () {
  var seen = null, source = new EventSource("/__unsmudge/events");
  source.onmessage = function (event) {
    if (seen !== null && event.data !== seen) window.location.reload();
    seen = event.data;
  };
})();
"""
INJECT = b'<script src="/__unsmudge/livereload.js"></script>\n</body>'


class Preview:
    """The current site in memory, its version, and what to show when the course has problems."""

    def __init__(self, options: Options):
        self.options = options
        self.builder: Builder | None = None
        self.files: dict[str, bytes | Path] = {}
        self.error: str | None = None  # the problems that stopped the site being made, shown instead of it
        self.report: str | None = None  # the problems, as the terminal shows them (None when there are none)
        self.version = 0
        self.search_stale = False  # a lesson body changed since the search index was made
        self.changed = threading.Condition()
        self.snapshot = self._scan()

    def watched(self) -> list[Path]:
        folders = [self.options.content, default_theme()]
        return folders + [self.options.frames] if Path(self.options.frames).is_dir() else folders

    def _scan(self) -> dict[Path, float]:
        stamps = {}
        for folder in self.watched():
            for path in Path(folder).rglob("*"):
                if path.is_file():
                    stamps[path] = path.stat().st_mtime_ns
        return stamps

    def rebuild(self) -> None:
        started = time.perf_counter()
        builder = Builder(self.options)
        try:
            self.files = builder.gather()
            self.builder, self.error, self.search_stale = builder, None, False
            self.report = report(builder.problems, "the preview shows them in place and lists them on "
                                 "/problems.html") if builder.problems else None
        except ProblemsFound as err:
            self.error = self.report = report(err.problems, f"the preview cannot show the site: {err.blocking}"
                                              if err.blocking else "")
        self._announce(f"rebuilt the site in {(time.perf_counter() - started) * 1000:.0f} ms")

    def update(self) -> None:
        """Called by the watcher: re-render what the changed files reach."""
        snapshot = self._scan()
        changed = {p for p in snapshot.keys() | self.snapshot.keys() if snapshot.get(p) != self.snapshot.get(p)}
        self.snapshot = snapshot
        if not changed:
            return
        lessons_dir = (Path(self.options.content) / "lessons").resolve()
        only_lessons = all(p.suffix == ".md" and p.resolve().parent == lessons_dir and p.exists() for p in changed)
        if self.builder is None or self.error or not only_lessons:
            return self.rebuild()
        started = time.perf_counter()
        pages = {}
        for path in sorted(changed):
            result = self.builder.rerender_lesson(path)
            if result is None:  # the change reaches other pages, or brings or clears a problem
                return self.rebuild()
            pages.update(result)
        self.search_stale = True  # the pages are in self.files already: it is the builder's dict
        self._announce(f"re-rendered {', '.join(pages)} in {(time.perf_counter() - started) * 1000:.0f} ms")

    def _announce(self, message: str) -> None:
        print(message if not self.report else f"{self.report}\n{message}; fix and save, the page reloads",
              file=sys.stderr)
        with self.changed:
            self.version += 1
            self.changed.notify_all()

    def page(self, path: str) -> tuple[int, str, bytes]:
        if self.error:
            body = (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
                    f'<meta http-equiv="Content-Security-Policy" content="{CSP}"><title>Problems</title></head>'
                    f"<body><h1>The course has problems</h1><pre>{html.escape(self.error)}</pre></body></html>")
            return 200, "text/html; charset=utf-8", body.encode().replace(b"</body>", INJECT)
        rel = path.lstrip("/") or "index.html"
        if rel.endswith("/"):
            rel += "index.html"
        if self.search_stale and rel == self.builder.search_url:  # no-store: the stale hash in its URL is harmless
            self.files[rel], self.search_stale = self.builder.search_index(), False
        data = self.files.get(rel)
        if data is None:
            status, rel, data = 404, "404.html", self.files.get("404.html", b"not found")
        else:
            status = 200
        if isinstance(data, Path):
            data = data.read_bytes()
        kind = mimetypes.guess_type(rel)[0] or "application/octet-stream"
        if kind == "text/html":
            data = data.replace(b"</body>", INJECT)
        if kind.startswith("text/") or kind in ("application/javascript", "application/xml"):
            kind += "; charset=utf-8"
        return status, kind, data


def _handler(preview: Preview):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            path = unquote(urlsplit(self.path).path)
            if path == "/__unsmudge/livereload.js":
                return self._send(200, "text/javascript; charset=utf-8", LIVERELOAD)
            if path == "/__unsmudge/events":
                return self._events()
            self._send(*preview.page(path))

        def _send(self, status: int, kind: str, data: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def _events(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            version = None
            try:
                while True:
                    with preview.changed:
                        if version == preview.version:
                            preview.changed.wait(timeout=15)
                        version = preview.version
                    self.wfile.write(f"data: {version}\n\n".encode())
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args) -> None:  # requests are not news; rebuilds are
            pass

    return Handler


def serve(content: Path, frames: Path, port: int = 8000) -> int:
    preview = Preview(Options(content=Path(content), frames=Path(frames), keep_going=True, jobs=1))
    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), _handler(preview))
    except OSError as err:
        raise ProblemsFound([Problem("--port", "", f"cannot listen on 127.0.0.1:{port} ({err.strerror})",
                                     "pass another port, e.g. --port 8001")]) from None
    preview.rebuild()
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"serving {content} on http://127.0.0.1:{port}/ (Ctrl+C stops)", file=sys.stderr)
    try:
        while True:
            time.sleep(0.3)
            preview.update()
    finally:
        server.shutdown()
