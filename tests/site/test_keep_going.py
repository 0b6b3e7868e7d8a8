"""`unsmudge build --keep-going`: the site is written despite problems, each marked where it is and listed
on problems.html (linked from every page) and in the terminal, with exit status 1; problems that leave a
page impossible still stop it; without problems it writes the same bytes as a strict build. `unsmudge
serve` keeps going the same way."""

from __future__ import annotations

import time

import pytest

from tests.commands import tree
from tests.site.helpers import build, mini_course

HEAD = '+++\ntitle = "Two"\nmodule = 2\ntrack = "t"\n{extra}+++\n'
BROKEN = ("See [gone](gone.md) and <a href=\"nowhere.md\">raw link</a>.\n\n"
          "![A network](../media/none.png) and <img src=\"../media/lost.png\" alt=\"Raw picture\">.\n")


def two(body: str, extra: str = "") -> dict[str, str]:
    return {"lessons/two.md": HEAD.format(extra=extra) + body}


def keep_going(tmp_path, content, capsys, *extra):
    return build(tmp_path, content, capsys, "--keep-going", *extra)


def test_a_clean_course_gives_the_same_bytes_with_and_without_the_flag(tmp_path, capsys):
    content = mini_course(tmp_path, **{"pages/about.md": '+++\ntitle = "About"\n+++\nAbout.\n'})
    code, err = build(tmp_path, content, capsys)
    assert code == 0, err
    strict = tree(tmp_path / "site")
    code, err = keep_going(tmp_path, content, capsys)
    assert code == 0, err
    assert tree(tmp_path / "site") == strict
    assert not any(b"problems.html" in data for data in strict.values())


def test_the_site_is_written_with_every_problem_listed_and_exit_status_1(tmp_path, capsys):
    content = mini_course(tmp_path, **two(BROKEN))
    code, strict_err = build(tmp_path, content, capsys)
    assert code == 1 and not (tmp_path / "site").exists()
    code, err = keep_going(tmp_path, content, capsys)
    assert code == 1
    site = tmp_path / "site"
    # the terminal: the same list as the strict build, with what it means now
    assert err.split("\n\n")[0] == strict_err.split("\n\n")[0]
    assert "4 problems found; the site was written with each one marked where it is, and listed in" in err
    listing = (site / "problems.html").read_text()
    for message in ("broken link &#39;gone.md&#39;", "broken link &#39;nowhere.md&#39;",
                    "&#39;../media/none.png&#39; is not a file in the content folder", "&#39;../media/lost.png&#39;"):
        assert message in listing
    assert '<code>lessons/two.md</code> · <a href="two.html">its page</a>' in listing
    for page in ("index.html", "one.html", "two.html", "404.html", "problems.html"):
        assert '<a href="problems.html">Built with 4 problems: see the list</a>' in (site / page).read_text()


def test_a_formula_that_cannot_be_typeset_is_marked_where_it_is(tmp_path, capsys):
    content = mini_course(tmp_path, **two("Inline $\\frac{1}{$ here.\n\n$$\n\\undefinedthing\n$$\n"))
    code, err = keep_going(tmp_path, content, capsys)
    assert code == 1 and "2 problems found" in err
    page = (tmp_path / "site" / "two.html").read_text()
    mark = '<span class="broken-mark">formula error</span>'
    assert f'Inline <span class="math-error">{mark} <code>\\frac{{1}}{{</code></span> here.' in page
    assert f'<p class="math-error">{mark} <code>\\undefinedthing</code></p>' in page  # a block, as the formula


def test_a_broken_link_is_marked_text_and_a_missing_picture_its_alt_text(tmp_path, capsys):
    content = mini_course(tmp_path, **two(BROKEN))
    keep_going(tmp_path, content, capsys)
    page = (tmp_path / "site" / "two.html").read_text()
    assert '<a class="broken-link"><span class="broken-mark">broken link</span> gone</a>' in page
    assert '<a class="broken-link"><span class="broken-mark">broken link</span> raw link</a>' in page
    assert '<span class="broken-picture"><span class="broken-mark">missing picture</span> A network</span>' in page
    assert '<span class="broken-picture"><span class="broken-mark">missing picture</span> Raw picture</span>' in page
    assert "gone.md" not in page and "nowhere.md" not in page and ".png" not in page  # nothing that fails to load


def test_what_the_csp_blocks_is_left_out(tmp_path, capsys):
    body = ('<p style="color: red" onclick="go()">Styled.</p>\n\n<style>.x { margin: 0 }</style>\n\n'
            '<script>alert(1)</script>\n\n<a href="javascript:go()">Run</a> and after.\n')
    content = mini_course(tmp_path, **two(body))
    code, err = keep_going(tmp_path, content, capsys)
    assert code == 1 and "5 problems found" in err
    body = (tmp_path / "site" / "two.html").read_text().split('<div class="lesson-body">')[1].split("</article>")[0]
    assert "<p>Styled.</p>" in body and "and after." in body
    for blocked in ("style", "onclick", "margin", "script", "alert(1)", "javascript:"):
        assert blocked not in body


def test_front_matter_a_page_can_do_without_is_left_out(tmp_path, capsys):
    extra = ('prerequisites = ["nope"]\nnext = ["gone"]\n'
             '[narration]\naudio = "media/two.mp3"\ntranscript = "media/two.txt"\n')
    content = mini_course(tmp_path, **two("Text.\n", extra))
    code, err = keep_going(tmp_path, content, capsys)
    assert code == 1 and "4 problems found" in err
    page = (tmp_path / "site" / "two.html").read_text()
    assert "<audio" not in page and "Prereq" not in page and "What to read next" not in page
    assert not (tmp_path / "site" / "media").exists()


def test_missing_demos_show_a_placeholder_saying_what_to_run(tmp_path, capsys):
    content = mini_course(tmp_path, **two("```demo\nghost\n```\n\n```demo\nlater\n```\n"),
                          **{"demos/later.toml": 'title = "Later demo"\nprompts = ["a cat"]\n'})
    code, err = keep_going(tmp_path, content, capsys)
    assert code == 1
    assert "unknown demo 'ghost'" in err and "demo 'later' has no frames" in err
    page = (tmp_path / "site" / "two.html").read_text()
    assert "The demo <strong>ghost</strong> cannot be shown" in page
    assert "<strong>Later demo</strong>: the frames for this demo are not computed yet." in page
    assert page.count("Run <code>unsmudge precompute</code>") == 1 and page.count("run <code>unsmudge precompute") == 1


@pytest.mark.parametrize("files, reason", [
    ({"course.toml": 'title = "Mini\n'}, "the course file cannot be read"),
    ({"lessons/two.md": "# Two, no front matter\n"}, "'two' has no readable front matter, so its page has no title"),
    (two("Text.\n", 'colour = "red"\n'), "'two' has no readable front matter"),
    ({"lessons/two.md": '+++\ntitle = "Two"\nmodule = 2\ntrack = "x"\n+++\n'}, "lesson 'two' has no track"),
    ({"pages/index.md": '+++\ntitle = "Index"\n+++\n'}, "'index' would replace the site's own index.html"),
])
def test_a_problem_that_leaves_a_page_impossible_still_stops_the_build(files, reason, tmp_path, capsys):
    content = mini_course(tmp_path, **{**files, "lessons/one.md": HEAD.replace("Two", "One").replace(
        "2", "1").format(extra="") + "## Start\n[broken](gone.md)\n"})
    code, err = keep_going(tmp_path, content, capsys)
    assert code == 1 and not (tmp_path / "site").exists() and "Traceback" not in err
    assert f"nothing was written, even with --keep-going: {reason}" in err


def test_the_problems_page_does_not_depend_on_where_the_build_ran(tmp_path, capsys, monkeypatch):
    content = mini_course(tmp_path, **two(BROKEN))
    keep_going(tmp_path, content, capsys)
    first = tree(tmp_path / "site")
    monkeypatch.chdir(content / "lessons")
    code, err = keep_going(tmp_path, content, capsys)
    assert err.startswith("two.md: line 6: ")  # the terminal shows paths from here
    assert tree(tmp_path / "site") == first


def _touch(path, text):
    path.write_text(text)
    stamp = time.time_ns() + 10_000_000_000  # clearly newer, whatever the clock's resolution
    import os

    os.utime(path, ns=(stamp, stamp))


def test_serve_keeps_going_and_shows_the_same_list(tmp_path, capsys, monkeypatch):
    import unsmudge.serve as serve_module

    content = mini_course(tmp_path, **two(BROKEN))
    code, strict_err = build(tmp_path, content, capsys)
    started = []

    class Stop(Exception):
        pass

    def stop(seconds):
        raise Stop

    class Recorded(serve_module.Preview):  # the preview serve() makes, kept for a look inside
        def __init__(self, options):
            super().__init__(options)
            started.append(self)

    monkeypatch.setattr(serve_module, "Preview", Recorded)
    monkeypatch.setattr(serve_module.time, "sleep", stop)
    with pytest.raises(Stop):
        serve_module.serve(content, tmp_path / "build", port=0)
    preview = started[0]
    err = capsys.readouterr().err
    assert preview.error is None
    assert strict_err.split("\n\n")[0] in err and "4 problems found; the preview shows them in place" in err
    status, _, listing = preview.page("/problems.html")
    assert status == 200 and b"broken link &#39;gone.md&#39;" in listing
    assert b'<span class="broken-mark">broken link</span> gone' in preview.page("/two.html")[2]

    # fixing the lesson removes the list; breaking its front matter shows the reason instead of the site
    lesson = content / "lessons" / "two.md"
    _touch(lesson, HEAD.format(extra="") + "Fixed.\n")
    preview.update()
    assert preview.report is None and "problems.html" not in preview.files
    assert b"problems.html" not in preview.page("/two.html")[2]
    _touch(lesson, "no front matter\n")
    preview.update()
    body = preview.page("/two.html")[2].decode()
    assert "The course has problems" in body and "the preview cannot show the site: &#x27;two&#x27; has no" in body

