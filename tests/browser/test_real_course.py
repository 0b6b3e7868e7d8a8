"""A course written for GitHub in plain markdown (tests/fixtures/real-course: raw <img> tags with ../media
paths and sizes, $-math with course macros, a notebook lesson, linked notebooks, code and data, a page)
built once and read in Chromium from file:// and from a sub-path: no raw TeX, no broken image, no failed
request, and no serious or critical axe violation in either theme."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.commands import build_in_subprocess

from .axe import serious_violations
from .conftest import Watch, sub_path_server

COURSE = Path(__file__).resolve().parents[1] / "fixtures" / "real-course"
PAGES = ["index.html", "perceptron.html", "multilayer.html", "frameworks.html", "overfitting.html",
         "convolution.html", "recurrent.html", "attention.html", "detection.html", "perceptron-lab.html",
         "assignment.html"]
# TeX a reader should never see: delimiters or a control word, in the page's text outside code
RAW_TEX = re.compile(r"\$[^$\s][^$]*\$|\\[()\[\]]|\\[A-Za-z]{2,}")
VISIBLE_TEXT = """() => {
  const copy = document.querySelector('main').cloneNode(true);
  copy.querySelectorAll('pre, code, math').forEach(e => e.remove());
  return copy.innerText;
}"""
# every picture loaded and decoded (lazy ones are asked for now): the names of those that fail
BROKEN_IMAGES = """async () => {
  const images = [...document.images];
  const results = await Promise.all(images.map(
    i => { i.loading = 'eager'; return i.decode().then(() => null, () => i.src); }));
  return results.filter(r => r !== null).concat(images.filter(i => i.complete && i.naturalWidth === 0).map(i => i.src));
}"""


@pytest.fixture(scope="module")
def real_site(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("real")
    out = tmp / "root" / "course"
    result = build_in_subprocess(COURSE, tmp / "frames", out)
    assert result.returncode == 0, f"unsmudge build failed:\n{result.stdout}\n{result.stderr}"
    yield out
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def sub_path(real_site) -> str:
    """http://127.0.0.1:<port>/course/: the site under a sub-path, as on a GitHub Pages project site."""
    with sub_path_server(real_site) as httpd:
        yield httpd.root


@pytest.mark.parametrize("where", ["file", "http"])
def test_every_page_reads_clean(browser, real_site, sub_path, where):
    root = real_site.as_uri() + "/" if where == "file" else sub_path
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    watch = Watch(page, root)
    try:
        for path in PAGES:
            watch.goto(path)
            page.wait_for_load_state("load")
            assert page.evaluate(BROKEN_IMAGES) == [], path
            text = page.evaluate(VISIBLE_TEXT)
            assert RAW_TEX.search(text) is None, f"{path}: raw TeX {RAW_TEX.search(text)[0]!r}"
            page.evaluate("document.fonts.ready")
        watch.assert_clean()
        formulas = page.locator("math")  # the last page, the assignment, has one
        assert formulas.count() == 1
    finally:
        context.close()


def test_formulas_are_typeset_without_a_script(browser, real_site):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(real_site.as_uri() + "/detection.html")
        assert page.locator("math").count() == 3  # two display formulas and $C$
        # exposed to assistive technology as maths, with its content
        assert page.get_by_role("math").count() == 3
        assert "IoU" in page.locator(".math-display").first.aria_snapshot()
        box = page.locator(".math-display").first.bounding_box()
        assert box and box["height"] > 30  # laid out as a display formula, not a line of text
        assert page.evaluate("document.fonts.check('16px \"Latin Modern Math\"')")
    finally:
        context.close()


def test_links_to_notebooks_code_and_data_download_the_files(real_site):
    page = (real_site / "frameworks.html").read_text()
    for href in ("code/train.py", "data/iris-sample.csv"):
        assert f'href="{href}"' in page and (real_site / href).is_file()
    assert (real_site / "notebooks" / "perceptron.ipynb").is_file()
    assert (real_site / "lessons" / "perceptron-lab.ipynb").is_file()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_serious_or_critical_accessibility_violation(browser, sub_path, scheme):
    found = serious_violations(browser, sub_path, PAGES, scheme)
    assert found == [], "\n".join(found)
