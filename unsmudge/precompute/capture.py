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
- everything is decoded in batches after the loop, not inside it, then turned into PIL images.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import torch
from diffusers.utils.torch_utils import randn_tensor

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # any object with steps, size, negative_prompt will do (the benchmark passes a namespace)
    from unsmudge.contract import DemoSpec

LATENT_RANGE = 2.0  # latent values in [-2, 2] map to [0, 255] in the latent view


def forward_seed(seed: int) -> int:
    """The seed of a run's forward-process noise: fixed by the run's seed, different from its initial noise."""
    return (seed * 1_000_003 + 7_919) % (2**63)


class DecodeOutOfMemory(RuntimeError):
    pass


@dataclass
class Captured:
    timesteps: list[int]  # n + 1 labels, noise to image, the last 0
    frames: dict[str, list] = field(default_factory=dict)  # view -> n + 1 PIL images


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


def decode(decoder, latents: torch.Tensor, batch: int) -> torch.Tensor:
    """Decode latents in batches on the decoder's device; halve the batch on CUDA out-of-memory."""
    out = []
    start = 0
    dtype = next(decoder.parameters()).dtype
    while start < len(latents):
        chunk = latents[start:start + batch].to(dtype)
        try:
            with torch.no_grad():
                out.append(decoder.decode(_unscale(chunk, decoder), return_dict=False)[0].float().cpu())
        except torch.cuda.OutOfMemoryError:
            torch.cuda.empty_cache()
            if batch == 1:
                raise DecodeOutOfMemory("CUDA ran out of memory decoding even one frame at a time") from None
            batch = max(1, batch // 2)
            continue
        start += len(chunk)
    return torch.cat(out)


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


def capture(loaded, spec: DemoSpec, prompt: str, seed: int, guidance: float, device: torch.device,
            decode_batch: int = 16, on_step=None) -> Captured:
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

    # decode: in-between frames with the fast decoder when there is one, final frames with the full VAE
    between = torch.cat([vp[:n], torch.cat(preds), forward])  # 3n latents
    vae = pipe.vae
    decoded_between = decode(loaded.fast_decoder or vae, between, decode_batch)
    decoded_final = decode(vae, final, 1)
    images = to_pil(torch.cat([decoded_between, decoded_final]))
    image_frames, pred_frames, fwd_frames = images[:n], images[n:2 * n], images[2 * n:3 * n]
    last = images[3 * n]
    captured = Captured(timesteps)
    captured.frames["image"] = image_frames + [last]
    captured.frames["prediction"] = pred_frames + [last]
    captured.frames["forward"] = fwd_frames + [last]
    captured.frames["latent"] = to_pil(latent_view(vp))
    return captured
