"""The diffusion slider in a real browser, from file:// and from http://127.0.0.1/course/."""

from __future__ import annotations

import io
import json
import re
import time

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.fakeframes import MARK, marker

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


def canvas(root, panel: int = 0):
    return root.locator("[data-canvas]").nth(panel)


def shown(root, frame: str, panel: int = 0):
    """Wait until the panel's canvas shows `frame` ("image 3"), then check its pixels are that frame's."""
    expect(canvas(root, panel)).to_have_attribute("data-frame", frame)
    view, index = frame.split()
    assert_marker(root, view, int(index), panel=panel)


def assert_marker(root, view: str, index: int, guidance: float = 7.5, panel: int = 0):
    """The canvas shows, in the marker (tests/fakeframes.py), the colour of frame `index` of `view`: the right
    cell of the right sheet was drawn. Read from a screenshot: from file:// a canvas may not be read back."""
    assert pixel(canvas(root, panel), 0.5 if view in ("latent", "noise") else MARK / 2 / 64) == marker(view, index, guidance)


class Colour(tuple):
    """A colour that equals another within lossy coding's error."""

    def __eq__(self, other):
        return all(abs(a - b) <= 14 for a, b in zip(self, other))

    __hash__ = tuple.__hash__


def pixel(element, at: float) -> Colour:
    """The colour `at` (a fraction of the width and height) of an element, from a screenshot."""
    picture = Image.open(io.BytesIO(element.screenshot())).convert("RGB")
    return Colour(picture.getpixel((int(at * picture.width), int(at * picture.height))))


def valuetext(root) -> str:
    return root.locator("[data-range]").get_attribute("aria-valuetext")


def test_slider_starts_at_noise_with_real_timesteps(watch):
    page, root = open_demo(watch)
    rng = root.locator("[data-range]")
    expect(rng).to_have_attribute("aria-valuetext", "T = 999")
    expect(rng).to_have_attribute("max", str(len(TIMESTEPS) - 1))
    shown(root, "image 0")
    ticks = root.locator(".demo__tick").all_text_contents()
    assert ticks[0] == "999" and ticks[-1] == "0"
    expect(root.locator("[data-t]")).to_have_text("T = 999")
    expect(root.locator("[data-filmstrip]")).to_be_hidden()
    watch.assert_clean()


def test_keyboard_on_the_range_changes_the_picture(watch):
    page, root = open_demo(watch)
    rng = root.locator("[data-range]")
    rng.focus()
    page.keyboard.press("ArrowRight")
    expect(rng).to_have_attribute("aria-valuetext", "T = 899")
    shown(root, "image 1")
    page.keyboard.press("ArrowLeft")
    expect(rng).to_have_attribute("aria-valuetext", "T = 999")
    shown(root, "image 0")
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
    shown(root, f"image {len(TIMESTEPS) - 1}")
    # drag from the left end to the middle
    page.mouse.move(box["x"] + 3, y)
    page.mouse.down()
    expect(rng).to_have_attribute("aria-valuetext", "T = 999")
    page.mouse.move(box["x"] + box["width"] / 2, y, steps=5)
    page.mouse.up()
    middle = valuetext(root)
    assert middle not in ("T = 999", "T = 0"), middle
    index = TIMESTEPS.index(int(middle.split("= ")[1]))
    shown(root, f"image {index}")
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
    shown(root, f"image {len(TIMESTEPS) - 1}")
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
    shown(root, "forward 0")
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
    shown(root, "image 2")
    root.get_by_label("Prediction", exact=True).check()
    shown(root, "prediction 2")
    expect(root).to_have_attribute("data-view", "prediction")
    root.get_by_label("Latent", exact=True).check()
    shown(root, "latent 2")
    expect(canvas(root)).to_have_class(re.compile("demo__img--latent"))  # drawn cell by cell (pixelated)
    root.get_by_label("Noise", exact=True).check()
    shown(root, "noise 2")
    expect(root.locator("[data-caption]")).to_contain_text("noise the model guesses")
    # shortcut keys inside the demo
    rng.focus()
    page.keyboard.press("4")
    expect(root.get_by_label("Noise", exact=True)).to_be_checked()
    page.keyboard.press("1")
    shown(root, "image 2")
    expect(root.get_by_label("Image", exact=True)).to_be_checked()
    assert valuetext(root) == "T = 799"  # the view changes, the step stays
    watch.assert_clean()


@pytest.mark.parametrize("origin", ["file"], indirect=True)
def test_typing_in_a_text_field_of_the_demo_is_not_a_shortcut(watch):
    """A demo may hold a text field (the live mode's prompt): "r", "n", "k" and "1"-"4" typed there are letters."""
    page, root = open_demo(watch)
    root.evaluate("root => { const f = document.createElement('input'); f.type = 'text'; f.id = 'typed';"
                  " f.setAttribute('aria-label', 'words'); root.appendChild(f); }")
    page.locator("#typed").type("rn2k")
    expect(page.locator("#typed")).to_have_value("rn2k")
    page.wait_for_timeout(300)  # a play would have moved the slider by now (FRAME_MS = 100)
    assert valuetext(root) == "T = 999"
    expect(root.get_by_label("Image", exact=True)).to_be_checked()
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
    root.get_by_label("Prediction", exact=True).check()
    expect(live).to_contain_text("Prediction view")
    watch.assert_clean()


def test_prompt_choice_loads_the_other_run(watch):
    page, root = open_demo(watch)
    poster = root.locator("[data-poster]").get_attribute("src")
    sheets = page.evaluate("(id) => JSON.parse(document.getElementById('demo-data-' + id).textContent)"
                           ".runs.map(r => r.views.image.sheets[0])", DEMO.split("-", 1)[1])
    root.get_by_label("Prompt").select_option(label="blue disc")
    expect(root).to_have_attribute("data-state", "ready")
    shown(root, "image 0")
    assert len(set(sheets)) == 3  # every run has its own image sheet...
    # ...but the runs share their first frame (one seed, one size): the poster's URL is named by its bytes
    assert root.locator("[data-poster]").get_attribute("src") == poster
    expect(canvas(root)).to_have_attribute("aria-label", re.compile("blue disc"))
    watch.assert_clean()


def run_files(page, demo: str, run: int) -> list[str]:
    """The site paths of one run's files: its poster and every view's sheets."""
    return page.evaluate("""([id, k]) => { const r = JSON.parse(document.getElementById('demo-data-' + id).textContent).runs[k];
        return [r.poster, ...Object.values(r.views).flatMap(v => v.sheets)]; }""", [demo, run])


@pytest.mark.parametrize("origin", ["http"], indirect=True)
def test_a_run_is_a_handful_of_requests_image_view_first(watch, served):
    """A run is its poster and a few sprite sheets, the image view's before the others; once the slider is
    ready, scrubbing through every step and view asks the server for nothing of that run; when the page is
    idle, the next prompt (and only it) is fetched ahead."""
    page, root = open_demo(watch)
    expect(root).to_have_attribute("data-loaded", "image prediction latent noise forward")
    files = {f"/course/{name}" for name in run_files(page, "fixture-demo", 0)}
    asked = [p for p in served if p in files]
    assert sorted(asked) == sorted(files) and len(files) <= 5, asked  # each file once, at most 5
    image = run_files(page, "fixture-demo", 0)[:2]  # the poster and the image view's sheet
    assert {p.removeprefix("/course/") for p in asked[:2]} == set(image), asked
    count = len(served)
    rng = root.locator("[data-range]")
    for view in ("Image", "Prediction", "Latent", "Noise"):
        root.get_by_label(view, exact=True).check()
        rng.focus()
        page.keyboard.press("Home")
        for _ in TIMESTEPS:
            page.keyboard.press("ArrowRight")
    root.get_by_role("button", name="Add noise").click()
    expect(root).not_to_have_attribute("data-playing", re.compile(".*"))
    assert [p for p in served[count:] if p in files] == []
    expect(root).to_have_attribute("data-preloaded", "1")
    ahead = {f"/course/{name}" for name in run_files(page, "fixture-demo", 1)}
    later = {f"/course/{name}" for name in run_files(page, "fixture-demo", 2)}
    for _ in range(50):  # the server logs a request when it answers it
        if ahead <= set(served):
            break
        time.sleep(0.1)
    assert ahead <= set(served) and not (later - files) & set(served)
    watch.assert_clean()


@pytest.mark.parametrize("origin", ["http"], indirect=True)
def test_first_frame_at_once_and_scrub_once_the_image_view_is_in(watch, built_site):
    """With the other views held back by a stalled server, the slider works as soon as the image view is in;
    the held views' radios (and Add noise) stay disabled until their sheets arrive."""
    page = watch.page
    first = image_view_files(built_site / LESSON)
    held = []
    frames = re.compile(r".*/frames/.*")
    page.route(frames, lambda route: route.continue_() if route.request.url.rsplit("/course/", 1)[-1] in first
               else held.append(route))
    page.goto(watch.root + LESSON, wait_until="domcontentloaded")  # "load" waits for the held sheets
    root = page.locator(DEMO)
    expect(root).to_have_attribute("data-state", "ready")
    expect(root).to_have_attribute("data-loaded", "image")
    expect(root.get_by_label("Prediction", exact=True)).to_be_disabled()
    expect(root.get_by_role("button", name="Add noise")).to_be_disabled()
    root.locator("[data-range]").focus()
    page.keyboard.press("End")
    shown(root, f"image {len(TIMESTEPS) - 1}")
    assert held, "no other view was asked for"
    for route in held:
        route.continue_()
    expect(root.get_by_label("Prediction", exact=True)).to_be_enabled()
    root.get_by_label("Prediction", exact=True).check()
    shown(root, f"prediction {len(TIMESTEPS) - 1}")
    page.unroute(frames)
    watch.assert_clean()


def image_view_files(page_file) -> set[str]:
    """The posters and image-view sheets of every run of every demo on a built page."""
    html = page_file.read_text(encoding="utf-8")
    files = set()
    for text in re.findall(r'<script type="application/json" id="demo-data-[^"]*">(.*?)</script>', html, re.S):
        for run in json.loads(text)["runs"]:
            files |= {run["poster"], *run["views"]["image"]["sheets"]}
    return files


@pytest.mark.parametrize("origin", ["file"], indirect=True)
def test_two_demos_on_one_page_work_independently(watch):
    page, root = open_demo(watch)
    second = page.locator(SECOND)
    expect(second).to_have_attribute("data-state", "ready")
    # one prompt: no menu, the prompt is named instead
    expect(second.locator("select")).to_have_count(0)
    expect(second).to_contain_text("lonely disc")
    second.locator("[data-range]").focus()
    page.keyboard.press("ArrowRight")
    expect(second.locator("[data-range]")).to_have_attribute("aria-valuetext", "T = 799")
    shown(second, "image 1")
    shown(root, "image 0")
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
    shown(root, "forward 0")
    watch.assert_clean()


@pytest.mark.parametrize("context_options", [{"java_script_enabled": False}])
def test_without_javascript_a_filmstrip_is_shown(watch):
    """From file:// and from the /course/ sub-path: a few frames cut from the image view's sheet, each the
    right cell (its marker's colour, read from a screenshot)."""
    page = watch.goto(LESSON)
    page.wait_for_load_state("load")
    root = page.locator(DEMO)
    strip = root.locator("[data-filmstrip]")
    expect(strip).to_be_visible()
    expect(root.locator("[data-app]")).to_be_hidden()
    labels = strip.locator(".demo__frame-t").all_text_contents()
    assert labels[0] == "T = 999" and labels[-1] == "T = 0" and 4 <= len(labels) <= 6
    thumbs = strip.locator("svg[role=img]")
    assert thumbs.count() == len(labels)
    expect(thumbs.first).to_have_attribute("aria-label", "“red disc” at T = 999")
    for i, label in enumerate(labels):
        index = TIMESTEPS.index(int(label.split("= ")[1]))
        assert pixel(thumbs.nth(i), MARK / 2 / 64) == marker("image", index), label
    watch.assert_clean()
