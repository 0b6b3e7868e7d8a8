"""Run keys change exactly when the pixels would (plan level: no torch, no model work)."""

from __future__ import annotations


import pytest

from unsmudge.contract import load_demo, plan_runs
from unsmudge.precompute.weights import model_identity

from .conftest import write_demo


def keys(content, demo_id="tiny", dtype="float32"):
    spec = load_demo(content / "demos" / f"{demo_id}.toml")
    identity = model_identity(spec, content)
    return {(r.prompt, r.seed, r.guidance): r.key(identity, dtype) for r in plan_runs(demo_id, spec)}


@pytest.mark.parametrize("field, value", [
    ("steps", 5), ("seeds", [1]), ("guidance", [3.0]), ("size", 40), ("scheduler", "euler"),
    ("timestep_spacing", "leading"), ("negative_prompt", "blurry"), ("frames", {"format": "png"}),
    ("frames", {"quality": 80}),
])
def test_pixel_shaping_fields_change_every_key(course, tiny_model, field, value):
    before = keys(course)
    write_demo(course, "tiny", tiny_model, **{field: value, "seeds": [0], "guidance": [7.5]} if field not in
               ("seeds", "guidance") else {field: value})
    after = keys(course)
    assert not set(before.values()) & set(after.values())


def test_title_description_and_lessons_change_nothing(course, tiny_model):
    before = keys(course)
    write_demo(course, "tiny", tiny_model, title="Another title", description="new words")
    (course / "lessons" / "intro.md").write_text("# Intro, rewritten\n\nMore text.\n", encoding="utf-8")
    (course / "course.toml").write_text('title = "Renamed course"\n', encoding="utf-8")
    assert keys(course) == before


def test_adding_a_prompt_keeps_the_other_keys(course, tiny_model):
    before = keys(course)
    write_demo(course, "tiny", tiny_model, prompts=["a dog", "a cat", "a bird"])
    after = keys(course)
    assert {k: after[k] for k in before} == before and len(after) == 3


def test_demo_id_is_not_in_the_pixels_but_dtype_is(course, tiny_model):
    write_demo(course, "copy", tiny_model)
    assert set(keys(course).values()) == set(keys(course, "copy").values())  # same pixels, shared folders
    assert not set(keys(course).values()) & set(keys(course, dtype="bfloat16").values())


def test_new_weights_change_the_key(course, tiny_model, tmp_path):
    import shutil

    copy = shutil.copytree(tiny_model, tmp_path / "tiny-copy")
    write_demo(course, "tiny", copy)
    first = set(keys(course).values())
    (copy / "unet" / "config.json").write_text((copy / "unet" / "config.json").read_text() + " ")
    assert not first & set(keys(course).values())

