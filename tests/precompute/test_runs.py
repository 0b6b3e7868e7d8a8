"""Real diffusers runs on the tiny model: the contract of run.json, determinism, the views, the cache."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.commands import tree
from tests.fakeframes import read_frame
from unsmudge.contract import VIEWS, find_results, load_demo, plan_runs
from unsmudge.precompute.weights import model_identity

from .conftest import ROOT, precompute, write_demo


def pixels(folder: Path, view: str, index: int):
    import numpy as np

    return np.asarray(read_frame(folder, view, index), dtype=np.float64)


def runs_of(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(out.glob("*/run.json"))]


def test_run_folders_follow_the_contract(clean_run):
    content, out, _ = clean_run
    spec = load_demo(content / "demos" / "tiny.toml")
    identity = model_identity(spec, content)
    planned = {r.key(identity, "float32"): r for r in plan_runs("tiny", spec)}
    assert sorted(p.name for p in out.iterdir()) == sorted(planned)  # nothing else: no temp, no orphans
    for data in runs_of(out):
        run = planned[data["key"]]
        assert (data["demo"], data["prompt"], data["seed"], data["guidance"]) == ("tiny", run.prompt, 0, 7.5)
        assert data["spec_hash"] == run.spec_hash and data["dtype"] == "float32" and data["device"] == "cpu"
        assert data["model"]["revision"].startswith("sha256:")
        ts = data["timesteps"]
        assert len(ts) == spec.steps + 1
        assert ts[0] >= 950 and ts[-1] == 0 and ts == sorted(ts, reverse=True) and len(set(ts)) == len(ts)
        folder = out / data["key"]
        assert set(data["views"]) == set(VIEWS)
        listed = {data["poster"], *(name for view in data["views"].values() for name in view["files"]), "run.json"}
        assert listed == {p.name for p in folder.iterdir()}
        assert data["views"]["image"]["files"] == ["image.avif"] and data["views"]["noise"]["files"] == ["latents.webp"]
    assert set(find_results(out)) == {r.spec_hash for r in planned.values()}


def test_same_spec_same_bytes_on_cpu(clean_run, tmp_path):
    content, _, clean = clean_run
    assert precompute(content, tmp_path / "again") == 0
    assert tree(tmp_path / "again") == clean


def test_prediction_and_forward_end_at_the_image(clean_run):
    _, out, _ = clean_run
    for data in runs_of(out):
        n = len(data["timesteps"]) - 1
        folder = out / data["key"]
        final = pixels(folder, "image", n)
        # the same picture, coded in another AVIF sheet (lossy: 3-5 levels on these noisy 32 px frames)
        coding = max(abs(pixels(folder, view, n) - final).mean() for view in ("prediction", "forward"))
        assert coding < 8
        # DDIM's last step lands on its own prediction (up to alpha_0 = 0.99915 with SD's set_alpha_to_one=False)
        near = abs(pixels(folder, "prediction", n - 1) - final).mean()
        far = abs(pixels(folder, "image", 0) - final).mean()
        assert near < 6 + 2 * coding and near < far / 2, (near, far, coding)


def test_forward_frames_move_away_from_the_image_as_t_grows(tiny_model, tmp_path):
    content = tmp_path / "content"
    write_demo(content, "tiny", tiny_model, steps=8, prompts=["a dog"], frames={"format": "png"})
    out = tmp_path / "build"
    assert precompute(content, out) == 0
    (data,) = runs_of(out)
    folder = out / data["key"]
    n = len(data["timesteps"]) - 1
    final = pixels(folder, "image", n)
    # from T = 0 up to T = 999
    distance = [abs(pixels(folder, "forward", i) - final).mean() for i in reversed(range(n + 1))]
    assert distance[0] == 0
    rises = sum(b > a for a, b in zip(distance, distance[1:]))
    assert rises >= len(distance) - 2, distance  # roughly monotone
    assert distance[-1] > 3 * distance[1], distance
    # and the reverse process comes the other way: noise first, the image last
    images = [abs(pixels(folder, "image", i) - final).mean() for i in range(n + 1)]
    assert images[0] > images[len(images) // 2] > images[-1] == 0, images


@pytest.mark.parametrize("scheduler", ["euler", "lms"])
def test_sigma_schedulers(tiny_model, tmp_path, scheduler):
    content = tmp_path / "content"
    write_demo(content, "tiny", tiny_model, steps=3, prompts=["a dog"], scheduler=scheduler,
               frames={"format": "png"})
    out = tmp_path / "build"
    assert precompute(content, out) == 0
    (data,) = runs_of(out)
    ts = data["timesteps"]
    assert len(ts) == 4 and ts[0] >= 950 and ts[-1] == 0
    folder = out / data["key"]
    # frames are decoded from x / sqrt(sigma^2 + 1): the first latent view is unit noise, not saturated
    first = pixels(folder, "latent", 0)
    assert 40 < first.std() < 110, first.std()
    assert (pixels(folder, "prediction", 3) == pixels(folder, "image", 3)).all()  # png: lossless


def test_cached_rerun_does_no_model_work(clean_run, monkeypatch, capsys):
    content, out, clean = clean_run
    import unsmudge.precompute.compute as compute_module

    def refuse(*args, **kwargs):
        raise AssertionError("a cached rerun must not compute")

    monkeypatch.setattr(compute_module, "compute", refuse)
    assert precompute(content, out) == 0
    assert "0 to do, 2 cached" in capsys.readouterr().out
    assert tree(out) == clean


def test_cached_rerun_never_imports_torch(clean_run):
    content, out, _ = clean_run
    code = (
        "import sys\n"
        "from unsmudge.precompute.command import main\n"
        f"status = main(['--content', {str(content)!r}, '--out', {str(out)!r}])\n"  # device and dtype auto
        "assert status == 0, status\n"
        "heavy = sorted(m for m in ('torch', 'diffusers', 'transformers', 'accelerate') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
        "print('no torch')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "everything is cached" in result.stdout and "no torch" in result.stdout


def test_work_without_torch_installed_says_how_to_install_it(clean_run, tmp_path):
    content, _, _ = clean_run
    code = (
        "import sys\n"
        "sys.modules['torch'] = None  # as if torch were not installed\n"
        "from unsmudge.precompute.command import main\n"
        f"sys.exit(main(['--content', {str(content)!r}, '--out', {str(tmp_path / 'build')!r}]))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 1
    assert "package 'torch' is not installed" in result.stderr
    assert "pip install 'unsmudge[precompute]'" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "build").exists() or not any((tmp_path / "build").iterdir())


def test_force_recomputes_the_same_bytes(clean_run, tmp_path):
    import shutil

    content, out, clean = clean_run
    copy = tmp_path / "build"
    shutil.copytree(out, copy)
    before = {p.name: p.stat().st_mtime_ns for p in copy.glob("*/run.json")}
    assert precompute(content, copy, "--force", "--demo", "tiny") == 0
    assert tree(copy) == clean
    assert all(p.stat().st_mtime_ns != before[p.name] for p in copy.glob("*/run.json"))


def test_dtype_is_in_the_key(clean_run, tmp_path):
    content, _, _ = clean_run
    out = tmp_path / "build"
    write_demo(content.parent / "bf", "tiny", load_demo(content / "demos" / "tiny.toml").model, prompts=["a dog"])
    assert precompute(content.parent / "bf", out, "--dtype", "bfloat16") == 0
    (data,) = runs_of(out)
    assert data["dtype"] == "bfloat16"
    spec = load_demo(content.parent / "bf" / "demos" / "tiny.toml")
    (run,) = plan_runs("tiny", spec)
    identity = model_identity(spec, content.parent / "bf")
    assert data["key"] == run.key(identity, "bfloat16") != run.key(identity, "float32")


def test_unsmudge_precompute_command_line(clean_run, capsys):
    from unsmudge.cli import main

    content, out, clean = clean_run
    assert main(["precompute", "--content", str(content), "--out", str(out), "--device", "cpu"]) == 0
    said = capsys.readouterr().out
    # the next step names the folders this run was given, so it reads what precompute wrote
    assert "everything is cached" in said and f"next: unsmudge build --content {content} --frames {out}" in said
    assert tree(out) == clean


def test_fast_decoder_for_the_in_between_frames(clean_run, tiny_model, tmp_path):
    import torch
    from diffusers import AutoencoderTiny

    content = tmp_path / "content"
    torch.manual_seed(0)
    AutoencoderTiny(encoder_block_out_channels=(16, 16), decoder_block_out_channels=(16, 16),
                    num_encoder_blocks=(1, 1), num_decoder_blocks=(1, 1), latent_channels=4
                    ).save_pretrained(content / "taesd", safe_serialization=True)
    write_demo(content, "tiny", tiny_model, prompts=["a dog"], fast_decoder="./taesd")
    out = tmp_path / "build"
    assert precompute(content, out) == 0
    (data,) = runs_of(out)
    _, clean_out, _ = clean_run
    (full,) = [d for d in runs_of(clean_out) if d["prompt"] == "a dog"]
    assert data["key"] != full["key"]  # the decoder shapes the pixels, so it is in the key
    fast_dir, full_dir = out / data["key"], clean_out / full["key"]
    n = len(data["timesteps"]) - 1
    # the final image is the full VAE's (equal up to the coding of the AVIF sheets' other frames); the frames
    # between come from the other decoder
    last = abs(pixels(fast_dir, "image", n) - pixels(full_dir, "image", n)).mean()
    middle = abs(pixels(fast_dir, "image", 2) - pixels(full_dir, "image", 2)).mean()
    assert last < 12 and middle > 3 * last, (last, middle)
    assert (pixels(fast_dir, "latent", 2) == pixels(full_dir, "latent", 2)).all()
