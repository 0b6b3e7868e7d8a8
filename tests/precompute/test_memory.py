"""Memory that fits the card: the decode batch from the memory there is, halved on out-of-memory and
remembered; VAE tiling as a spec key; frames written as soon as their batch is decoded."""

from __future__ import annotations

import pytest
import torch
from diffusers import AutoencoderKL

from unsmudge.contract import TILE, DemoSpec, plan_runs
from unsmudge.precompute import capture
from unsmudge.precompute.capture import (AUTO_BATCH_CAP, CPU_BUDGET, DecodeBatch, DecodeOutOfMemory, Trajectory,
                                         decode, decode_bytes, frames, set_tiling)

from .conftest import precompute, write_demo

SD_WIDTHS = (128, 256, 512, 512)  # Stable Diffusion's VAE (1.x, 2.x and SDXL alike)


@pytest.fixture(autouse=True)
def fresh_memory(monkeypatch):
    """Each test starts with a process that has not run out of memory yet."""
    monkeypatch.setattr(DecodeBatch, "fits", {})


class Config(dict):
    __getattr__ = dict.get  # diffusers' configs answer attribute access


class Decoder(torch.nn.Module):
    """A decoder that runs out of memory above `limit` latents per call, the way `error` says, and
    records the batch of every call. Decoding doubles the latent's first three channels."""

    def __init__(self, limit: int, error: BaseException, widths=SD_WIDTHS):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(1))
        self.config = Config(block_out_channels=list(widths), scaling_factor=1.0)
        self.limit, self.error, self.calls = limit, error, []

    def decode(self, latents, return_dict=False):
        self.calls.append(len(latents))
        if len(latents) > self.limit:
            raise self.error
        return (2 * latents[:, :3],)


LATENTS = torch.randn(10, 4, 8, 8, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("device, error", [
    ("cuda", torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")),
    ("mps", RuntimeError("MPS backend out of memory (MPS allocated: 17.00 GB, other allocations: 1.00 GB)")),
])
def test_out_of_memory_halves_the_batch_for_the_rest_of_the_process(device, error, monkeypatch):
    monkeypatch.setattr(torch.mps, "empty_cache", lambda: None)  # this machine has no MPS to empty
    first = Decoder(2, error)
    images = decode(first, LATENTS, DecodeBatch(torch.device(device), fixed=8))
    assert torch.equal(images, 2 * LATENTS[:, :3])  # every frame, in order
    assert first.calls == [8, 4, 2, 2, 2, 2, 2]
    later = Decoder(2, error)  # the next run, even with a new DecodeBatch, starts where the last one ended
    decode(later, LATENTS, DecodeBatch(torch.device(device), fixed=8))
    assert later.calls == [2, 2, 2, 2, 2]
    other = Decoder(16, error, widths=(64, 64))  # another decoder is not held back
    decode(other, LATENTS, DecodeBatch(torch.device(device), fixed=8))
    assert other.calls == [8, 2]


def test_out_of_memory_at_one_frame_is_reported():
    one = Decoder(0, torch.cuda.OutOfMemoryError("CUDA out of memory"))
    with pytest.raises(DecodeOutOfMemory, match="even one frame at a time"):
        decode(one, LATENTS, DecodeBatch(torch.device("cuda"), fixed=4))
    assert one.calls == [4, 2, 1]


def test_other_errors_and_the_cpu_are_not_retried():
    failing = Decoder(2, RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried 9 GB; out of memory"))
    with pytest.raises(RuntimeError, match="DefaultCPUAllocator"):
        decode(failing, LATENTS, DecodeBatch(torch.device("cpu"), fixed=4))
    shapes = Decoder(2, RuntimeError("shapes cannot be multiplied"))
    with pytest.raises(RuntimeError, match="shapes"):
        decode(shapes, LATENTS, DecodeBatch(torch.device("cuda"), fixed=4))
    assert failing.calls == shapes.calls == [4]


def sd_decoder() -> Decoder:
    return Decoder(10**6, RuntimeError(), SD_WIDTHS)


def test_the_estimate_covers_what_was_measured():
    """SD's VAE at 512 px, measured on the CPU: 1.05 GiB for one latent, 1.56 GiB for two; on CUDA 0.84 GiB
    per latent at a batch of 16 (the review). The estimate is not below any of them, nor far above."""
    def need(side, batch, dtype=torch.float32):
        return decode_bytes(sd_decoder(), (1, 4, side, side), dtype, batch) / 2**30

    assert 1.05 <= need(64, 1) <= 1.5 * 1.05
    assert 1.56 <= need(64, 2) <= 1.5 * 1.56
    assert 0.84 <= need(64, 16) / 16 <= 1.5 * 0.84
    assert need(128, 1) == pytest.approx(4 * need(64, 1), rel=0.01)  # four times the pixels
    assert need(64, 1, torch.float16) == pytest.approx(need(64, 1) / 2, rel=0.01)


def largest_that_fits(room: int, side: int) -> int:
    """The batch the rule promises: the largest up to the cap whose estimate fits in `room`, else 1."""
    fitting = [b for b in range(1, AUTO_BATCH_CAP + 1)
               if decode_bytes(sd_decoder(), (1, 4, side, side), torch.float32, b) <= room]
    return max(fitting, default=1)


def test_auto_batch_on_the_cpu_depends_on_the_spec_alone(monkeypatch):
    import psutil

    cpu = DecodeBatch(torch.device("cpu"))
    sizes = {side: cpu.size(sd_decoder(), (1, 4, side, side), torch.float32) for side in (8, 32, 64, 128)}
    assert sizes == {side: largest_that_fits(CPU_BUDGET, side) for side in sizes}
    assert sizes[8] == AUTO_BATCH_CAP > sizes[32] > sizes[128] == 1
    monkeypatch.setattr(psutil, "virtual_memory", lambda: pytest.fail("the CPU batch read the free memory"))
    assert cpu.size(sd_decoder(), (1, 4, 32, 32), torch.float32) == sizes[32]


def test_auto_batch_on_cuda_fills_the_free_memory(monkeypatch):
    free = {"bytes": 0}
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (free["bytes"], 80 << 30))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device=None: 3 << 30)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: 2 << 30)  # 1 GiB cached by torch
    cuda = DecodeBatch(torch.device("cuda"))
    chosen = []
    for gib in (2, 20, 40, 80):
        free["bytes"] = gib << 30
        chosen.append(cuda.size(sd_decoder(), (1, 4, 128, 128), torch.float32))
        assert chosen[-1] == largest_that_fits(int(0.9 * ((gib + 1) << 30)), 128), gib
    assert chosen[0] == 1 < chosen[1] < chosen[2] < chosen[3] == AUTO_BATCH_CAP


def test_a_fixed_batch_is_taken_as_given():
    assert DecodeBatch(torch.device("cpu"), fixed=5).size(sd_decoder(), (1, 4, 128, 128), torch.float32) == 5


def tiny_vae() -> AutoencoderKL:
    torch.manual_seed(0)
    return AutoencoderKL(block_out_channels=(8, 16), norm_num_groups=8, latent_channels=4,
                         mid_block_add_attention=False,  # attention over a 300 x 300 latent would take minutes
                         down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2).eval()


def test_vae_tiling_decodes_in_tiles_with_less_memory():
    vae = tiny_vae()
    latents = torch.randn(1, 4, 320, 320, generator=torch.Generator().manual_seed(0))  # 640 px
    whole = decode(vae, latents, DecodeBatch(torch.device("cpu"), fixed=1))
    set_tiling(vae, True)
    tiled = decode(vae, latents, DecodeBatch(torch.device("cpu"), fixed=1))
    assert tiled.shape == whole.shape == (1, 3, 640, 640)
    assert not torch.equal(tiled, whole)  # other pixels at the seams: that is why it is a spec key
    tiled_need = decode_bytes(vae, latents.shape, torch.float32, 1)
    assert tiled_need < 0.7 * decode_bytes(tiny_vae(), latents.shape, torch.float32, 1)
    set_tiling(vae, False)
    assert torch.equal(decode(vae, latents, DecodeBatch(torch.device("cpu"), fixed=1)), whole)


def test_vae_tiling_is_part_of_the_runs_identity():
    plain = DemoSpec(title="t", size=768, prompts=["a"])
    tiled = DemoSpec(title="t", size=768, prompts=["a"], vae_tiling=True)
    assert plan_runs("d", plain)[0].spec_hash != plan_runs("d", tiled)[0].spec_hash
    with pytest.raises(ValueError, match=f"decodes in {TILE} px tiles, so at size 512 it changes nothing"):
        DemoSpec(title="t", size=512, prompts=["a"], vae_tiling=True)


def test_frames_follow_the_spec_tiling():
    vae = tiny_vae()
    loaded = type("Loaded", (), {"pipe": type("Pipe", (), {"vae": vae})(), "fast_decoder": None})()
    latents = torch.randn(3, 4, 8, 8, generator=torch.Generator().manual_seed(0))  # the spec's size is not read
    trajectory = Trajectory([999, 0], latents[:2], latents[2:], latents[2:], latents[2:])
    spec = DemoSpec(title="t", size=600, steps=1, prompts=["a"], vae_tiling=True)
    list(frames(loaded, spec, trajectory, DecodeBatch(torch.device("cpu"))))
    assert vae.use_tiling
    list(frames(loaded, spec.model_copy(update={"vae_tiling": False}), trajectory, DecodeBatch(torch.device("cpu"))))
    assert not vae.use_tiling


def test_frames_are_written_as_their_batch_is_decoded(tiny_model, tmp_path, monkeypatch):
    """A run's images are never all in memory: when a batch is decoded, the ones before it are on disk."""
    content, out = tmp_path / "content", tmp_path / "build"
    write_demo(content, "tiny", tiny_model, prompts=["a dog"], steps=3)
    on_disk = []
    original = capture.decode_batches

    def counting(decoder, latents, batch):
        for images in original(decoder, latents, batch):
            on_disk.append(sum(1 for p in out.glob(".tmp-*/*") if p.is_file()))
            yield images

    monkeypatch.setattr(capture, "decode_batches", counting)
    assert precompute(content, out, "--decode-batch", "2") == 0
    # frames go into sprite sheets, each written as soon as its last frame is in: the latent and noise views'
    # sheet before any decoding; then the final image (1 call), then the 9 in-between latents in batches of 2
    # (5 calls: image 0-1, image 2 + prediction 0, prediction 1-2, forward 0-1, forward 2). Counted as each batch
    # comes out of the decoder: the poster is on disk after the first batch, the image sheet after the second,
    # the prediction sheet after the third: one picture sheet in memory at a time
    assert on_disk == [1, 1, 2, 3, 4, 4]


def test_decode_batch_is_auto_or_a_count(course, tmp_path, capsys):
    with pytest.raises(SystemExit):
        precompute(course, tmp_path / "build", "--decode-batch", "0")
    assert "'0' is not 'auto' or a number of 1 or more" in capsys.readouterr().err
