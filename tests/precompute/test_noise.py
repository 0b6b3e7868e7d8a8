"""The noise view: the noise the model guessed at each step, and how a run's frames are packed.

The guess is recovered from x_t and the scheduler's predicted x_0 (capture.denoise); here it is checked
against what the UNet actually returned, caught by a forward hook and guided as the pipeline guides it, for
every scheduler, and for a v-prediction model through the DDIM relation.
"""

from __future__ import annotations

import io

import pytest
import torch
from diffusers import StableDiffusionPipeline
from PIL import Image

from tests.tiny import SD_SCHEDULER
from unsmudge import contract
from unsmudge.contract import VIEWS, DemoSpec, ModelIdentity, RunRecord, Sheets, plan_runs
from unsmudge.precompute import pipeline as pl
from unsmudge.precompute.capture import denoise
from unsmudge.precompute.store import SheetPacker, encode

GUIDANCE = 3.0


def guided_outputs(pipe) -> tuple[list[torch.Tensor], object]:
    """The UNet's outputs as the pipeline combines them (classifier-free guidance), one per step."""
    outputs: list[torch.Tensor] = []

    def hook(_module, _inputs, output):
        uncond, cond = output[0].chunk(2)
        outputs.append(uncond + GUIDANCE * (cond - uncond))

    return outputs, pipe.unet.register_forward_hook(hook)


@pytest.mark.parametrize("scheduler", ["ddim", "euler", "euler_a", "lms"])
def test_the_noise_view_is_the_models_guess(tiny_model, scheduler):
    pipe = StableDiffusionPipeline.from_pretrained(tiny_model, safety_checker=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    loaded = pl.Loaded(pipe, dict(SD_SCHEDULER), type(pipe.scheduler))
    spec = DemoSpec(title="noise", scheduler=scheduler, steps=6, size=32, prompts=["a cat"])
    pl.use_scheduler(loaded, spec)
    outputs, handle = guided_outputs(pipe)
    try:
        trajectory = denoise(loaded, spec, "a cat", 0, GUIDANCE)
    finally:
        handle.remove()
    assert len(outputs) == trajectory.steps == len(trajectory.noise)
    for step, (got, want) in enumerate(zip(trajectory.noise, torch.cat(outputs))):
        assert (got - want).abs().max() < 1e-3 * want.abs().max(), (scheduler, step)


def test_a_v_prediction_models_guess_is_turned_into_noise(tiny_model):
    """A v model returns v = sqrt(a) eps - sqrt(1 - a) x_0; the view still shows eps = sqrt(a) v + sqrt(1 - a) x_t."""
    config = dict(SD_SCHEDULER, prediction_type="v_prediction")
    pipe = StableDiffusionPipeline.from_pretrained(tiny_model, safety_checker=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    loaded = pl.Loaded(pipe, config, type(pipe.scheduler))
    spec = DemoSpec(title="noise", scheduler="ddim", steps=4, size=32, prompts=["a cat"])
    pl.use_scheduler(loaded, spec)
    outputs, handle = guided_outputs(pipe)
    inputs: list[torch.Tensor] = []
    pre = pipe.unet.register_forward_pre_hook(lambda _m, args: inputs.append(args[0][:1].clone()))
    try:
        trajectory = denoise(loaded, spec, "a cat", 0, GUIDANCE)
    finally:
        handle.remove()
        pre.remove()
    alphas = pipe.scheduler.alphas_cumprod[pipe.scheduler.timesteps.long()]
    for step, (got, v, x) in enumerate(zip(trajectory.noise, outputs, inputs)):
        a = alphas[step]
        want = (a.sqrt() * v + (1 - a).sqrt() * x)[0]
        assert (got - want).abs().max() < 1e-3 * want.abs().max(), step


class Files(dict):
    """A stand-in for the run writer: the files handed to it, by name."""

    def add(self, name: str, data: bytes) -> None:
        assert name not in self, f"{name} written twice"
        self[name] = data


@pytest.mark.parametrize("size, steps, side, sheets", [(64, 25, 8192, 1), (64, 25, 256, 2)])
def test_frames_are_packed_in_a_few_sheets(monkeypatch, size, steps, side, sheets):
    """Every frame lands in its own cell (read back from the encoded sheets), and a run is a poster, the
    picture views' sheets and one set for both latent views: more sheets only past SHEET_SIDE."""
    monkeypatch.setattr(contract, "SHEET_SIDE", side)
    spec = DemoSpec(title="pack", size=size, steps=steps, prompts=["p"], frames={"format": "png"})
    run = plan_runs("pack", spec)[0]
    record = RunRecord.new(run, ModelIdentity(id="embedded", revision="sha256:1"), "DDIMScheduler", spec,
                           "float32", "cpu", list(range(steps, -1, -1)), latent_size=size // 8)
    files = Files()
    packer = SheetPacker(record, files)
    colour = {(view, i): (i * 9 % 256, VIEWS.index(view) * 50, 7) for view in VIEWS for i in range(steps + 1)}
    for view in VIEWS:
        for i in range(steps + 1):
            side_px = record.views[view].size
            packer.add(view, i, Image.new("RGB", (side_px, side_px), colour[view, i]))
    assert set(files) == set(record.frame_files())
    latent_sheets = len(record.views["latent"].files)
    assert len(files) == 1 + 3 * sheets + latent_sheets and latent_sheets <= sheets
    assert files[record.poster] == encode(Image.new("RGB", (size, size), colour["image", 0]), "png", None)
    for view in VIEWS:
        grid = record.views[view]
        assert grid.width <= side and grid.height <= side
        for i in range(steps + 1):
            name, x, y = grid.cell(i)
            picture = Image.open(io.BytesIO(files[name]))
            assert picture.size == (grid.width, grid.height)
            assert picture.getpixel((x + grid.size // 2, y + grid.size // 2))[:3] == colour[view, i], (view, i)


@pytest.mark.parametrize("size, steps, files, width", [(512, 50, 1, 4096), (1024, 50, 1, 8192), (2048, 50, 4, 8192)])
def test_sd_sized_runs_fit_a_sheet_per_view(size, steps, files, width):
    grid = Sheets.grid("image", "avif", steps + 1, size)
    assert len(grid.files) == files and grid.width == width and grid.height <= 8192


def test_the_same_pixels_give_the_same_bytes():
    """AVIF on one thread, and lossless WebP, repeat byte for byte (libaom on several threads does not)."""
    picture = Image.effect_noise((256, 256), 60).convert("RGB")
    for fmt, quality in (("avif", 50), ("webp", None)):
        assert encode(picture, fmt, quality) == encode(picture.copy(), fmt, quality)
