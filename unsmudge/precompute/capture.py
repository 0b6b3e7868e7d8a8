"""One run through diffusers, keeping every step: x_t, the predicted x_0, the latent, and the forward
sequence. Imports torch.

- x_t after every step comes from `callback_on_step_end` (tensor input "latents"); frame 0 is the
  initial noise, which is the `sample` the scheduler's first `step` receives.
- the predicted x_0 is in the scheduler's step output (`pred_original_sample`), not in the callback, so
  `scheduler.step` is wrapped for the duration of the run to record it.
- Euler/LMS keep latents at the variance-exploding scale x_0 + sigma * noise (that is why the pipeline
  multiplies the first noise by `init_noise_sigma` and the scheduler divides by sqrt(sigma^2 + 1) in
  `scale_model_input`); frames are decoded from x / sqrt(sigma^2 + 1), the variance-preserving latent
  the VAE understands. DDIM latents already are.
- the forward ("add static") sequence: the final latent noised to each step's T with one fixed seeded
  noise (DDIM: `scheduler.add_noise`, the DDPM formula; Euler/LMS: x_0 + sigma * noise, the same
  rescale), so the two halves of the lesson share their T labels.
- `denoise` returns the run's latents (`Trajectory`); `frames` decodes them a batch at a time after the
  loop and yields each frame as soon as its batch is decoded, so the caller can write it at once and no
  run's images are ever all in memory.
- the decode batch comes from the memory that is free (`DecodeBatch`): halved on out-of-memory on CUDA
  and MPS, and the halved size is kept for the rest of the process.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from diffusers.utils.torch_utils import randn_tensor

from unsmudge.contract import TILE

if TYPE_CHECKING:  # any object with steps, size, negative_prompt, vae_tiling will do (benchmarks pass a namespace)
    from PIL.Image import Image

    from unsmudge.contract import DemoSpec

LATENT_RANGE = 2.0  # latent values in [-2, 2] map to [0, 255] in the latent view
AUTO_BATCH_CAP = 16  # --decode-batch auto never goes above this: bigger batches gain little, even on a GPU
# Working memory of one decoder call, in copies of the decoder's largest activation: a part whatever the
# batch (measured on the CPU with SD's VAE at 512 px: 2.0) and a part per latent (CPU 1.9, CUDA 3.1: the
# review's 0.84 GiB per image at 512 px); the per-latent figure keeps CUDA's, with a margin.
FIXED_COPIES = 2.0
COPIES_PER_LATENT = 3.5
# What decoding may hold on the CPU. Fixed, not read from the free memory: on the CPU the batch size changes
# how the VAE's kernels round, and the same spec must give the same bytes on every machine.
CPU_BUDGET = 2 << 30
# The share of free memory decoding may take on a GPU (the model is loaded already). MPS shares the host's
# memory with the OS and other programs.
SHARE = {"cuda": 0.9, "mps": 0.5}


def forward_seed(seed: int) -> int:
    """The seed of a run's forward-process noise: fixed by the run's seed, different from its initial noise."""
    return (seed * 1_000_003 + 7_919) % (2**63)


class DecodeOutOfMemory(RuntimeError):
    pass


@dataclass
class Trajectory:
    """A run's latents before decoding, all at the variance-preserving scale the VAE reads."""

    timesteps: list[int]  # n + 1 labels, noise to image, the last 0
    images: torch.Tensor  # n + 1: x at each label; the last is the final latent
    predictions: torch.Tensor  # n: the predicted x_0 of each step
    forward: torch.Tensor  # n: the final latent noised to each label with one fixed noise
    noise: torch.Tensor  # n: the noise the model guessed at each step (unit variance, like the latent)

    @property
    def steps(self) -> int:
        return len(self.predictions)


def denoise(loaded, spec: DemoSpec, prompt: str, seed: int, guidance: float, on_step=None) -> Trajectory:
    """One pipeline call with every step kept; nothing is decoded yet."""
    pipe = loaded.pipe
    scheduler = pipe.scheduler
    xs: list[torch.Tensor] = []  # x_t: the first step's input, then every step's output
    preds: list[torch.Tensor] = []  # predicted x_0 of every step

    original_step = scheduler.step

    @functools.wraps(original_step)  # keeps the signature the pipeline inspects for eta/generator
    def step(*args, **kwargs):
        out = original_step(*args, **kwargs)
        if not xs:
            sample = kwargs["sample"] if "sample" in kwargs else args[2]
            xs.append(sample.detach().clone())
        pred = out[1] if isinstance(out, tuple) else getattr(out, "pred_original_sample", None)
        if pred is None:
            raise RuntimeError(f"{type(scheduler).__name__}.step returns no pred_original_sample")
        preds.append(pred.detach().clone())
        return out

    def on_step_end(_pipe, i, t, tensors):
        xs.append(tensors["latents"].detach().clone())
        if on_step:
            on_step()
        return {}

    kwargs = {}
    if spec.negative_prompt:
        kwargs["negative_prompt"] = spec.negative_prompt
    generator = torch.Generator("cpu").manual_seed(seed)  # noise drawn on the CPU: the same on every device
    scheduler.step = step
    try:
        with torch.no_grad():
            final = pipe(prompt, num_inference_steps=spec.steps, guidance_scale=guidance, height=spec.size,
                         width=spec.size, generator=generator, output_type="latent",
                         callback_on_step_end=on_step_end, callback_on_step_end_tensor_inputs=["latents"],
                         **kwargs).images
    finally:
        del scheduler.step  # the instance attribute goes; the class's method is back
    n = len(preds)
    if len(xs) != n + 1:
        raise RuntimeError(f"captured {len(xs)} latents for {n} steps; the pipeline skipped its callback")
    final = final.detach()
    timesteps = [int(round(float(t))) for t in scheduler.timesteps[:n]] + [0]

    x = torch.cat(xs)
    sigmas = getattr(scheduler, "sigmas", None)
    if sigmas is not None:  # Euler, LMS: variance-exploding latents (DDIM has no sigmas)
        sigma = sigmas[: n + 1].to(x.device, torch.float32).view(-1, 1, 1, 1)
        vp = (x.float() / (sigma**2 + 1).sqrt()).to(x.dtype)
    else:
        sigma = None
        vp = x

    # The noise the model guessed at each step, from x_t and its predicted x_0 by the scheduler's own relation
    # (x_t = sqrt(a) x_0 + sqrt(1 - a) eps, or x_0 + sigma eps), so it holds whatever the model predicts
    # (epsilon, v or x_0); for an epsilon model it is the guided output itself (tests/precompute/test_noise.py).
    pred = torch.cat(preds).float()
    if sigma is None:
        a = scheduler.alphas_cumprod[scheduler.timesteps[:n].long().cpu()].to(x.device).view(-1, 1, 1, 1).float()
        guess = (x[:n].float() - a.sqrt() * pred) / (1 - a).sqrt()
    else:
        guess = (x[:n].float() - pred) / sigma[:n]

    # forward: the final latent noised to each t_i (i < n) with one fixed noise; at t = 0 the final latent
    noise = randn_tensor(final.shape, generator=torch.Generator("cpu").manual_seed(forward_seed(seed)),
                         device=final.device, dtype=final.dtype)
    x0 = final.expand(n, *final.shape[1:])
    noise_n = noise.expand(n, *noise.shape[1:])
    if sigma is None:
        ts = scheduler.timesteps[:n].to(final.device).long()
        forward = scheduler.add_noise(x0, noise_n, ts)
    else:
        s = sigma[:n]
        forward = ((x0.float() + s * noise_n.float()) / (s**2 + 1).sqrt()).to(final.dtype)
    return Trajectory(timesteps, torch.cat([vp[:n], final]), torch.cat(preds), forward, guess)


def frames(loaded, spec: DemoSpec, trajectory: Trajectory, batch: DecodeBatch) -> Iterator[tuple[str, int, Image]]:
    """Every frame of the run as (view, index, image), a decoded batch at a time.

    The in-between frames use the fast decoder when the demo names one; the final image always the full
    VAE, and it is the last frame of the image, prediction and forward views. Views come one after another,
    each ending with its last frame, so a packer has one picture view's sheet open at a time.
    """
    n = trajectory.steps
    for i, image in enumerate(to_pil(latent_view(trajectory.images))):
        yield "latent", i, image
    guesses = torch.cat([trajectory.noise, torch.zeros_like(trajectory.noise[:1])])  # at T = 0 no noise is left
    for i, image in enumerate(to_pil(latent_view(guesses))):
        yield "noise", i, image
    vae = loaded.pipe.vae
    set_tiling(vae, spec.vae_tiling)
    (last,) = to_pil(decode(vae, trajectory.images[n:], batch))
    between = torch.cat([trajectory.images[:n], trajectory.predictions, trajectory.forward])  # 3n latents
    names = [(view, i) for view in ("image", "prediction", "forward") for i in range(n)]
    done = 0
    for decoded in decode_batches(loaded.fast_decoder or vae, between, batch):
        for image in to_pil(decoded):
            view, i = names[done]
            yield view, i, image
            done += 1
            if i == n - 1:
                yield view, n, last


def set_tiling(vae, on: bool) -> None:
    """Decode in overlapping TILE-px tiles (diffusers blends the seams: other pixels, so it is a spec key)."""
    if not on:
        if getattr(vae, "use_tiling", False):
            vae.disable_tiling()
        return
    factor = 2 ** (len(vae.config.block_out_channels) - 1)
    vae.tile_sample_min_size = TILE
    vae.tile_latent_min_size = TILE // factor
    vae.enable_tiling()


def _unscale(latents, decoder):
    """The argument of `decoder.decode`, as diffusers' pipelines compute it from scaled latents."""
    config = decoder.config
    mean = getattr(config, "latents_mean", None)
    std = getattr(config, "latents_std", None)
    if mean is not None and std is not None:
        channels = latents.shape[1]
        mean = torch.tensor(mean).view(1, channels, 1, 1).to(latents.device, latents.dtype)
        std = torch.tensor(std).view(1, channels, 1, 1).to(latents.device, latents.dtype)
        return latents * std / config.scaling_factor + mean
    latents = latents / config.scaling_factor
    shift = getattr(config, "shift_factor", None)
    return latents + shift if shift else latents


def decode_bytes(decoder, latent_shape: tuple[int, ...], dtype: torch.dtype, batch: int) -> int:
    """Working memory of decoding `batch` latents in one call, estimated from the decoder's widths.

    A decoder doubles the resolution between its blocks; each block first reads the previous block's
    width at its own resolution, so the largest activation is the largest width x pixels over the blocks
    (SD's VAE: 256 channels at full size, 256 x 512 x 512 at 512 px). With tiling, a block sees one tile.
    """
    config = decoder.config
    widths = list(getattr(config, "block_out_channels", None) or config.decoder_block_out_channels)
    output = 3 * (latent_shape[-1] * 2 ** (len(widths) - 1)) ** 2 * 4  # the float32 image that comes back
    side = latent_shape[-1]
    if getattr(decoder, "use_tiling", False):
        side = min(side, getattr(decoder, "tile_latent_min_size", side))
    largest = widths[-1] * side * side  # the middle block, at the latent's size
    for level in range(1, len(widths)):  # up block `level` reads widths[-level] channels at side * 2**level
        largest = max(largest, widths[-level] * (side * 2**level) ** 2)
    largest *= torch.finfo(dtype).bits // 8
    return int((FIXED_COPIES + batch * COPIES_PER_LATENT) * largest + batch * output)


def budget(device: torch.device) -> int:
    """Memory decoding may use: a share of what is free on a GPU, a fixed budget on the CPU."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        free += torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)  # torch's cache is ours
    elif device.type == "mps":
        import psutil  # accelerate's dependency

        free = psutil.virtual_memory().available
    else:
        return CPU_BUDGET
    return int(free * SHARE[device.type])


class DecodeBatch:
    """How many latents go into one decoder call: `fixed`, or as many as fit in `budget` (at most
    AUTO_BATCH_CAP). Halved on out-of-memory on CUDA and MPS; a halved size holds for the rest of the
    process, for every later run with the same decoder, size and dtype."""

    fits: dict[tuple, int] = {}  # (device, decoder, latent shape, dtype, tiled) -> the most that did not run out

    def __init__(self, device: torch.device, fixed: int | None = None):
        self.device = torch.device(device)
        self.fixed = fixed

    def _key(self, decoder, latent_shape, dtype) -> tuple:
        config = dict(decoder.config)
        widths = config.get("block_out_channels") or config.get("decoder_block_out_channels")
        return (str(self.device), type(decoder).__name__, tuple(widths or ()), tuple(latent_shape[1:]), str(dtype),
                bool(getattr(decoder, "use_tiling", False)))

    def size(self, decoder, latent_shape, dtype) -> int:
        if self.fixed is not None:
            chosen = self.fixed
        else:
            room = budget(self.device)
            chosen = next((b for b in range(AUTO_BATCH_CAP, 0, -1)
                           if decode_bytes(decoder, latent_shape, dtype, b) <= room), 1)
        return max(1, min(chosen, self.fits.get(self._key(decoder, latent_shape, dtype), chosen)))

    def halve(self, decoder, latent_shape, dtype, tried: int) -> int:
        """After running out of memory at `tried`: the next size, remembered. Raises at 1."""
        if tried == 1:
            raise DecodeOutOfMemory(f"{self.device.type} ran out of memory decoding even one frame at a time")
        smaller = tried // 2
        self.fits[self._key(decoder, latent_shape, dtype)] = smaller
        return smaller

    def out_of_memory(self, err: BaseException) -> bool:
        if self.device.type not in ("cuda", "mps"):
            return False  # the host has no recoverable out-of-memory: the OS stops the process first
        return isinstance(err, torch.cuda.OutOfMemoryError) or "out of memory" in str(err).lower()


def decode_batches(decoder, latents: torch.Tensor, batch: DecodeBatch) -> Iterator[torch.Tensor]:
    """Decoded images ([-1, 1], float32, on the CPU) a batch at a time, in order."""
    dtype = next(decoder.parameters()).dtype
    size = batch.size(decoder, latents.shape, dtype)
    start = 0
    while start < len(latents):
        chunk = latents[start:start + size].to(dtype)
        try:
            with torch.no_grad():
                images = decoder.decode(_unscale(chunk, decoder), return_dict=False)[0].float().cpu()
        except RuntimeError as err:  # torch.cuda.OutOfMemoryError is one
            if not batch.out_of_memory(err):
                raise
            _empty_cache(batch.device)
            size = batch.halve(decoder, latents.shape, dtype, len(chunk))
            continue
        start += len(chunk)
        yield images


def decode(decoder, latents: torch.Tensor, batch: DecodeBatch) -> torch.Tensor:
    return torch.cat(list(decode_batches(decoder, latents, batch)))


def _empty_cache(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
    elif device.type == "mps":
        torch.mps.empty_cache()


def latent_view(latents: torch.Tensor) -> torch.Tensor:
    """Channels 0-2 of the latent as RGB in [-1, 1] (values in [-2, 2] spread over the colour range)."""
    lat = latents.float().cpu()
    if lat.shape[1] < 3:
        lat = torch.cat([lat] + [lat[:, :1]] * (3 - lat.shape[1]), dim=1)
    return (lat[:, :3] / LATENT_RANGE).clamp(-1, 1)


def to_pil(images: torch.Tensor) -> list:
    """[-1, 1] NCHW tensors to PIL images, rounding as diffusers' image processor does."""
    from PIL import Image

    array = ((images.float() / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1).numpy() * 255).round().astype("uint8")
    return [Image.fromarray(a) for a in array]
