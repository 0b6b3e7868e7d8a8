"""The course shell in a real browser: pages load clean, search finds a lesson, the pager's arrow keys."""

from __future__ import annotations

import re
import shutil

import pytest
from playwright.sync_api import expect

from .conftest import Watch

PAGES = ["index.html", "first-steps.html", "slider-lesson.html", "last-words.html"]


def test_every_page_loads_clean(watch):
    """No console error, no script error, no failed request, no request to another host."""
    for path in PAGES:
        page = watch.goto(path)
        page.wait_for_load_state("load")
        expect(page.locator("h1")).to_have_count(1)
    watch.assert_clean()
    assert all(u.startswith(watch.root) or u.startswith("data:") for u in watch.requests), watch.requests


@pytest.mark.parametrize("origin", ["http"], indirect=True)
def test_every_page_declares_an_icon(watch):
    """Without <link rel="icon">, a browser asks the host root for /favicon.ico: under a sub-path that is
    outside the site, and a 404 on GitHub Pages."""
    for path in PAGES:
        page = watch.goto(path)
        assert page.locator('link[rel~="icon"]').count() >= 1, f"{path} declares no icon"
    watch.assert_clean()


def test_search_finds_a_lesson_and_follows_it(watch):
    page = watch.goto("last-words.html")
    box = page.get_by_role("searchbox", name="Search the lessons")
    box.fill("periwinkle")
    result = page.locator("#search-results a", has_text="First steps")
    expect(result).to_be_visible()
    result.click()
    page.wait_for_url(re.compile(r"first-steps\.html"))
    expect(page.locator("h1")).to_have_text("First steps")
    watch.assert_clean()


def test_pager_arrow_keys_navigate(watch):
    page = watch.goto("slider-lesson.html")
    page.locator("h1").click()  # focus on the page, not in a control
    page.keyboard.press("ArrowRight")
    page.wait_for_url(re.compile(r"last-words\.html$"))
    page.keyboard.press("ArrowLeft")
    page.wait_for_url(re.compile(r"slider-lesson\.html$"))
    page.keyboard.press("ArrowLeft")
    page.wait_for_url(re.compile(r"first-steps\.html$"))
    watch.assert_clean()


@pytest.mark.parametrize("origin", ["file"], indirect=True)
def test_arrow_keys_on_demo_buttons_step_the_slider_not_the_pager(watch):
    page = watch.goto("slider-lesson.html")
    root = page.locator("#demo-fixture-demo")
    expect(root).to_have_attribute("data-state", "ready")
    root.get_by_role("button", name="+1 step").focus()
    page.keyboard.press("ArrowRight")
    expect(root.locator("[data-range]")).to_have_attribute("aria-valuetext", "T = 899")
    page.keyboard.press("ArrowLeft")
    expect(root.locator("[data-range]")).to_have_attribute("aria-valuetext", "T = 999")
    assert page.url.endswith("slider-lesson.html")
    watch.assert_clean()


@pytest.mark.parametrize("origin", ["http"], indirect=True)
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_404_page_keeps_its_styles_and_links_at_any_missing_path(browser, built_site, origin, scheme):
    """GitHub Pages answers a missing /course/a/b/c.html with 404.html's bytes at that address."""
    deep = built_site / "gone" / "deeper" / "missing.html"
    deep.parent.mkdir(parents=True, exist_ok=True)
    deep.write_bytes((built_site / "404.html").read_bytes())
    context = browser.new_context(color_scheme=scheme)
    try:
        page = context.new_page()
        watched = Watch(page, origin)
        page = watched.goto("gone/deeper/missing.html")
        # styled: the theme's colours are there (an unstyled page has no --bg and a transparent body)
        styles = page.evaluate("[getComputedStyle(document.body).getPropertyValue('--bg'),"
                               " getComputedStyle(document.body).backgroundColor]")
        assert styles[0].strip().startswith("#") and styles[1] != "rgba(0, 0, 0, 0)", styles
        page.get_by_role("link", name="the list of lessons").click()
        page.wait_for_url(origin + "index.html")
        watched.assert_clean()
    finally:
        context.close()
        shutil.rmtree(built_site / "gone")


@pytest.mark.parametrize("origin", ["file"], indirect=True)
def test_a_table_columns_alignment_shows(watch):
    """Markdown's |:-:| and |--:| columns are written as align= (an inline style would break the CSP); the
    stylesheet must not override them with its left alignment."""
    page = watch.goto("first-steps.html")
    aligned = page.evaluate("""() => {
        const t = document.createElement('table');
        t.innerHTML = '<tr><th align="center">a</th><td align="right">b</td><td>c</td></tr>';
        document.querySelector('main').appendChild(t);
        return [...t.querySelectorAll('th, td')].map(c => getComputedStyle(c).textAlign);
    }""")
    assert aligned == ["center", "right", "left"]
    watch.assert_clean()
