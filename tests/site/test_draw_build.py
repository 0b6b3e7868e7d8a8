"""Draw your own (issue 11) in the build: a demo with `draw = true` gets the Draw form, its page the live
mode's scripts and a policy relaxed by exactly what the runtime needs; every other page and every site without
a draw demo stays as it was. No torch: the live export is faked (tests/fakelive.py) as precompute writes it (its
live.json names the model the runs record and the spec's settings). The browser side: tests/browser/test_draw.py.
"""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path

import pytest

from tests import fakelive
from tests.site.helpers import build, fixture_course
from unsmudge.contract import LIVE_MANIFEST
from unsmudge.site import CSP, CSP_DRAW

DEMO = "tiny"  # the fixture course's demo, shown by lessons/flagship.md
KEY = "0123456789abcdef"


def fake_live(frames: Path, content: Path, key: str = KEY, **settings) -> Path:
    return fakelive.fake_live(frames, content, DEMO, key, **settings)


def draw_course(tmp: Path, extra: str = "draw = true\n") -> tuple[Path, Path]:
    content, frames = fixture_course(tmp)
    spec = content / "demos" / f"{DEMO}.toml"
    text = spec.read_text()
    spec.write_text(text.replace("[frames]", extra + "[frames]"))
    return content, frames


def csp_of(html: str) -> str:
    return unescape(re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', html)[1])


def test_a_draw_demo_gets_the_form_its_page_the_live_mode(tmp_path, capsys):
    content, frames = draw_course(tmp_path)
    fake_live(frames, content)
    code, err = build(tmp_path, content, capsys)
    assert code == 0, err
    site = tmp_path / "site"
    page = (site / "flagship.html").read_text()
    assert csp_of(page) == CSP_DRAW == CSP.replace("script-src 'self'", "script-src 'self' 'wasm-unsafe-eval' data:")
    for hook in ("data-draw ", 'data-draw-key="0123456789abcdef"', 'data-draw-model="live/0123456789abcdef/model.js"',
                 'data-draw-captions="live/0123456789abcdef/captions.js"', 'name="prompt"', "data-draw-run",
                 "data-draw-output", 'name="seed"', 'name="guidance"', "data-draw-status", "data-draw-suggest",
                 "runs on your own computer", "Stable Diffusion would need a GPU"):
        assert hook in page, hook
    assert page.count("data-draw-output") == 1  # the first panel's canvas
    scripts = re.findall(r'<script src="([^"]+)"', page)
    assert any(re.fullmatch(r"assets/live/js/draw\.[0-9a-f]{10}\.js", s) for s in scripts), scripts
    for attr in ("data-draw-ort", "data-draw-wasm"):
        url = re.search(attr + r'="([^"]+)"', page)[1]
        assert url.startswith("assets/live/vendor/onnxruntime-web/") and (site / url).is_file(), url
    assert (site / "live/0123456789abcdef/model.js").read_bytes() == b"/* no model */\n"
    assert (site / "live/0123456789abcdef/captions.js").is_file()
    assert (site / "assets/live/vendor/onnxruntime-web/LICENSE.txt").is_file()
    assert not (site / "live/0123456789abcdef" / LIVE_MANIFEST).exists()  # only what the page loads
    for other in ("index.html", "basics.html", "after.html", "404.html"):  # no draw demo: the site's policy
        html = (site / other).read_text()
        assert csp_of(html) == CSP and "draw." not in html and "data-draw" not in html, other


def test_a_site_without_a_draw_demo_has_no_live_mode(tmp_path, capsys):
    content, frames = fixture_course(tmp_path)
    fake_live(frames, content)  # an export in build/ is not enough: the spec asks for it
    code, err = build(tmp_path, content, capsys)
    assert code == 0, err
    site = tmp_path / "site"
    assert not (site / "assets" / "live").exists() and not (site / "live").exists()
    for page in site.glob("*.html"):
        html = page.read_text()
        assert csp_of(html) == CSP and "wasm-unsafe-eval" not in html and "data-draw" not in html, page.name


@pytest.mark.parametrize("settings", [None, {"steps": 4}, {"size": 16}, {"negative_prompt": "blurry"}])
def test_draw_without_a_matching_export_is_a_problem(tmp_path, capsys, settings):
    """No export, or one for other settings: the build stops and says to run precompute."""
    content, frames = draw_course(tmp_path)
    if settings is not None:
        fake_live(frames, content, **settings)
    code, err = build(tmp_path, content, capsys)
    assert code == 1
    assert "tiny.toml" in err and "key 'draw'" in err and "no live export" in err
    assert "unsmudge precompute" in err and "Traceback" not in err
    assert not (tmp_path / "site").exists()


def test_an_export_of_other_weights_is_not_used(tmp_path, capsys):
    content, frames = draw_course(tmp_path)
    folder = fake_live(frames, content)
    manifest = json.loads((folder / LIVE_MANIFEST).read_text())
    manifest["model"]["revision"] = "sha256:" + "1" * 64
    (folder / LIVE_MANIFEST).write_text(json.dumps(manifest))
    code, err = build(tmp_path, content, capsys)
    assert code == 1 and "no live export" in err


def test_keep_going_shows_the_demo_without_the_form(tmp_path, capsys):
    content, frames = draw_course(tmp_path)
    code, err = build(tmp_path, content, capsys, "--keep-going")
    assert code == 1 and "no live export" in err and "the site was written" in err
    site = tmp_path / "site"
    page = (site / "flagship.html").read_text()
    assert 'data-demo="tiny"' in page and "data-filmstrip" in page  # the precomputed demo
    assert "data-draw" not in page and csp_of(page) == CSP and not (site / "assets" / "live").exists()
    assert "no live export" in (site / "problems.html").read_text()


@pytest.mark.parametrize("extra, words", [
    ('draw = true\ncompare = "seed"\nseeds = [0, 1]\n', ["draw = true", 'compare = "seed"', "remove one"]),
    ('draw = true\nscheduler = "euler"\n', ["runs DDIM in the page", "'euler'", 'scheduler = "ddim"']),
])
def test_draw_with_what_the_live_mode_cannot_run_is_a_problem(tmp_path, capsys, extra, words):
    content, _ = draw_course(tmp_path, extra)
    code, err = build(tmp_path, content, capsys)
    assert code == 1 and "tiny.toml" in err and "Traceback" not in err
    for word in words:
        assert word in err, word
