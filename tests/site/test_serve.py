"""`unsmudge serve`: placeholder for missing frames, single-lesson re-render, errors in the browser,
live reload through a classic script."""

import os
import threading
import time
import urllib.request
from http.server import ThreadingHTTPServer

from tests.site.helpers import fixture_course
from unsmudge.serve import Preview, _handler
from unsmudge.site import Options


def _preview(tmp_path, frames=False):
    content, build = fixture_course(tmp_path, frames=frames)
    preview = Preview(Options(content=content, frames=build, keep_going=True))
    preview.rebuild()
    return content, preview


def _touch(path, text):
    path.write_text(text)
    stamp = time.time_ns() + 10_000_000_000  # a clearly newer mtime, whatever the clock's resolution
    os.utime(path, ns=(stamp, stamp))


def test_missing_frames_show_a_placeholder_instead_of_failing(tmp_path):
    _, preview = _preview(tmp_path)
    assert preview.error is None
    page = preview.files["flagship.html"].decode()
    assert 'class="demo-missing"' in page and "Run <code>unsmudge precompute</code>" in page
    assert "slider" not in page.split("</head>")[0]  # no slider assets without a slider


def test_editing_a_lesson_body_re_renders_only_that_page(tmp_path):
    content, preview = _preview(tmp_path, frames=True)
    before = dict(preview.files)
    version = preview.version
    lesson = content / "lessons" / "basics.md"
    _touch(lesson, lesson.read_text().replace("Alpha body.", "Alpha body, edited."))
    preview.update()
    assert preview.version == version + 1
    changed = [name for name in before if preview.files[name] is not before[name]]
    assert changed == ["basics.html"]
    assert b"Alpha body, edited." in preview.files["basics.html"]


def test_search_finds_an_edited_lesson_body(tmp_path):
    content, preview = _preview(tmp_path, frames=True)
    index = next(name for name in preview.files if name.startswith("assets/search-index."))
    assert b"Alpha body, edited." not in preview.page("/" + index)[2]
    lesson = content / "lessons" / "basics.md"
    _touch(lesson, lesson.read_text().replace("Alpha body.", "Alpha body, edited."))
    preview.update()
    assert b"Alpha body, edited." in preview.page("/" + index)[2]


def test_editing_front_matter_rebuilds_every_page(tmp_path):
    content, preview = _preview(tmp_path, frames=True)
    before = dict(preview.files)
    lesson = content / "lessons" / "basics.md"
    _touch(lesson, lesson.read_text().replace('title = "Basics"', 'title = "Basics, renamed"'))
    preview.update()
    pages = [name for name in before if name.endswith(".html")]
    assert len(pages) >= 4 and all(preview.files[name] is not before[name] for name in pages)
    assert b"Prereq: \xe2\x86\x91 Basics, renamed" in preview.files["flagship.html"]
    assert b"Basics, renamed" in preview.files["index.html"]


def test_problems_show_in_the_browser_until_fixed(tmp_path):
    content, preview = _preview(tmp_path, frames=True)
    lesson = content / "lessons" / "after.md"
    good = lesson.read_text()
    _touch(lesson, good + "\n[broken](nowhere.md)\n")
    preview.update()
    status, kind, body = preview.page("/after.html")
    assert b'<span class="broken-mark">broken link</span> broken' in body and status == 200
    assert b"broken link &#39;nowhere.md&#39;" in preview.page("/problems.html")[2]
    _touch(lesson, good)
    preview.update()
    assert preview.error is None and b"The end." in preview.page("/after.html")[2]
    assert "problems.html" not in preview.files


def test_pages_are_served_with_the_live_reload_script(tmp_path):
    _, preview = _preview(tmp_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(preview))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        page = urllib.request.urlopen(f"{base}/").read()
        assert b'<script src="/__unsmudge/livereload.js"></script>\n</body>' in page
        script = urllib.request.urlopen(f"{base}/__unsmudge/livereload.js").read()
        assert b"EventSource" in script
        events = urllib.request.urlopen(f"{base}/__unsmudge/events", timeout=5)
        assert events.readline() == f"data: {preview.version}\n".encode()
        try:
            urllib.request.urlopen(f"{base}/missing.html")
        except urllib.error.HTTPError as err:
            assert err.code == 404 and b"Page not found" in err.read()
        else:
            raise AssertionError("a missing page must answer 404")
    finally:
        server.shutdown()


def test_new_frames_replace_the_placeholder(tmp_path):
    from tests.fakeframes import fake_frames

    content, preview = _preview(tmp_path)
    assert b"demo-missing" in preview.files["flagship.html"]
    fake_frames(content, tmp_path / "build", "tiny")
    preview.update()
    page = preview.files["flagship.html"]
    assert b"demo-missing" not in page and b'id="demo-data-tiny"' in page
