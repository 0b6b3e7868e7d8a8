"""Real checkpoint layouts (tests/checkpoints: SD 1.5, SD 2.1, SDXL, SDXL-Turbo, and SD3's configs) load
and precompute from local folders and from a hub cache, in float32 and as fp16-only variants; what cannot
run is refused from the configs before any weight is read; and the site builds once the weights are gone.

Each layout is built once per process (tests.checkpoints.layouts.built) and precomputed once per module at
64 px in 2 steps; tests copy a folder before changing it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.checkpoints.layouts import build_layout, built, configs_only, hub_cache
from tests.commands import tree
from tests.fakeframes import read_frame
from tests.precompute.conftest import precompute as precompute_with, write_demo
from unsmudge.cli import main as unsmudge
from unsmudge.contract import load_demo
from unsmudge.precompute.checks import check_model, model_warnings

# each family with its own scheduler, so every capture path meets a real config: v-prediction through
# Euler's sigmas, SDXL's text_time conditioning through LMS, Turbo's own Euler ancestral without guidance
RUNS = {"sd15": ("ddim", 7.5), "sd21": ("euler", 7.5), "sdxl": ("lms", 5.0), "sdxl-turbo": ("model", 0.0)}
CLASSES = {"ddim": "DDIMScheduler", "euler": "EulerDiscreteScheduler", "lms": "LMSDiscreteScheduler",
           "model": "EulerAncestralDiscreteScheduler"}
LAYOUTS = list(RUNS)
SD3_HUB = "stabilityai/stable-diffusion-3-medium-diffusers"

COURSE = '''title = "Layouts"
lessons = ["lesson"]
[[tracks]]
id = "t"
title = "T"
'''
LESSON = '''+++
title = "Lesson"
module = 1
track = "t"
+++
```demo
demo
```
'''


def precompute(content: Path, out: Path, *extra: str) -> int:
    # one thread: on a shared 2-core machine two threads wait on each other (a run takes 10x longer)
    return precompute_with(content, out, "--threads", "1", *extra)


def pixels(folder: Path, view: str, index: int) -> np.ndarray:
    return np.asarray(read_frame(folder, view, index), dtype=np.int16)


def record_in(out: Path) -> tuple[Path, dict]:
    [run_json] = Path(out).glob("*/run.json")
    return run_json.parent, json.loads(run_json.read_text())


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """run(layout, variant) -> (content, build folder): each layout precomputed once in this module."""
    done: dict = {}

    def run(layout: str, variant: str | None = None) -> tuple[Path, Path]:
        if (layout, variant) not in done:
            root = tmp_path_factory.mktemp(f"{layout}-{variant or 'fp32'}")
            content, out = root / "content", root / "build"
            shutil.copytree(built(layout, variant), content / "models" / layout)
            scheduler, guidance = RUNS[layout]
            write_demo(content, "demo", f"./models/{layout}", scheduler=scheduler, guidance=[guidance], size=64,
                       steps=2, prompts=["a red apple"], frames={"format": "png"})
            assert precompute(content, out) == 0
            done[(layout, variant)] = content, out
        return done[(layout, variant)]

    return run


@pytest.fixture
def hub(tmp_path, monkeypatch) -> Path:
    """An empty hub cache that huggingface_hub (and diffusers through it) reads, offline."""
    from huggingface_hub import constants

    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return cache


def refused(capsys, content: Path, out: Path, *needles: str) -> str:
    status = precompute(content, out)
    err = capsys.readouterr().err
    assert status == 1, err
    assert "Traceback" not in err and "fix:" in err, err
    for needle in needles:
        assert needle in err, err
    assert not out.exists() or not any(out.iterdir())
    return err


# --- local folders: every layout precomputes, in float32 and from fp16-only files -------------------------


@pytest.mark.parametrize("layout", LAYOUTS)
def test_layout_precomputes_every_step(runs, layout):
    _, out = runs(layout)
    folder, record = record_in(out)
    scheduler, _ = RUNS[layout]
    assert record["scheduler"]["class_name"] == CLASSES[scheduler]
    assert record["model"]["variant"] is None and record["dtype"] == "float32"
    ts = record["timesteps"]
    assert len(ts) == 3 and ts[-1] == 0 and ts[0] > 500 and ts == sorted(ts, reverse=True)
    images = [pixels(folder, "image", i) for i in range(len(ts))]
    assert images[0].shape == (64, 64, 3)
    assert all(np.abs(a - b).mean() > 1 for a, b in zip(images, images[1:]))  # every step moves the picture
    for view in ("prediction", "forward"):  # every sequence ends at the finished picture (png: lossless)
        assert np.array_equal(pixels(folder, view, len(ts) - 1), images[-1])


@pytest.mark.parametrize("layout", LAYOUTS)
def test_fp16_only_folder_loads_its_fp16_weights(runs, layout):
    """A folder with only *.fp16.safetensors (a variant="fp16" download) runs in float32 on its fp16 files:
    the same pictures as the float32 files within float16's rounding (measured: at most 3.3 levels on
    average; other random weights differ by 45 or more)."""
    _, out16 = runs(layout, "fp16")
    _, out32 = runs(layout)
    folder16, record16 = record_in(out16)
    folder32, record32 = record_in(out32)
    assert record16["model"]["variant"] == "fp16" and record16["key"] != record32["key"]
    for i in range(len(record32["timesteps"])):
        assert np.abs(pixels(folder16, "image", i) - pixels(folder32, "image", i)).mean() < 5


@pytest.mark.parametrize("layout", LAYOUTS)
def test_site_builds_after_the_weights_are_gone(runs, tmp_path, layout):
    content, out = runs(layout)
    shutil.rmtree(content / "models", ignore_errors=True)  # a CI checkout: content/ and build/, no weights
    (content / "course.toml").write_text(COURSE)
    (content / "lessons").mkdir(exist_ok=True)
    (content / "lessons" / "lesson.md").write_text(LESSON)
    assert unsmudge(["build", "--content", str(content), "--frames", str(out), "--out", str(tmp_path / "site")]) == 0
    folder, record = record_in(out)
    page = (tmp_path / "site" / "lesson.html").read_text()
    copied = {p.read_bytes(): p.name for p in (tmp_path / "site" / "frames").iterdir()}
    for name in [record["poster"], *(sheet for view in record["views"].values() for sheet in view["files"])]:
        url = "frames/" + copied[(folder / name).read_bytes()]  # named by its bytes
        assert url in page


def test_model_path_without_dot_slash_is_the_local_folder(runs, tmp_path):
    """model = "models/sd15" names the folder under the content folder when it exists (no revision needed)."""
    content = tmp_path / "content"
    shutil.copytree(built("sd15"), content / "models" / "sd15")
    write_demo(content, "demo", "models/sd15", size=64, steps=2, prompts=["a red apple"], frames={"format": "png"})
    out = tmp_path / "build"
    assert precompute(content, out) == 0
    folder, record = record_in(out)
    _, reference = runs("sd15")
    ref_folder, ref_record = record_in(reference)
    assert record["model"]["revision"] == ref_record["model"]["revision"]  # the same files were loaded
    assert tree(folder) == tree(ref_folder) | {"run.json": (folder / "run.json").read_bytes()}


def test_euler_ancestral_is_seeded(tmp_path):
    """euler_a adds fresh noise at every step, drawn from the run's seeded generator: same seed, same bytes."""
    content = tmp_path / "content"
    shutil.copytree(built("sd15"), content / "models" / "sd15")
    write_demo(content, "demo", "./models/sd15", scheduler="euler_a", size=64, steps=2, seeds=[0, 1],
               prompts=["a red apple"])
    first, second = tmp_path / "first", tmp_path / "second"
    assert precompute(content, first) == 0 and precompute(content, second, "--force") == 0
    assert tree(first) == tree(second)
    records = [json.loads(p.read_text()) for p in sorted(first.glob("*/run.json"))]
    assert {r["scheduler"]["class_name"] for r in records} == {"EulerAncestralDiscreteScheduler"}
    by_seed = {r["seed"]: read_frame(first / r["key"], "image", len(r["timesteps"]) - 1).tobytes() for r in records}
    assert by_seed[0] != by_seed[1]


def test_loading_errors_name_their_real_cause(capsys, tmp_path):
    """A folder missing a component's weights says which file is missing, not "pickled weights"."""
    content = tmp_path / "content"
    model = shutil.copytree(built("sd15"), content / "models" / "sd15")
    (model / "unet" / "diffusion_pytorch_model.safetensors").unlink()
    write_demo(content, "demo", "./models/sd15", size=64, steps=2, prompts=["a red apple"])
    err = refused(capsys, content, tmp_path / "build", "key 'model'", "diffusion_pytorch_model.safetensors")
    assert "pickle" not in err


# --- float16: the VAE is upcast only where its config asks -------------------------------------------------


@pytest.mark.parametrize("layout, vae_dtype", [("sd15", "float16"), ("sd21", "float16"), ("sdxl", "float32"),
                                               ("sdxl-turbo", "float32")])
def test_vae_upcast_only_where_its_config_says(layout, vae_dtype):
    import torch

    from unsmudge.contract import DemoSpec
    from unsmudge.precompute.pipeline import load

    spec = DemoSpec(title="t", model=str(built(layout)), size=64, prompts=["a"])
    loaded = load(spec, Path("."), "demo.toml", torch.device("cpu"), torch.float16)
    assert str(loaded.pipe.vae.dtype) == f"torch.{vae_dtype}"
    assert loaded.pipe.unet.dtype == torch.float16


# --- hub ids: from the cache, the fp16 files in float16 and when they are all there is -----------------------


def test_hub_cache_with_only_fp16_files_runs_and_builds(capsys, hub, tmp_path):
    commit = hub_cache(hub, "stabilityai/sdxl-turbo", built("sdxl-turbo", "fp16"))
    content, out = tmp_path / "content", tmp_path / "build"
    write_demo(content, "demo", "stabilityai/sdxl-turbo", revision=commit, scheduler="model", guidance=[0.0],
               size=64, steps=1, prompts=["a red apple"])
    assert precompute(content, out, "--dtype", "float32") == 0, capsys.readouterr().err
    _, record = record_in(out)
    assert record["model"] == {"id": "stabilityai/sdxl-turbo", "revision": commit, "variant": None,
                               "fast_decoder": None}
    assert record["timesteps"] == [999, 0]
    (content / "course.toml").write_text(COURSE)
    (content / "lessons").mkdir()
    (content / "lessons" / "lesson.md").write_text(LESSON)
    shutil.rmtree(hub)
    assert unsmudge(["build", "--content", str(content), "--frames", str(out), "--out", str(tmp_path / "site")]) == 0


def _unet_weight(pipe):
    return pipe.unet.conv_in.weight.detach().float().clone()


def test_hub_float16_prefers_fp16_files_and_falls_back_to_plain(hub, tmp_path):
    """The cache holds plain files (seed 0) and fp16 files of other weights (seed 1), so the weights show which
    files were read: float16 reads the fp16 ones, float32 the plain ones; a repo without fp16 files gives its
    plain files to float16 too."""
    import torch

    from unsmudge.contract import DemoSpec
    from unsmudge.precompute.pipeline import load

    both = shutil.copytree(built("sd15"), tmp_path / "both")
    other = build_layout("sd15", tmp_path / "other", variant="fp16", seed=1)
    for path in other.rglob("*.fp16.safetensors"):
        shutil.copy(path, both / path.relative_to(other))
    plain_weight = _unet_weight(load(DemoSpec(title="t", model=str(built("sd15")), size=64, prompts=["a"]),
                                     Path("."), "d.toml", torch.device("cpu"), torch.float32).pipe)
    fp16_weight = _unet_weight(load(DemoSpec(title="t", model=str(other), size=64, prompts=["a"]),
                                    Path("."), "d.toml", torch.device("cpu"), torch.float16).pipe)
    assert not torch.allclose(plain_weight, fp16_weight, atol=1e-2)

    def hub_weight(repo: str, dtype) -> torch.Tensor:
        spec = DemoSpec(title="t", model=repo, revision=commits[repo], size=64, prompts=["a"])
        return _unet_weight(load(spec, tmp_path, "d.toml", torch.device("cpu"), dtype).pipe)

    commits = {"org/both": hub_cache(hub, "org/both", both), "org/plain": hub_cache(hub, "org/plain", built("sd15"))}
    assert torch.equal(hub_weight("org/both", torch.float16), fp16_weight)
    assert torch.equal(hub_weight("org/both", torch.float32), plain_weight)
    assert torch.equal(hub_weight("org/plain", torch.float16), plain_weight.half().float())


@pytest.mark.parametrize("listed, dtype, expected", [
    (["unet/diffusion_pytorch_model.safetensors", "unet/diffusion_pytorch_model.fp16.safetensors"], "float16", "fp16"),
    (["unet/diffusion_pytorch_model.safetensors", "unet/diffusion_pytorch_model.fp16.safetensors"], "float32", None),
    (["unet/diffusion_pytorch_model.safetensors", "unet/diffusion_pytorch_model.fp16.bin"], "float16", None),
])
def test_hub_variant_online_follows_the_repository_listing(monkeypatch, listed, dtype, expected):
    """Online, a float16 run asks for the fp16 files only when the repository lists fp16 safetensors."""
    import torch
    from huggingface_hub import HfApi, constants

    from unsmudge.contract import DemoSpec
    from unsmudge.precompute.pipeline import hub_variant

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(HfApi, "list_repo_files", lambda self, repo_id, revision=None, **kwargs: listed)
    spec = DemoSpec(title="t", model="org/model", revision="0" * 40, size=512, prompts=["a"])
    assert hub_variant(spec, getattr(torch, dtype)) == expected


def test_hub_cache_of_pickles_only_says_so(capsys, hub, tmp_path):
    pickled = configs_only("sd15", tmp_path / "pickled")
    (pickled / "unet" / "diffusion_pytorch_model.bin").write_bytes(b"\x80\x04pickle")
    commit = hub_cache(hub, "org/pickled", pickled)
    content = tmp_path / "content"
    write_demo(content, "demo", "org/pickled", revision=commit, size=512, steps=2, prompts=["a"])
    refused(capsys, content, tmp_path / "build", "key 'model'", "holds only pickled weights", "arbitrary code")


# --- refused from the configs, before any weight is read (the config-only folders hold no weights) ------------


@pytest.mark.parametrize("where", ["folder", "hub"])
def test_flow_matching_refused_from_its_configs(capsys, hub, tmp_path, where):
    content = tmp_path / "content"
    if where == "folder":
        configs_only("sd3", content / "sd3")
        write_demo(content, "demo", "./sd3", size=1024, prompts=["a"])
    else:
        write_demo(content, "demo", SD3_HUB, revision=hub_cache(hub, SD3_HUB, configs_only("sd3", tmp_path / "sd3")),
                   size=1024, prompts=["a"])
    refused(capsys, content, tmp_path / "build", "demo.toml", "key 'model'", "flow matching",
            "FlowMatchEulerDiscreteScheduler")


def test_transformer_pipelines_refused_from_their_configs(tmp_path):
    """A transformer-only pipeline (PixArt-like: SD3's layout with a DPM-Solver) is not a UNet pipeline."""
    folder = configs_only("sd3", tmp_path / "content" / "dit")
    config = folder / "scheduler" / "scheduler_config.json"
    config.write_text(json.dumps({"_class_name": "DPMSolverMultistepScheduler", "num_train_timesteps": 1000}))
    problems = _check(tmp_path / "content", model="./dit", size=1024)
    assert [(p.where, "transformer" in p.message and "UNet" in p.message) for p in problems] == [("key 'model'", True)]


def _check(content: Path, **fields):
    """check_model's problems with a demo; size=None leaves 'size' out of the spec."""
    size = fields.pop("size")
    spec_file = write_demo(content, "demo", fields.pop("model"), prompts=["a"], size=size or 8, **fields)
    if size is None:
        spec_file.write_text("".join(line for line in spec_file.read_text().splitlines(True)
                                     if not line.startswith("size =")))
    return check_model(spec_file, load_demo(spec_file), content)


@pytest.mark.parametrize("layout, native", [("sd15", 512), ("sd21", 768), ("sdxl", 1024), ("sdxl-turbo", 512)])
def test_sizes_checked_against_the_real_configs(tmp_path, layout, native):
    content = tmp_path / "content"
    configs_only(layout, content / layout)
    assert _check(content, model=f"./{layout}", size=native) == []
    assert _check(content, model=f"./{layout}", size=native * 2) == []
    [small] = _check(content, model=f"./{layout}", size=64)
    assert small.where == "key 'size'" and f"far from the {native} px" in small.message
    assert small.fix == f"use size = {native}"
    [unset] = _check(content, model=f"./{layout}", size=None)  # the default: 64 px
    assert "no size is given, so size 64 is far from" in unset.message and unset.fix == f"use size = {native}"


def test_hub_sizes_checked_from_cached_configs(capsys, hub, tmp_path):
    """SDXL at 64 px is refused for a hub id too: only the JSON configs are in the cache, no weights."""
    commit = hub_cache(hub, "stabilityai/stable-diffusion-xl-base-1.0", configs_only("sdxl", tmp_path / "sdxl"))
    content = tmp_path / "content"
    write_demo(content, "demo", "stabilityai/stable-diffusion-xl-base-1.0", revision=commit, size=64, prompts=["a"])
    refused(capsys, content, tmp_path / "build", "demo.toml", "key 'size'", "far from the 1024 px",
            "use size = 1024")


def test_hub_configs_not_cached_offline(capsys, hub, tmp_path):
    content = tmp_path / "content"
    write_demo(content, "demo", "someone/not-cached", revision="0" * 40, size=512, prompts=["a"])
    refused(capsys, content, tmp_path / "build", "key 'model'", "cannot read model_index.json",
            "'someone/not-cached'", "offline", "local diffusers folder", "embedded")


@pytest.mark.parametrize("own", ["PNDMScheduler", "DPMSolverMultistepScheduler", "UniPCMultistepScheduler"])
def test_model_scheduler_the_capture_cannot_follow_is_refused(tmp_path, own):
    folder = configs_only("sd15", tmp_path / "content" / "sd15")  # SD 1.5 ships PNDM
    config = folder / "scheduler" / "scheduler_config.json"
    config.write_text(json.dumps(dict(json.loads(config.read_text()), _class_name=own)))
    [problem] = _check(tmp_path / "content", model="./sd15", scheduler="model", size=512)
    assert problem.where == "key 'scheduler'" and own in problem.message and "pred_original_sample" in problem.message
    assert "ddim" in problem.fix and "euler_a" in problem.fix
    assert _check(tmp_path / "content", model="./sd15", scheduler="ddim", size=512) == []


def test_model_scheduler_kept_when_the_capture_can_follow_it(tmp_path):
    configs_only("sdxl-turbo", tmp_path / "content" / "turbo")
    assert _check(tmp_path / "content", model="./turbo", scheduler="model", size=512, guidance=[0.0]) == []


# --- Turbo: a warning, not an error, when guidance is above 1 -------------------------------------------------


@pytest.mark.parametrize("layout, name, guidance, warned", [
    ("sdxl-turbo", "distilled", [0.0, 7.5], True),  # Turbo's own scheduler config, whatever the name
    ("sdxl", "my-turbo", [5.0], True),  # a Turbo by name
    ("sdxl-turbo", "sdxl-turbo", [0.0, 1.0], False),  # guidance off
    ("sdxl", "sdxl", [7.5], False),  # not a Turbo
])
def test_turbo_warns_when_guidance_is_above_1(tmp_path, layout, name, guidance, warned):
    content = tmp_path / "content"
    configs_only(layout, content / name)
    spec_file = write_demo(content, "demo", f"./{name}", guidance=guidance, size=512, prompts=["a"])
    spec = load_demo(spec_file)
    assert check_model(spec_file, spec, content) == []
    warnings = model_warnings(spec_file, spec, content)
    assert bool(warnings) == warned
    if warned:
        [warning] = warnings
        assert warning.file.endswith("demos/demo.toml") and warning.where == "key 'guidance'"
        assert "Turbo" in warning.message and "guidance = [0.0]" in warning.fix
