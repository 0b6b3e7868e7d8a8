"""Every bad spec or model: the file and key named, a fix, exit 1, no traceback, nothing written."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .conftest import ROOT, precompute, write_demo


def check_refused(capsys, content, out, *needles):
    status = precompute(content, out)
    err = capsys.readouterr().err
    assert status == 1, err
    assert "Traceback" not in err
    assert "tiny.toml" in err or "demos" in err, err
    for needle in needles:
        assert needle in err, err
    assert not out.exists() or not any(out.iterdir())
    return err


@pytest.mark.parametrize("fields, needles", [
    ({"colour": "red"}, ["line 8", "unknown key 'colour'", "fix:"]),
    ({"prompts": []}, ["key 'prompts'", "fix: give at least 1 item"]),
    ({"steps": 0}, ["key 'steps'", "fix: use a value of at least 1"]),
    ({"size": 36}, ["key 'size'", "multiple of 8", "use 32"]),
    ({"size": 128}, ["key 'size'", "32 px", "use size = 32"]),
    ({"seeds": []}, ["key 'seeds'"]),
    ({"scheduler": "dpm"}, ["key 'scheduler'", "fix: use 'ddim', 'euler', 'euler_a', 'lms' or 'model'"]),
    ({"model": "someone/nothing"}, ["revision", "40-hex"]),
    ({"model": "./missing"}, ["key 'model'", "no folder './missing'", "fix:"]),
])
def test_bad_specs(capsys, course, tmp_path, tiny_model, fields, needles):
    write_demo(course, "tiny", fields.pop("model", tiny_model), **fields)
    check_refused(capsys, course, tmp_path / "build", "tiny.toml", *needles)


def test_pickled_weights_refused(capsys, course, tmp_path):
    folder = course / "pickled"
    (folder / "unet").mkdir(parents=True)
    (folder / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    (folder / "unet" / "diffusion_pytorch_model.bin").write_bytes(b"\x80\x04pickle")
    write_demo(course, "tiny", "./pickled")
    err = check_refused(capsys, course, tmp_path / "build", "key 'model'", "pickled", "arbitrary code", "safetensors")
    (course / "sd.ckpt").write_bytes(b"\x80\x04pickle")
    write_demo(course, "tiny", "./sd.ckpt")
    check_refused(capsys, course, tmp_path / "build", "key 'model'", "pickled checkpoint")
    assert "fix:" in err


def test_hub_model_that_is_not_cached_offline(capsys, course, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf-home"))
    write_demo(course, "tiny", "someone/not-cached", revision="0" * 40)
    check_refused(capsys, course, tmp_path / "build", "key 'model'", "'someone/not-cached'", "offline",
                  "local diffusers folder", "embedded")


def test_unknown_demo_id(capsys, course, tmp_path):
    status = precompute(course, tmp_path / "build", "--demo", "nope")
    err = capsys.readouterr().err
    assert status == 1 and "no demo 'nope'" in err and "tiny" in err


def test_real_command_line_prints_no_traceback(course, tmp_path, tiny_model):
    write_demo(course, "tiny", tiny_model, steps=0, stepz=3)
    result = subprocess.run([sys.executable, "-m", "unsmudge.precompute", "--content", str(course), "--out",
                             str(tmp_path / "build")], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "key 'steps'" in result.stderr and "unknown key 'stepz'" in result.stderr  # every problem at once
    assert not (tmp_path / "build").exists()


def fake_model(folder, vae_blocks=5, sample_size=4):
    (folder / "vae").mkdir(parents=True)
    (folder / "unet").mkdir()
    (folder / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    (folder / "vae" / "config.json").write_text(json.dumps({"block_out_channels": [8] * vae_blocks}))
    (folder / "unet" / "config.json").write_text(json.dumps({"sample_size": sample_size,
                                                             "down_block_types": ["DownBlock2D"] * 2}))
    (folder / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"")
    return folder


def test_size_must_be_a_multiple_of_the_vae_factor(capsys, course, tmp_path):
    fake_model(course / "big-vae")  # 5 VAE blocks: 16 px per latent pixel, trained at 64 px
    write_demo(course, "tiny", "./big-vae", size=72)
    check_refused(capsys, course, tmp_path / "build", "key 'size'", "not a multiple of 16", "use size = 64 or 80")


def test_embedded_model_only_at_its_size(capsys, course, tmp_path):
    write_demo(course, "tiny", "embedded", size=48)
    check_refused(capsys, course, tmp_path / "build", "key 'size'", "embedded model was trained at 64 px")


def test_flow_matching_models_refused(capsys, course, tmp_path):
    folder = fake_model(course / "sd3", vae_blocks=4, sample_size=128)
    (folder / "scheduler").mkdir()
    (folder / "scheduler" / "scheduler_config.json").write_text(
        json.dumps({"_class_name": "FlowMatchEulerDiscreteScheduler"}))
    write_demo(course, "tiny", "./sd3", size=1024)
    check_refused(capsys, course, tmp_path / "build", "key 'model'", "flow matching")
