"""Browser tests: the built site in real headless Chromium (Debian's `chromium`, driven by Playwright).

One session builds the fixture course (tests/browser/course/) with fake frames (tests/fakeframes.py) through
the `unsmudge build` command, then every test opens it either from file:// or from a local HTTP server
that serves it under the /course/ sub-path, as GitHub Pages does for a project site.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import sync_playwright

from tests.commands import build_in_subprocess
from tests.fakeframes import fake_frames

HERE = Path(__file__).parent
COURSE = HERE / "course"
CHROMIUM = os.environ.get("UNSMUDGE_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> Path:
    """The fixture course built into <tmp>/root/course/ (so the HTTP server can serve it under /course/)."""
    tmp = tmp_path_factory.mktemp("browser")
    content = tmp / "content"
    shutil.copytree(COURSE, content)
    frames = tmp / "frames"
    fake_frames(content, frames)
    out = tmp / "root" / "course"
    result = build_in_subprocess(content, frames, out, SOURCE_DATE_EPOCH="315532800")
    assert result.returncode == 0, f"unsmudge build failed:\n{result.stdout}\n{result.stderr}"
    assert (out / "index.html").is_file()
    return out


class _Handler(SimpleHTTPRequestHandler):
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, ".webp": "image/webp", ".js": "text/javascript",
                      ".mp3": "audio/mpeg", ".svg": "image/svg+xml", ".woff2": "font/woff2"}
    served: list[str]  # every path asked for, in order (shared by the server's threads); one list per server

    def do_GET(self):
        self.served.append(self.path)
        super().do_GET()

    def log_message(self, format, *args):  # keep the test output quiet
        pass


@contextlib.contextmanager
def sub_path_server(site: Path):
    """A threaded HTTP server on 127.0.0.1 with `site` (a folder named course) at /course/, as on a GitHub Pages
    project site. Yields the server, with `root` (its URL, ending in /) and `served`; stopped on exit."""
    assert site.name == "course", site
    handler = type("Handler", (_Handler,), {"served": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(site.parent)))
    httpd.root = f"http://127.0.0.1:{httpd.server_address[1]}/course/"
    httpd.served = handler.served
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def server(built_site):
    """The built fixture course under /course/ of a local server."""
    with sub_path_server(built_site) as httpd:
        yield httpd


@pytest.fixture
def served(server) -> list[str]:
    """The paths the HTTP server is asked for from now on, in order (the list grows as the test goes on)."""
    server.served.clear()  # not what earlier tests asked for
    return server.served


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM)
        yield chromium
        chromium.close()


@pytest.fixture(params=["file", "http"])
def origin(request, built_site, server) -> str:
    """The site's root URL (ending in /), from disk or under the /course/ sub-path of a local server."""
    if request.param == "file":
        return built_site.as_uri() + "/"
    return server.root


class Watch:
    """Everything a page did that a clean site never does: console errors, script errors, failed
    requests and requests to another host."""

    def __init__(self, page, root: str):
        self.page = page
        self.root = root
        self.problems: list[str] = []
        self.requests: list[str] = []
        split = urlsplit(root)
        self.allowed = (split.scheme, split.netloc)
        self.navigations = 0
        self.started: dict = {}  # request -> how many navigations had happened when it started
        self.aborted: list[tuple[str, int]] = []
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("requestfailed", self._failed)
        page.on("framenavigated", lambda frame: frame == page.main_frame and self._navigated())
        page.on("response", lambda r: r.status >= 400 and not r.url.endswith("/favicon.ico")
                and self.problems.append(f"HTTP {r.status}: {r.url}"))
        page.on("request", self._request)

    def _console(self, message):
        if message.type != "error":
            return
        where = (message.location or {}).get("url", "")
        if where.endswith("/favicon.ico"):
            return  # see _request
        self.problems.append(f"console error: {message.text} ({where})")

    def _navigated(self):
        self.navigations += 1

    def _failed(self, request):
        # Leaving a page cancels what it was still loading (often the icon): net::ERR_ABORTED for a request
        # that began before the latest navigation is the browser moving on, not the site failing.
        # (The browser may report the failure before the navigation itself, so this is decided at the end.)
        if request.failure == "net::ERR_ABORTED":
            self.aborted.append((request.url, self.started.get(request, self.navigations)))
            return
        self.problems.append(f"request failed: {request.url} ({request.failure})")

    def _request(self, request):
        self.started[request] = self.navigations
        self.requests.append(request.url)
        split = urlsplit(request.url)
        if split.scheme == "data":
            return
        if split.scheme == "http" and split.path == "/favicon.ico" and split.netloc == self.allowed[1]:
            # Chromium asks the host root for an icon unless the page declares one, and remembers a miss
            # for the whole browser, so only the first page would see it: test_site checks the declaration.
            return
        if (split.scheme, split.netloc) != self.allowed:
            self.problems.append(f"request to another place: {request.url}")
        elif split.scheme == "http" and not split.path.startswith(urlsplit(self.root).path):
            self.problems.append(f"request outside the site's sub-path: {request.url}")

    def goto(self, path: str):
        self.page.goto(self.root + path)
        return self.page

    def assert_clean(self):
        aborted = [f"request failed: {url} (net::ERR_ABORTED)" for url, started in self.aborted
                   if started >= self.navigations]
        assert self.problems + aborted == []


@pytest.fixture
def context_options() -> dict:
    return {}


@pytest.fixture
def watch(browser, origin, context_options):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, **context_options)
    page = context.new_page()
    page.set_default_timeout(10_000)
    watched = Watch(page, origin)
    yield watched
    context.close()
