"""Any file inside the content folder may be linked by its path relative to the lesson: the build checks it
exists and copies it into the site under its path in the content folder; paths that leave the content
folder, hidden files and names the site uses itself are refused."""

from __future__ import annotations

import pytest

from tests.site.helpers import build, mini_course

HEAD = '+++\ntitle = "Two"\nmodule = 2\ntrack = "t"\n+++\nFirst line.\n\n'
FILES = {"notebooks/perceptron.ipynb": b'{"cells": []}', "data/points.csv": b"x,y\n1,2\n",
         "code/train model.py": b"print('hi')\n", "slides/deck.pdf": b"%PDF-1.4"}


def course_with(tmp_path, body: str):
    content = mini_course(tmp_path, **{"lessons/two.md": HEAD + body})
    for rel, data in FILES.items():
        (content / rel).parent.mkdir(parents=True, exist_ok=True)
        (content / rel).write_bytes(data)
    return content


def test_linked_files_are_copied_under_their_content_path(tmp_path, capsys):
    body = ("[the notebook](../notebooks/perceptron.ipynb), [data](../data/points.csv), "
            "[code](<../code/train model.py>), [raw](../data/points.csv?raw=1) and "
            "[slides](../slides/deck.pdf#page=3).\n")
    code, err = build(tmp_path, course_with(tmp_path, body), capsys)
    assert code == 0, err
    page = (tmp_path / "site" / "two.html").read_text()
    for href in ("notebooks/perceptron.ipynb", "data/points.csv", "code/train%20model.py", "data/points.csv?raw=1",
                 "slides/deck.pdf#page=3"):
        assert f'href="{href}"' in page
    for rel, data in FILES.items():
        assert (tmp_path / "site" / rel).read_bytes() == data
    assert not (tmp_path / "site" / "unlinked").exists()


def test_files_nobody_links_stay_out_of_the_site(tmp_path, capsys):
    code, err = build(tmp_path, course_with(tmp_path, "No links.\n"), capsys)
    assert code == 0, err
    assert not (tmp_path / "site" / "notebooks").exists() and not (tmp_path / "site" / "data").exists()


@pytest.mark.parametrize("link, expected", [
    ("../notebooks/missing.ipynb", "'../notebooks/missing.ipynb' is not a file in the content folder"),
    ("../../elsewhere.txt", "'../../elsewhere.txt' leaves the content folder"),
    ("../.secret/key.txt", "is a hidden file"),
    ("../course.toml", "'course.toml' would take the place of a file the site makes itself"),
])
def test_refused_files_are_problems_with_their_line(tmp_path, capsys, link, expected):
    content = course_with(tmp_path, f"See [it]({link}).\n")
    (content / ".secret").mkdir()
    (content / ".secret" / "key.txt").write_text("k")
    code, err = build(tmp_path, content, capsys)
    assert code == 1 and not (tmp_path / "site").exists()
    assert "lessons/two.md: line 8" in err and expected in err
