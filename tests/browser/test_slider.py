"""The diffusion slider in a real browser, from file:// and from http://127.0.0.1/course/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from unsmudge.contract import VIEWS

LESSON = "slider-lesson.html"
DEMO = "#demo-fixture-demo"
SECOND = "#demo-second-demo"
# fixture-demo: 10 DDIM steps with trailing spacing, then the finished picture
TIMESTEPS = [999, 899, 799, 699, 599, 499, 399, 299, 199, 99, 0]


def open_demo(watch, demo=DEMO):
    page = watch.goto(LESSON)
    root = page.locator(demo)
    expect(root).to_have_attribute("data-state", "ready")
    return page, root


def picture(root) -> str:
    return root.locator("[data-img]").get_attribute("src")


def valuetext(root) -> str:
    return root.locator("[data-range]").get_attribute("aria-valuetext")


def test_slider_starts_at_noise_with_real_timesteps(watch):
    page, root = open_demo(watch)
    rng = root.locator("[data-range]")
    expect(rng).to_have_attribute("aria-valuetext", "T = 999")
    expect(rng).to_have_attribute("max", str(len(TIMESTEPS) - 1))
    assert re.search(r"/image-000\.webp$", picture(root))
    ticks = root.locator(".demo__tick").all_text_contents()
    assert ticks[0] == "999" and ticks[-1] == "0"
    expect(root.locator("[data-t]")).to_have_text("T = 999")
    expect(root.locator("[data-filmstrip]")).to_be_hidden()
    watch.assert_clean()


def test_keyboard_on_the_range_changes_the_picture(watch):
    page, root = open_demo(watch)
    rng = root.locator("[data-range]")
    rng.focus()
    before = picture(root)
    page.keyboard.press("ArrowRight")
    expect(rng).to_have_attribute("aria-valuetext", "T = 899")
    assert picture(root) != before
    assert picture(root).endswith("image-001.webp")
    page.keyboard.press("ArrowLeft")
    expect(rng).to_have_attribute("aria-valuetext", "T = 999")
    assert picture(root) == before
    page.keyboard.press("End")
    expect(rng).to_have_attribute("aria-valuetext", "T = 0")
    page.keyboard.press("Home")
    expect(rng).to_have_attribute("aria-valuetext", "T = 999")
    # arrow keys on the slider move the slider, never the lesson pager
    assert page.url.endswith(LESSON)
    watch.assert_clean()


def test_pointer_on_the_range_changes_the_picture(watch):
    page, root = open_demo(watch)
    rng = root.locator("[data-range]")
    box = rng.bounding_box()
    y = box["y"] + box["height"] / 2
    # click near the right end: the last step
    page.mouse.click(box["x"] + box["width"] - 3, y)
    expect(rng).to_have_attribute("aria-valuetext", "T = 0")
    assert picture(root).endswith(f"image-{len(TIMESTEPS) - 1:03d}.webp")
    # drag from the left end to the middle
    page.mouse.move(box["x"] + 3, y)
    page.mouse.down()
    expect(rng).to_have_attribute("aria-valuetext", "T = 999")
    page.mouse.move(box["x"] + box["width"] / 2, y, steps=5)
    page.mouse.up()
    middle = valuetext(root)
    assert middle not in ("T = 999", "T = 0"), middle
    index = TIMESTEPS.index(int(middle.split("= ")[1]))
    assert picture(root).endswith(f"image-{index:03d}.webp")
    watch.assert_clean()


def test_reverse_diffusion_plays_to_t_zero(watch):
    page, root = open_demo(watch)
    seen = page.evaluate("""(sel) => {
        const range = document.querySelector(sel + ' [data-range]');
        window.__seen = [];
        new MutationObserver(() => window.__seen.push(range.getAttribute('aria-valuetext')))
          .observe(range, {attributes: true, attributeFilter: ['aria-valuetext']});
        const live = document.querySelector(sel + ' [data-live]');
        window.__said = [];
        new MutationObserver(() => live.textContent && window.__said.push(live.textContent))
          .observe(live, {childList: true, characterData: true, subtree: true});
        return range !== null && live !== null; }""", DEMO)
    assert seen, "the demo has no range or no live region"
    root.get_by_role("button", name="Reverse diffusion").click()
    expect(root).to_have_attribute("data-playing", "reverse")
    expect(root.get_by_role("button", name="Pause")).to_be_enabled()
    expect(root.locator("[data-range]")).to_have_attribute("aria-valuetext", "T = 0")
    expect(root).not_to_have_attribute("data-playing", re.compile(".*"))
    assert picture(root).endswith(f"image-{len(TIMESTEPS) - 1:03d}.webp")
    # it went through every step on the way, in order
    values = page.evaluate("window.__seen")
    ordered = [int(v.split("= ")[1]) for v in dict.fromkeys(values)]
    assert ordered == TIMESTEPS
    # the live region says "playing" and "finished", not one message per frame
    expect(root.locator("[data-live]")).to_contain_text("finished")
    said = page.evaluate("window.__said")
    assert 1 <= len(said) <= 3 and "T = 0" in said[-1], said
    watch.assert_clean()


@pytest.mark.parametrize("origin", ["file"], indirect=True)
def test_add_noise_plays_to_the_highest_t_over_forward_frames(watch):
    page, root = open_demo(watch)
    rng = root.locator("[data-range]")
    rng.focus()
    page.keyboard.press("End")
    root.get_by_role("button", name="Add noise").click()
    expect(root).to_have_attribute("data-playing", "forward")
    expect(rng).to_have_attribute("aria-valuetext", "T = 999")
    expect(root).not_to_have_attribute("data-playing", re.compile(".*"))
    assert picture(root).endswith("forward-000.webp")
    expect(root).to_have_attribute("data-view", "forward")
    watch.assert_clean()


@pytest.mark.parametrize("origin", ["file"], indirect=True)
def test_pause_stops_the_animation(watch):
    page, root = open_demo(watch)
    root.get_by_role("button", name="Reverse diffusion").click()
    expect(root.locator("[data-range]")).not_to_have_attribute("aria-valuetext", "T = 999")
    root.get_by_role("button", name="Pause").click()
    expect(root).not_to_have_attribute("data-playing", re.compile(".*"))
    stopped = valuetext(root)
    page.wait_for_timeout(350)  # three animation frames: nothing may move after a pause
    assert valuetext(root) == stopped
    assert stopped != "T = 0"
    watch.assert_clean()


@pytest.mark.parametrize("origin", ["file"], indirect=True)
def test_view_switch_changes_the_picture(watch):
    page, root = open_demo(watch)
    rng = root.locator("[data-range]")
    rng.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert picture(root).endswith("image-002.webp")
    root.get_by_label("Prediction").check()
    assert picture(root).endswith("prediction-002.webp")
    expect(root).to_have_attribute("data-view", "prediction")
    root.get_by_label("Latent").check()
    assert picture(root).endswith("latent-002.webp")
    # shortcut keys inside the demo
    rng.focus()
    page.keyboard.press("1")
    assert picture(root).endswith("image-002.webp")
    expect(root.get_by_label("Image")).to_be_checked()
    assert valuetext(root) == "T = 799"  # the view changes, the step stays
    watch.assert_clean()


@pytest.mark.parametrize("origin", ["file"], indirect=True)
def test_step_buttons_and_live_region(watch):
    page, root = open_demo(watch)
    live = root.locator("[data-live]")
    root.get_by_role("button", name="+1 step").click()
    expect(root.locator("[data-range]")).to_have_attribute("aria-valuetext", "T = 899")
    expect(live).to_contain_text("T = 899")
    root.get_by_role("button", name="−1 step").click()
    expect(live).to_contain_text("T = 999")
    root.get_by_label("Prediction").check()
    expect(live).to_contain_text("Prediction view")
    watch.assert_clean()


def test_prompt_choice_loads_the_other_run(watch):
    page, root = open_demo(watch)
    first = picture(root)
    root.get_by_label("Prompt").select_option(label="blue disc")
    expect(root).to_have_attribute("data-state", "ready")
    second = picture(root)
    assert second != first
    assert second.rsplit("/", 2)[-2] != first.rsplit("/", 2)[-2]  # another run's folder
    expect(root.locator("[data-img]")).to_have_attribute("alt", re.compile("blue disc"))
    watch.assert_clean()


@pytest.mark.parametrize("origin", ["http"], indirect=True)
def test_frames_are_all_loaded_before_scrubbing(watch, served):
    """Once the slider is ready, scrubbing through every step and view asks the server for nothing."""
    page, root = open_demo(watch)
    expect(root.locator("[data-range]")).to_be_enabled()
    run = picture(root).rsplit("/", 2)[-2]
    loaded = {p.rsplit("/", 1)[-1] for p in served if f"/frames/{run}/" in p}
    assert loaded == {f"{view}-{i:03d}.webp" for view in VIEWS for i in range(len(TIMESTEPS))}
    count = len(served)
    rng = root.locator("[data-range]")
    for view in ("Image", "Prediction", "Latent"):
        root.get_by_label(view).check()
        rng.focus()
        page.keyboard.press("Home")
        for _ in TIMESTEPS:
            page.keyboard.press("ArrowRight")
    root.get_by_role("button", name="Add noise").click()
    expect(root).not_to_have_attribute("data-playing", re.compile(".*"))
    assert served[count:] == []
    watch.assert_clean()


@pytest.mark.parametrize("origin", ["file"], indirect=True)
def test_two_demos_on_one_page_work_independently(watch):
    page, root = open_demo(watch)
    second = page.locator(SECOND)
    expect(second).to_have_attribute("data-state", "ready")
    # one prompt: no menu, the prompt is named instead
    expect(second.locator("select")).to_have_count(0)
    expect(second).to_contain_text("lonely disc")
    first_src = picture(root)
    second.locator("[data-range]").focus()
    page.keyboard.press("ArrowRight")
    expect(second.locator("[data-range]")).to_have_attribute("aria-valuetext", "T = 799")
    assert picture(root) == first_src
    expect(root.locator("[data-range]")).to_have_attribute("aria-valuetext", "T = 999")
    watch.assert_clean()


@pytest.mark.parametrize("origin", ["file"], indirect=True)
@pytest.mark.parametrize("context_options", [{"reduced_motion": "reduce"}])
def test_reduced_motion_jumps_without_animating(watch):
    page, root = open_demo(watch)
    root.get_by_role("button", name="Reverse diffusion").click()
    assert valuetext(root) == "T = 0"
    expect(root).not_to_have_attribute("data-playing", re.compile(".*"))
    root.get_by_role("button", name="Add noise").click()
    assert valuetext(root) == "T = 999"
    assert picture(root).endswith("forward-000.webp")
    watch.assert_clean()


@pytest.mark.parametrize("origin", ["file"], indirect=True)
@pytest.mark.parametrize("context_options", [{"java_script_enabled": False}])
def test_without_javascript_a_filmstrip_is_shown(watch):
    page = watch.goto(LESSON)
    root = page.locator(DEMO)
    strip = root.locator("[data-filmstrip]")
    expect(strip).to_be_visible()
    expect(root.locator("[data-app]")).to_be_hidden()
    labels = strip.locator(".demo__frame-t").all_text_contents()
    assert labels[0] == "T = 999" and labels[-1] == "T = 0" and 4 <= len(labels) <= 6
    images = strip.locator("img")
    for i in range(images.count()):
        img = images.nth(i)
        img.scroll_into_view_if_needed()
        page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=img.element_handle())
    watch.assert_clean()
