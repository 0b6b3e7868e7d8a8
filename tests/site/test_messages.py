"""The messages themselves: no traceback for a file that is not UTF-8, line numbers in numeric order, a
demo problem at its fence, an empty diagram fence reported, and one format wherever problems are shown."""

from __future__ import annotations

from tests.site.helpers import build, mini_course
from unsmudge.problems import Problem, ProblemsFound
from unsmudge.serve import Preview
from unsmudge.site import Options

HEAD = '+++\ntitle = "Two"\nmodule = 2\ntrack = "t"\n+++\n'


def test_a_course_file_that_is_not_utf8_is_a_problem(tmp_path, capsys):
    content = mini_course(tmp_path)
    (content / "course.toml").write_bytes('title = "Caf\xe9"\n'.encode("latin-1"))
    code, err = build(tmp_path, content, capsys)
    assert code == 1 and "Traceback" not in err
    assert "course.toml: the course file is not UTF-8 text" in err and "save it as UTF-8" in err


def test_line_numbers_sort_as_numbers():
    found = ProblemsFound([Problem("a.md", "line 17", "late"), Problem("a.md", "line 6", "early"),
                           Problem("a.md", "line 100", "last"), Problem("a.md", "", "whole file")])
    assert [p.message for p in found.problems] == ["whole file", "early", "late", "last"]


def test_problems_in_a_build_come_out_in_line_order(tmp_path, capsys):
    body = "[a](nowhere.md)\n" + "text\n" * 10 + "[b](gone.md)\n"  # lines 6 and 17
    content = mini_course(tmp_path, **{"lessons/two.md": HEAD + body})
    code, err = build(tmp_path, content, capsys)
    assert code == 1
    assert err.index("two.md: line 6") < err.index("two.md: line 17")


def test_a_demo_problem_points_at_its_fence(tmp_path, capsys):
    body = "The demo ghost-demo comes below.\n\n```demo\nghost-demo\n```\n"  # mentioned on line 6, fence on 8
    content = mini_course(tmp_path, **{"lessons/two.md": HEAD + body})
    code, err = build(tmp_path, content, capsys)
    assert code == 1
    assert "lessons/two.md: line 8: unknown demo 'ghost-demo'" in err


def test_an_empty_pipeline_fence_is_a_problem_at_its_line(tmp_path, capsys):
    body = "Text.\n\n```pipeline\n```\n\n!!! note\n    ```pipeline\n    # only a title\n    ```\n"
    content = mini_course(tmp_path, **{"lessons/two.md": HEAD + body})
    code, err = build(tmp_path, content, capsys)
    assert code == 1 and not (tmp_path / "site").exists()
    assert "lessons/two.md: line 8: the pipeline diagram is empty" in err
    assert "lessons/two.md: line 12: the pipeline diagram is empty" in err
    assert "2 problems found; nothing was written." in err


def test_the_preview_shows_problems_as_the_build_prints_them(tmp_path, capsys):
    content = mini_course(tmp_path, **{"lessons/two.md": HEAD + "[a](nowhere.md)\n\n[b](gone.md)\n"})
    code, err = build(tmp_path, content, capsys)
    preview = Preview(Options(content=content, frames=tmp_path / "build", keep_going=True, jobs=1))
    preview.rebuild()
    capsys.readouterr()
    assert code == 1
    assert err.strip() == preview.report.replace("the preview shows them in place and lists them on /problems.html",
                                                 "nothing was written")
