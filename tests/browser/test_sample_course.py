"""The real sample course (content/) in the browser, with fake frames standing in for the model's.

The lessons, course file and demo spec are the real ones; only the pictures are fake (tests/fakeframes.py),
so this checks the sample course's pages and its flagship demo without running a model.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.commands import build_in_subprocess
from tests.fakeframes import fake_frames
from tests.fakelive import fake_live_exports

from .axe import serious_violations
from .conftest import Watch

CONTENT = Path(__file__).resolve().parents[2] / "content"
FLAGSHIP = "vae-stable-diffusion.html"


@pytest.fixture(scope="module")
def sample_site(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("sample")
    frames = tmp / "frames"
    fake_frames(CONTENT, frames)
    fake_live_exports(CONTENT, frames)  # the flagship demo has draw = true: precompute would export its model
    out = tmp / "site"
    result = build_in_subprocess(CONTENT, frames, out)
    assert result.returncode == 0, f"unsmudge build failed:\n{result.stdout}\n{result.stderr}"
    yield out
    shutil.rmtree(tmp, ignore_errors=True)


def test_flagship_lesson_and_its_demo_work_from_disk(browser, sample_site):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    watch = Watch(page, sample_site.as_uri() + "/")
    try:
        for path in ["index.html", "autoencoders.html", "guidance-and-sampling.html", FLAGSHIP]:
            watch.goto(path)
            expect(page.locator("h1")).to_have_count(1)
        demo = page.locator("#demo-emoji-diffusion")
        expect(demo).to_have_attribute("data-state", "ready")
        assert demo.locator("select option").count() >= 3  # several prompts to choose from
        expect(page.locator(".lesson-header")).to_contain_text("Layer 15")
        expect(page.locator("audio")).to_have_count(1)
        demo.get_by_role("button", name="Reverse diffusion").click()
        expect(demo.locator("[data-range]")).to_have_attribute("aria-valuetext", "T = 0", timeout=15_000)
        watch.assert_clean()
    finally:
        context.close()


@pytest.mark.parametrize("scheme,width,pages", [
    ("light", 1280, [FLAGSHIP]),
    ("dark", 360, ["index.html", "autoencoders.html", FLAGSHIP, "guidance-and-sampling.html"]),
])
def test_sample_course_has_no_serious_accessibility_violation(browser, sample_site, scheme, width, pages):
    """At 360 px too: what overflows there (diagrams, tables, code) must still be reachable by keyboard."""
    found = serious_violations(browser, sample_site.as_uri() + "/", pages, scheme, width)
    assert found == [], "\n".join(found)
