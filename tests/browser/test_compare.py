"""Side-by-side comparison in a real browser: labelled runs under one slider (`compare = "guidance"`), one pair
of play buttons, a 2 x 2 grid on a phone, a sentence saying what changes, no serious axe violation; runs of
different lengths (`compare = "steps"`) aligned by the fraction of the run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.axe import serious_violations
from tests.browser.conftest import COURSE, Watch
from tests.browser.test_slider import assert_marker, canvas
from tests.commands import build_in_subprocess
from tests.fakeframes import fake_frames

GUIDANCE = [1, 3, 7.5, 15]
TIMESTEPS = [999, 799, 599, 399, 199, 0]  # 5 DDIM steps, trailing
DEMO = "#demo-guidance-demo"
SPEC = f'''title = "Guidance side by side"
model = "./model"
steps = 5
guidance = {GUIDANCE}
prompts = ["red disc", "blue disc"]
compare = "guidance"
'''
STEPS_SPEC = '''title = "Steps side by side"
model = "./model"
steps = [2, 4]
prompts = ["red disc"]
compare = "steps"
'''
STEPS_DEMO = "#demo-steps-demo"
LESSON = '''+++
title = "Compare lesson"
module = 4
track = "pictures"
+++

## Four scales

```demo
guidance-demo
```

## Two step counts

```demo
steps-demo
```
'''


@pytest.fixture(scope="module")
def compare_site(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("compare")
    content = tmp / "content"
    shutil.copytree(COURSE, content)
    (content / "demos" / "guidance-demo.toml").write_text(SPEC, encoding="utf-8")
    (content / "demos" / "steps-demo.toml").write_text(STEPS_SPEC, encoding="utf-8")
    (content / "lessons" / "compare-lesson.md").write_text(LESSON, encoding="utf-8")
    course = content / "course.toml"
    course.write_text(course.read_text().replace('"last-words"]', '"last-words", "compare-lesson"]'))
    frames = tmp / "frames"
    fake_frames(content, frames, "guidance-demo")
    fake_frames(content, frames, "steps-demo")
    fake_frames(content, frames, "fixture-demo")
    fake_frames(content, frames, "second-demo")
    out = tmp / "site"
    result = build_in_subprocess(content, frames, out, SOURCE_DATE_EPOCH="315532800")
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def open_compare(browser, site: Path, width: int = 1280):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    watch = Watch(page, site.as_uri() + "/")
    page = watch.goto("compare-lesson.html")
    root = page.locator(DEMO)
    expect(root).to_have_attribute("data-state", "ready")
    expect(page.locator(STEPS_DEMO)).to_have_attribute("data-state", "ready")
    return context, watch, page, root


def test_four_labelled_runs_under_one_slider(browser, compare_site):
    context, watch, page, root = open_compare(browser, compare_site)
    try:
        labels = root.locator("[data-label]").all_text_contents()
        assert labels == [f"guidance {g:g}" for g in GUIDANCE]
        expect(root.locator("[data-range]")).to_have_count(1)
        expect(root.get_by_role("button", name="Reverse diffusion")).to_have_count(1)
        expect(root.get_by_role("button", name="Add noise")).to_have_count(1)
        # what changes between the runs, for everyone and as the group's name for screen readers
        said = root.locator("[data-compare]")
        expect(said).to_have_text("4 runs side by side, guidance 1, 3, 7.5 and 15 (left to right, then the next "
                                  "row): the same prompt (“red disc”) and seed (0), one slider for all.")
        expect(root.get_by_role("group", name="4 runs side by side")).to_have_count(1)
        # one slider moves all four, each drawing its own run's frame
        root.locator("[data-range]").focus()
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        for k, g in enumerate(GUIDANCE):
            expect(canvas(root, k)).to_have_attribute("data-frame", "image 2")
            assert_marker(root, "image", 2, guidance=g, panel=k)
            expect(canvas(root, k)).to_have_attribute("aria-label", f"“red disc”, guidance {g:g}: image at T = 599")
        root.get_by_label("Prediction", exact=True).check()
        for k, g in enumerate(GUIDANCE):
            assert_marker(root, "prediction", 2, guidance=g, panel=k)
        root.get_by_role("button", name="Reverse diffusion").click()
        expect(root.locator("[data-range]")).to_have_attribute("aria-valuetext", "T = 0")
        for k in range(len(GUIDANCE)):
            expect(canvas(root, k)).to_have_attribute("data-frame", f"prediction {len(TIMESTEPS) - 1}")
        # the menu picks the prompt; the four scales stay
        root.get_by_label("Prompt", exact=True).select_option(label="blue disc")
        expect(root).to_have_attribute("data-state", "ready")
        expect(canvas(root, 3)).to_have_attribute("aria-label", "“blue disc”, guidance 15: prediction at T = 0")
        expect(said).to_contain_text("(“blue disc”)")
        watch.assert_clean()
    finally:
        context.close()


def test_a_two_by_two_grid_on_a_phone_and_a_row_on_a_wide_screen(browser, compare_site):
    for width, rows in ((360, 2), (1280, 1)):
        context, watch, page, root = open_compare(browser, compare_site, width)
        try:
            boxes = [canvas(root, k).bounding_box() for k in range(4)]
            tops = sorted({round(b["y"]) for b in boxes})
            assert len(tops) == rows, (width, boxes)
            assert all(b["x"] + b["width"] <= width for b in boxes)
            if rows == 2:  # side by side in pairs, the first pair above the second
                assert round(boxes[0]["y"]) == round(boxes[1]["y"]) < round(boxes[2]["y"]) == round(boxes[3]["y"])
            watch.assert_clean()
        finally:
            context.close()


@pytest.mark.parametrize("context_options", [{"java_script_enabled": False}])
def test_without_javascript_each_run_has_a_labelled_filmstrip(browser, compare_site, context_options):
    context = browser.new_context(**context_options)
    page = context.new_page()
    try:
        watch = Watch(page, compare_site.as_uri() + "/")
        watch.goto("compare-lesson.html")
        strip = page.locator(DEMO).locator("[data-filmstrip]")
        expect(strip).to_be_visible()
        assert strip.locator(".demo__strip-label").all_text_contents() == [f"guidance {g:g}" for g in GUIDANCE]
        expect(strip.locator("svg[role=img]")).to_have_count(4 * len(TIMESTEPS))
        watch.assert_clean()
    finally:
        context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [360, 1280])
def test_the_comparison_has_no_serious_accessibility_violation(browser, compare_site, scheme, width):
    found = serious_violations(browser, compare_site.as_uri() + "/", ["compare-lesson.html"], scheme, width)
    assert found == [], "\n".join(found)


def test_runs_of_different_lengths_follow_the_slider_by_the_fraction_of_the_run(browser, compare_site):
    """2 and 4 steps: the slider has the longer run's five positions; the 2-step run shows the frame at the same
    fraction of its own three (trailing: 999, 499, 0 against 999, 749, 499, 249, 0), and its label says its T."""
    context, watch, page, _ = open_compare(browser, compare_site)
    try:
        root = page.locator(STEPS_DEMO)
        expect(root.locator("[data-compare]")).to_contain_text("2 and 4 steps")
        assert root.locator("[data-label]").all_text_contents() == ["2 steps · T = 999", "4 steps"]
        root.locator("[data-range]").focus()
        for presses, short, long_t in ((2, 1, 499), (2, 2, 0)):
            for _ in range(presses):
                page.keyboard.press("ArrowRight")
            expect(root.locator("[data-range]")).to_have_attribute("aria-valuetext", f"T = {long_t}")
            expect(canvas(root, 0)).to_have_attribute("data-frame", f"image {short}")
            expect(canvas(root, 1)).to_have_attribute("data-frame", f"image {2 * short}")
            assert_marker(root, "image", short, panel=0)
            assert_marker(root, "image", 2 * short, panel=1)
        expect(canvas(root, 0)).to_have_attribute("aria-label", "“red disc”, 2 steps: image at T = 0")
        assert root.locator("[data-label]").all_text_contents() == ["2 steps · T = 0", "4 steps"]
        watch.assert_clean()
    finally:
        context.close()
