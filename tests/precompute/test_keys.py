"""Run keys change exactly when the pixels would (plan level: no model work).

A key is `Run.key(identity, dtype)`: the spec's `spec_hash` (`contract.plan_runs`, reads no file) and the
identity of the files loading reads (`weights.model_identity`).
"""

from __future__ import annotations

import json
import shutil

import pytest

from unsmudge.contract import load_demo, plan_runs
from unsmudge.precompute.weights import model_identity

from .conftest import write_demo


def keys(content, demo_id="tiny", dtype="float32"):
    spec = load_demo(content / "demos" / f"{demo_id}.toml")
    identity = model_identity(spec, content)
    return {(r.prompt, r.seed, r.guidance): r.key(identity, dtype) for r in plan_runs(demo_id, spec)}


@pytest.mark.parametrize("field, value, base", [
    ("steps", 5, {}), ("seeds", [1], {}), ("guidance", [3.0], {}), ("size", 40, {}), ("scheduler", "euler", {}),
    ("timestep_spacing", "leading", {"steps": 20}),  # leading spacing starts near T = 999 only with many steps
    ("negative_prompt", "blurry", {}), ("frames", {"format": "png"}, {}), ("frames", {"quality": 80}, {}),
])
def test_pixel_shaping_fields_change_every_key(course, tiny_model, field, value, base):
    write_demo(course, "tiny", tiny_model, **base)
    before = keys(course)
    write_demo(course, "tiny", tiny_model, **base, **{field: value})
    after = keys(course)
    assert len(after) == len(before) and not set(before.values()) & set(after.values())


def test_title_and_description_change_nothing(course, tiny_model):
    before = keys(course)
    write_demo(course, "tiny", tiny_model, title="Another title", description="new words")
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


@pytest.fixture
def download(course, tiny_model, tmp_path):
    """The tiny model laid out as a Stable Diffusion download is: a safety checker and feature extractor named
    in model_index.json, a model card, hub metadata under .cache/, pickled weights beside the safetensors."""
    folder = shutil.copytree(tiny_model, tmp_path / "sd")
    index = json.loads((folder / "model_index.json").read_text())
    index.update(safety_checker=["stable_diffusion", "StableDiffusionSafetyChecker"],
                 feature_extractor=["transformers", "CLIPImageProcessor"])
    (folder / "model_index.json").write_text(json.dumps(index, indent=2))
    extra = {
        "README.md": "# A model card\n",
        ".cache/huggingface/download/unet/diffusion_pytorch_model.safetensors.metadata": "0123abcd\netag\n",
        "unet/diffusion_pytorch_model.bin": "\x80\x04pickled",
        "safety_checker/config.json": '{"architectures": ["StableDiffusionSafetyChecker"]}',
        "safety_checker/model.safetensors": "weights",
        "feature_extractor/preprocessor_config.json": '{"crop_size": 224}',
    }
    for rel, text in extra.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
    write_demo(course, "tiny", folder)
    return folder


@pytest.mark.parametrize("rel", [
    "README.md",
    ".cache/huggingface/download/unet/diffusion_pytorch_model.safetensors.metadata",
    "unet/diffusion_pytorch_model.bin",
    "safety_checker/config.json",
    "safety_checker/model.safetensors",
    "feature_extractor/preprocessor_config.json",
])
def test_editing_a_file_loading_does_not_read_keeps_the_key(course, download, rel):
    before = keys(course)
    (download / rel).write_text("edited: something else entirely\n")
    (download / ".cache" / "huggingface" / "new-download.lock").write_text("")
    assert keys(course) == before


@pytest.mark.parametrize("rel", [
    "model_index.json",
    "unet/config.json", "unet/diffusion_pytorch_model.safetensors",
    "vae/config.json", "vae/diffusion_pytorch_model.safetensors",
    "text_encoder/config.json", "text_encoder/model.safetensors",
    "tokenizer/vocab.json", "tokenizer/merges.txt",
    "scheduler/scheduler_config.json",
])
def test_editing_a_file_loading_reads_changes_every_key(course, download, rel):
    before = keys(course)
    with (download / rel).open("ab") as file:  # one more byte (JSON and safetensors both allow trailing space)
        file.write(b" ")
    after = keys(course)
    assert len(after) == len(before) and not set(before.values()) & set(after.values())


@pytest.mark.parametrize("field, values", [("steps", [3, 5]), ("scheduler", ["ddim", "euler"])])
def test_a_compared_run_has_the_key_of_the_spec_that_names_only_its_value(course, tiny_model, field, values):
    """compare = "steps" (or "scheduler") runs each value; each run is the run of a spec with that one value, so
    a course that later compares settings it already computed reuses those folders."""
    singles = {}
    for value in values:
        write_demo(course, "tiny", tiny_model, **{field: value})
        singles.update({k + (value,): key for k, key in keys(course).items()})
    write_demo(course, "tiny", tiny_model, compare=field, **{field: values})
    spec = load_demo(course / "demos" / "tiny.toml")
    identity = model_identity(spec, course)
    compared = {(r.prompt, r.seed, r.guidance, getattr(r, field)): r.key(identity, "float32")
                for r in plan_runs("tiny", spec)}
    assert compared == singles and len(compared) == 2 * len(values)
