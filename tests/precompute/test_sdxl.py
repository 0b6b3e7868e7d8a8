"""SDXL (two text encoders, size/crop conditioning, a VAE that overflows in float16) through the capture,
on SDXL base 1.0's real configs with tiny random weights (tests/checkpoints/sdxl)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.checkpoints.layouts import built
from tests.fakeframes import read_frame
from tests.precompute.conftest import precompute, write_demo

PROMPT, SEED, GUIDANCE, STEPS = "a red apple", 0, 5.0, 3


def run_sdxl(tmp_path, *extra: str, **fields) -> tuple:
    content, out = tmp_path / "content", tmp_path / "build"
    write_demo(content, "xl", built("sdxl"), size=64, steps=STEPS, seeds=[SEED], guidance=[GUIDANCE],
               prompts=[PROMPT], frames={"format": "png"}, **fields)
    assert precompute(content, out, "--threads", "1", *extra) == 0
    [run_json] = out.glob("*/run.json")
    return run_json.parent, json.loads(run_json.read_text())


def frame(folder, view: str, index: int) -> np.ndarray:
    return np.asarray(read_frame(folder, view, index), dtype=np.int16)


@pytest.mark.parametrize("scheduler, class_name", [("euler", "EulerDiscreteScheduler"), ("ddim", "DDIMScheduler")])
def test_last_frame_is_the_pipelines_own_picture(tmp_path, scheduler, class_name):
    """The capture leaves the denoising untouched: its last frame is what StableDiffusionXLPipeline itself
    draws for the same prompt, seed, guidance and scheduler; and every step shows a different picture."""
    import diffusers
    import torch

    folder, record = run_sdxl(tmp_path, scheduler=scheduler)
    assert record["scheduler"]["class_name"] == class_name
    pipe = diffusers.StableDiffusionXLPipeline.from_pretrained(built("sdxl"), torch_dtype=torch.float32,
                                                            add_watermarker=False)
    cls = getattr(diffusers, class_name)
    pipe.scheduler = cls.from_config(pipe.scheduler.config, timestep_spacing="trailing")
    with torch.no_grad():
        own = pipe(PROMPT, num_inference_steps=STEPS, guidance_scale=GUIDANCE, height=64, width=64,
                   generator=torch.Generator("cpu").manual_seed(SEED), output_type="np").images[0]
    n = len(record["timesteps"]) - 1
    assert np.abs(frame(folder, "image", n) - (own * 255).round()).max() <= 1
    images = [frame(folder, "image", i) for i in range(n + 1)]
    predictions = [frame(folder, "prediction", i) for i in range(n)]
    assert all(np.abs(a - b).mean() > 1 for a, b in zip(images, images[1:]))
    assert all(np.abs(p - x).mean() > 1 for p, x in zip(predictions, images))  # x_0's guess is not x_t


def test_float16_runs_decode_in_float32(tmp_path, monkeypatch):
    """SDXL's VAE says force_upcast: in a float16 run the UNet works in float16 and every decode in float32."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel

    seen = {"vae": set(), "unet": set()}
    decode, forward = AutoencoderKL.decode, UNet2DConditionModel.forward

    def spy_decode(self, z, *args, **kwargs):
        seen["vae"].add((self.dtype, z.dtype))
        return decode(self, z, *args, **kwargs)

    def spy_forward(self, sample, *args, **kwargs):
        seen["unet"].add(self.dtype)
        return forward(self, sample, *args, **kwargs)

    monkeypatch.setattr(AutoencoderKL, "decode", spy_decode)
    monkeypatch.setattr(UNet2DConditionModel, "forward", spy_forward)
    folder, record = run_sdxl(tmp_path, "--dtype", "float16")
    assert record["dtype"] == "float16"
    assert seen == {"vae": {(torch.float32, torch.float32)}, "unet": {torch.float16}}
    assert frame(folder, "image", len(record["timesteps"]) - 1).std() > 5  # a picture, not an overflow's flat black
