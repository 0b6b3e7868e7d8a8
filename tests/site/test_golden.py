"""The golden site: the fixture course, in the default theme (its slider partial and scripts included), must
build to exactly the committed tree.

After an intended change to the output, regenerate it and review the diff:
    UNSMUDGE_REGEN_GOLDEN=1 pytest tests/site/test_golden.py
Frames are Pillow's bytes (they may differ between Pillow versions), and their site names are hashes of those
bytes, so the golden copy names each frame file by the order in which the pages first cite it (`frames/3.png`):
which page shows which file stays golden, not the encoder's bytes.
"""

import os
import re
import shutil

import pytest

from tests.commands import tree
from tests.site.helpers import EXPECTED, build, fixture_course


FRAME_URL = re.compile(rb"frames/([0-9a-f]{20})\.(\w+)")


def _golden_view(site):
    files = tree(site)
    view = {name: data for name, data in files.items() if not name.startswith("frames/")}
    numbers: dict[bytes, int] = {}  # frame hash -> its number, in order of first citation
    for name in sorted(view):
        for match in FRAME_URL.finditer(view[name]):
            numbers.setdefault(match[1], len(numbers))
    renamed = {name: FRAME_URL.sub(lambda m: b"frames/%d.%s" % (numbers[m[1]], m[2]), data)
               for name, data in view.items()}
    frames = [FRAME_URL.sub(lambda m: b"frames/%d.%s" % (numbers.get(m[1], -1), m[2]), name.encode()).decode()
              for name in files if name.startswith("frames/")]
    renamed["FRAMES.txt"] = ("\n".join(sorted(frames)) + "\n").encode()  # -1: a file no page cites
    return renamed


def test_fixture_course_builds_to_the_golden_tree(tmp_path, capsys):
    content, _ = fixture_course(tmp_path)
    code, err = build(tmp_path, content, capsys)
    assert code == 0, err
    actual = _golden_view(tmp_path / "site")
    assert b"data-filmstrip" in actual["flagship.html"]  # the default slider partial, not a course's own
    if os.environ.get("UNSMUDGE_REGEN_GOLDEN"):
        shutil.rmtree(EXPECTED, ignore_errors=True)
        for name, data in actual.items():
            (EXPECTED / name).parent.mkdir(parents=True, exist_ok=True)
            (EXPECTED / name).write_bytes(data)
        pytest.fail("golden copy regenerated: review `git diff tests/site/fixtures/expected`, then run again")
    expected = tree(EXPECTED)
    assert sorted(actual) == sorted(expected)
    for name in expected:
        assert actual[name] == expected[name], f"{name} differs from the golden copy (regen: see the docstring)"
