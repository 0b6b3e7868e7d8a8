"""The formula corpus (tests/fixtures/math) as Chromium lays it out: equation numbers and tags stand in one
column at the right edge of the text, as LaTeX sets them, whatever the width of their formula."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.commands import build_in_subprocess

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "math"
# the right edge of each number or tag whose display formula fits its box, and that box's right edge
NUMBER_EDGES = """() => [...document.querySelectorAll('.math-display')]
  .filter(box => box.scrollWidth <= box.clientWidth)
  .flatMap(box => [...box.querySelectorAll('.tml-eqn, .tml-tag')].map(
    n => [n.getBoundingClientRect().right, box.getBoundingClientRect().right]))"""


@pytest.fixture(scope="module")
def corpus_site(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("math-layout")
    result = build_in_subprocess(CORPUS, tmp / "frames", tmp / "site")
    assert result.returncode == 0, f"unsmudge build failed:\n{result.stdout}\n{result.stderr}"
    yield tmp / "site"
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.mark.parametrize("width", [1280, 600])
def test_equation_numbers_stand_in_one_column_at_the_right_edge(browser, corpus_site, width):
    page = browser.new_page(viewport={"width": width, "height": 900})
    try:
        page.goto((corpus_site / "formulas.html").as_uri())
        page.evaluate("document.fonts.ready")
        edges = page.evaluate(NUMBER_EDGES)
        assert len(edges) >= 5, edges  # the corpus numbers equations, tags some, in formulas of many widths
        for number, box in edges:
            assert box - 2 <= number <= box + 0.5, (number, box)
    finally:
        page.close()
