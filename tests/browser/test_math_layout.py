"""Formulas and code as Chromium lays them out: in the formula corpus (tests/fixtures/math) equation numbers and
tags stand in one column at the right edge of the text, as LaTeX sets them, whatever the width of their
formula; a long code span breaks, and an inline matrix scrolls within its line, rather than widen a phone's page."""

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


def test_a_long_code_span_breaks_instead_of_widening_a_phones_page(browser, tmp_path):
    from tests.site.helpers import mini_course

    body = ("Call `tf.keras.applications.xception.preprocess_input()` or "
            "`scaler.inverse_transform(scaler.fit_transform(X_train_full))` first.\n")
    content = mini_course(tmp_path, **{"lessons/two.md": '+++\ntitle = "Two"\nmodule = 2\ntrack = "t"\n+++\n' + body})
    result = build_in_subprocess(content, tmp_path / "frames", tmp_path / "site")
    assert result.returncode == 0, result.stderr
    page = browser.new_page(viewport={"width": 375, "height": 800})
    try:
        page.goto((tmp_path / "site" / "two.html").as_uri())
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
    finally:
        page.close()


WIDE_ROW = " & ".join(f"w_{{1,{n}}}" for n in range(1, 15))
INLINE_MATRICES = (f"The weights $W = \\begin{{bmatrix}} {WIDE_ROW} \\end{{bmatrix}}$ of one unit, and the identity "
                   "$\\left(\\begin{smallmatrix} 1 & 0 \\\\ 0 & 1 \\end{smallmatrix}\\right)$, sit in the text.\n")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_an_inline_matrix_scrolls_within_its_line_instead_of_widening_a_phones_page(browser, tmp_path, scheme):
    """A matrix cannot wrap as the rest of an inline formula can: it scrolls sideways within its paragraph,
    reachable by keyboard; a narrow one fits, and axe finds nothing serious."""
    from tests.site.helpers import mini_course

    from .axe import serious_violations

    front = '+++\ntitle = "Two"\nmodule = 2\ntrack = "t"\n+++\n'
    content = mini_course(tmp_path, **{"lessons/two.md": front + INLINE_MATRICES})
    result = build_in_subprocess(content, tmp_path / "frames", tmp_path / "site")
    assert result.returncode == 0, result.stderr
    page = browser.new_page(viewport={"width": 375, "height": 800}, color_scheme=scheme)
    try:
        page.goto((tmp_path / "site" / "two.html").as_uri())
        page.evaluate("document.fonts.ready")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        boxes = page.evaluate("""() => [...document.querySelectorAll('.math-scroll')].map(box => {
          const own = box.getBoundingClientRect(), line = box.parentElement.getBoundingClientRect();
          return {scrolls: box.scrollWidth > box.clientWidth, tabindex: box.tabIndex, right: own.right,
                  inside: own.top >= line.top && own.bottom <= line.bottom};
        })""")
        assert [b["scrolls"] for b in boxes] == [True, False], boxes  # the wide one scrolls, the narrow one fits
        assert all(b["tabindex"] == 0 and b["inside"] and b["right"] <= 375 for b in boxes), boxes
    finally:
        page.close()
    assert serious_violations(browser, (tmp_path / "site").as_uri() + "/", ["two.html"], scheme, 375) == []
