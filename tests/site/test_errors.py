"""One invalid input per rule: the message names the file and line or key, the exit status is 1,
nothing is written, and every problem is reported at once."""

import shutil

import pytest

from tests.site.helpers import build, fixture_course, mini_course

LESSON_TWO = """
+++
title = "Two"
module = 2
track = "t"
{extra}
+++
{body}
"""


def two(extra="", body="Text."):
    return {"lessons/two.md": LESSON_TWO.format(extra=extra, body=body)}


CASES = {
    "bad course TOML": (
        {"course.toml": 'title = "Mini\nlessons = []\n'},
        ["course.toml: line 1", "invalid TOML", "fix the TOML syntax"]),
    "bad front matter TOML": (
        two(extra='covers = ["a",'),
        ["lessons/two.md: line 5", "invalid TOML"]),
    "no front matter": (
        {"lessons/two.md": "# Two\n"},
        ["lessons/two.md: line 1", "no front matter"]),
    "unknown front matter key": (
        two(extra='colour = "red"'),
        ["lessons/two.md: line 5, key 'colour'", "unknown key 'colour'", "remove it or check its spelling"]),
    "unknown course key": (
        {"course.toml": 'title = "Mini"\nlessons = ["one", "two"]\ntheme = "dark"\n[[tracks]]\nid = "t"\ntitle = "T"\n'},
        ["course.toml: line 3, key 'theme'", "unknown key 'theme'"]),
    "missing required key": (
        {"lessons/two.md": '+++\ntitle = "Two"\ntrack = "t"\n+++\n'},
        ["lessons/two.md: key 'module'", "required key 'module' is missing"]),
    "missing prerequisite": (
        two(extra='prerequisites = ["nope"]'),
        ["lessons/two.md: line 5, key 'prerequisites'", "prerequisite 'nope' is not a lesson"]),
    "prerequisite later in the course": (
        {"lessons/one.md": '+++\ntitle = "One"\nmodule = 1\ntrack = "t"\nprerequisites = ["two"]\n+++\n## Start\n'},
        ["lessons/one.md: line 5, key 'prerequisites'", "prerequisite 'two' comes after this lesson",
         "move it earlier"]),
    "unknown track": (
        {"lessons/two.md": '+++\ntitle = "Two"\nmodule = 2\ntrack = "x"\n+++\n'},
        ["lessons/two.md: line 4, key 'track'", "unknown track 'x'"]),
    "lesson not in the course order": (
        {"lessons/three.md": '+++\ntitle = "Three"\nmodule = 3\ntrack = "t"\n+++\n'},
        ["lessons/three.md: the lesson is not in course.toml's 'lessons'", "or set draft = true"]),
    "reserved lesson id": (
        {"lessons/index.md": '+++\ntitle = "Index"\nmodule = 3\ntrack = "t"\n+++\n'},
        ["lessons/index.md: lesson id 'index' is reserved"]),
    "broken link": (
        two(body="Intro.\n\nSee [gone](xyzzy.md)."),
        ["lessons/two.md: line 9", "broken link 'xyzzy.md': no lesson 'xyzzy'", "fix: link to an existing lesson"]),
    "misspelt link": (
        two(body="See [one](onne.md)."),
        ["lessons/two.md: line 7", "broken link 'onne.md'", "fix: did you mean 'one.md'?"]),
    "broken anchor": (
        two(body="See [one](one.md#nowhere)."),
        ["lessons/two.md: line 7", "broken anchor 'one.md#nowhere': lesson 'one' has no heading or id 'nowhere'",
         "use one of its heading ids: start"]),
    "broken anchor in the same lesson": (
        two(body="See [below](#later)."),
        ["lessons/two.md: line 7", "broken anchor '#later'"]),
    "missing audio file": (
        two(extra='[narration]\naudio = "media/two.mp3"\ntranscript = "media/two.txt"'),
        ["lessons/two.md: line 6, key 'narration.audio'", "narration audio file 'media/two.mp3' does not exist",
         "lessons/two.md: line 7, key 'narration.transcript'"]),
    "missing image": (
        two(body="![x](../media/none.png)"),
        ["lessons/two.md: line 7", "'../media/none.png' is not a file in the content folder",
         "fix: check the path: it is relative to the lesson's file"]),
    "image from another host": (
        two(body="![x](https://example.com/x.png)"),
        ["lessons/two.md: line 7", "would be loaded from another host"]),
    "unknown demo id": (
        two(body="```demo\nnope\n```"),
        ["lessons/two.md: line 7", "unknown demo 'nope'"]),  # the fence's line
    "bad template override": (
        {"templates/lesson.html": '{% extends "base.html" %}\n{% block main %}\n{% if %}\n{% endblock %}\n'},
        ["templates/lesson.html: line 3", "template error", "fix the template"]),
    "bad base URL flag": (
        {"course.toml": 'title = "Mini"\nlessons = ["one", "two"]\n[[tracks]]\nid = "t"\ntitle = "T"\n'},
        ["--base-url: base_url 'example.org' is not an http(s) URL"]),
    "bad demo spec": (
        {"demos/d.toml": 'title = "D"\nprompts = ["a"]\nsteps = "many"\n', **two(body="```demo\nd\n```")},
        ["demos/d.toml: line 3, key 'steps'"]),
}


@pytest.mark.parametrize("name", CASES)
def test_invalid_input_is_reported_with_place_and_fix(name, tmp_path, capsys):
    files, expected = CASES[name]
    content = mini_course(tmp_path, **files)
    extra = ["--base-url", "example.org"] if name == "bad base URL flag" else []
    code, err = build(tmp_path, content, capsys, *extra)
    assert code == 1
    for text in expected:
        assert text in err, f"{text!r} not in:\n{err}"
    assert "Traceback" not in err
    assert "nothing was written" in err
    assert not (tmp_path / "site").exists()


def test_missing_frames_name_the_demo_and_the_command(tmp_path, capsys):
    content, _ = fixture_course(tmp_path, frames=False)
    code, err = build(tmp_path, content, capsys)
    assert code == 1
    assert "demo 'tiny' has no frames" in err and "for 2 of its runs: 'red'" in err
    assert "run `unsmudge precompute`" in err


def test_a_run_with_a_missing_frame_file_counts_as_missing(tmp_path, capsys):
    content, frames = fixture_course(tmp_path)
    next(frames.glob("*/prediction.png")).unlink()
    code, err = build(tmp_path, content, capsys)
    assert code == 1 and "for 1 of its runs" in err


def test_frames_of_a_changed_spec_do_not_count(tmp_path, capsys):
    content, frames = fixture_course(tmp_path)
    spec = content / "demos" / "tiny.toml"
    spec.write_text(spec.read_text().replace("steps = 3", "steps = 4"))
    code, err = build(tmp_path, content, capsys)
    assert code == 1 and "run `unsmudge precompute`" in err


def test_every_problem_is_reported_at_once(tmp_path, capsys):
    content = mini_course(tmp_path, **two(extra='prerequisites = ["nope"]\ncolour = 1', body="[x](gone.md)"))
    shutil.copy(content / "lessons" / "two.md", content / "lessons" / "Bad_Name.md")
    one = content / "lessons" / "one.md"
    one.write_text(one.read_text() + "[broken](missing.md) and [fine](two.md#anything)\n")
    code, err = build(tmp_path, content, capsys)
    assert code == 1
    assert "two.md: line 6, key 'colour': unknown key 'colour'" in err and "Bad_Name.md" in err
    # markdown of the readable lesson is checked too; links to the unreadable one are not reported on top
    assert "one.md: line 8: broken link 'missing.md'" in err and "two.md#anything" not in err
    assert "problems found" in err


def test_a_mistake_repeated_on_several_lines_is_reported_at_each(tmp_path, capsys):
    """An author who mends the first line is not surprised by the others on the next build; the lines of a
    link or picture are found by its text, the first use at the first line that has it, the next at the next."""
    body = ("![a](../media/nope.png)\n\ntext\n\n![b](../media/nope.png)\n\n"
            '<img src="../media/nope.png" alt="c">\n\n[Paper]() | [Code]()\n\nMore: [x]().\n')
    content = mini_course(tmp_path, **two(body=body))
    code, err = build(tmp_path, content, capsys)
    assert code == 1
    for line in (7, 11, 13):
        assert f"two.md: line {line}: '../media/nope.png' is not a file in the content folder" in err
    for line in (15, 17):
        assert f"two.md: line {line}: link has no target" in err
    assert "broken anchor" not in err and "5 problems found" in err


def test_a_failed_build_keeps_the_previous_site(tmp_path, capsys):
    content, frames = fixture_course(tmp_path)
    assert build(tmp_path, content, capsys)[0] == 0
    before = {p: p.read_bytes() for p in (tmp_path / "site").rglob("*") if p.is_file()}
    (content / "lessons" / "after.md").write_text("+++\ntitle = 1\n+++\n")
    assert build(tmp_path, content, capsys)[0] == 1
    after = {p: p.read_bytes() for p in (tmp_path / "site").rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["build", "content", "site"]  # no staging left over
