"""The recipe for the embedded model: `python -m models.train` reproduces `models/emoji64/` from nothing.

Three parts, as in Stable Diffusion, at toy scale:
1. a VAE that squeezes a 64x64x3 emoji into a 16x16x4 latent (4x per side) and back;
2. a CLIP-style text encoder (3 layers, 128 wide) trained jointly with
3. a UNet that predicts the noise in a latent at step t, steered by the text through cross-attention.
Every stage is seeded and checkpointed (`--checkpoints`), so a stopped run resumes where it was.
Each stage stops at its step count or its time cap, whichever comes first (a capped stage goes on
from its checkpoint when run again); the steps reached are written to `training.json` beside the weights.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from diffusers import (AutoencoderKL, DDIMScheduler, DDPMScheduler, StableDiffusionPipeline,
                       UNet2DConditionModel)
from safetensors.torch import load_file
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

from models import EMBEDDED_MODEL, data, vocabulary

NOISE_SCHEDULE = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000)


@dataclass
class Recipe:
    seed: int = 0
    vae_steps: int = 12000
    vae_batch: int = 128
    vae_lr: float = 1e-3
    vae_kl_weight: float = 1e-6
    unet_steps: int = 40000
    unet_batch: int = 256
    unet_lr: float = 4e-4
    warmup: int = 500
    ema_decay: float = 0.9995
    empty_caption: float = 0.1  # share of captions dropped, so classifier-free guidance works
    name_caption: float = 0.45  # share given the plain Unicode name; the rest get a CLDR name or keyword
    caption_draw: str = "emoji"  # the rest: "emoji" draws an emoji, then one of its captions; "caption" draws
    # uniformly over all (caption, emoji) pairs, as the quality benchmark does, so keyword-rich emoji get more
    min_snr_gamma: float = 5.0  # loss weighting (Hang et al. 2023): faster convergence


def build_vae() -> AutoencoderKL:
    return AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, sample_size=data.SIZE,
        down_block_types=["DownEncoderBlock2D"] * 3, up_block_types=["UpDecoderBlock2D"] * 3,
        block_out_channels=(32, 64, 64), layers_per_block=1, norm_num_groups=32)


def build_text_encoder(tokenizer: CLIPTokenizer) -> CLIPTextModel:
    return CLIPTextModel(CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=128, intermediate_size=512, num_hidden_layers=3,
        num_attention_heads=4, max_position_embeddings=vocabulary.MAX_LENGTH, projection_dim=128,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id))


def build_unet() -> UNet2DConditionModel:
    # Cross-attention only at the 8x8 level; heads 32 wide (faster than many narrow ones on a CPU).
    return UNet2DConditionModel(
        sample_size=data.SIZE // 4, in_channels=4, out_channels=4, block_out_channels=(64, 128),
        layers_per_block=2, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), mid_block_type=None,
        cross_attention_dim=128, attention_head_dim=(2, 4), norm_num_groups=32)


def build_scheduler() -> DDIMScheduler:
    return DDIMScheduler(**NOISE_SCHEDULE, clip_sample=False, set_alpha_to_one=False, steps_offset=1,
                         timestep_spacing="trailing", prediction_type="epsilon")


class Checkpoint:
    """One stage's resumable state, written atomically so a kill never leaves a torn file."""

    def __init__(self, folder: Path, stage: str):
        self.path = folder / f"{stage}.pt"

    def load(self) -> dict | None:
        return torch.load(self.path, map_location="cpu", weights_only=False) if self.path.exists() else None

    def save(self, state: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".partial")
        torch.save(state, partial)
        os.replace(partial, self.path)


def autocast(device: torch.device):
    # bf16 autocast: 1.3x faster on a CPU, far more on a GPU; the weights stay float32
    return torch.autocast(device.type, dtype=torch.bfloat16)


def warmup_lr(step: int, recipe: Recipe) -> float:
    return min(1.0, (step + 1) / recipe.warmup)


def train_vae(pictures: torch.Tensor, recipe: Recipe, checkpoints: Path, device: torch.device,
              max_seconds: float) -> tuple[AutoencoderKL, int]:
    vae = build_vae().to(device)
    optimizer = torch.optim.AdamW(vae.parameters(), lr=recipe.vae_lr, weight_decay=0.0)
    checkpoint, step = Checkpoint(checkpoints, "vae"), 0
    generator = torch.Generator(device).manual_seed(recipe.seed)
    if state := checkpoint.load():
        vae.load_state_dict(state["model"]), optimizer.load_state_dict(state["optimizer"])
        step = state["step"]
        generator.set_state(state["generator"].to(generator.get_state().device))
        print(f"vae: resumed at step {step}", flush=True)
    done = step >= recipe.vae_steps
    start, last_save = time.monotonic(), time.monotonic()
    while not done:
        index = torch.randint(0, len(pictures), (recipe.vae_batch,), generator=generator, device=device)
        batch = pictures[index]
        for group in optimizer.param_groups:
            group["lr"] = recipe.vae_lr * warmup_lr(step, recipe)
        with autocast(device):
            posterior = vae.encode(batch).latent_dist
            latent = posterior.mean + posterior.std * torch.randn(
                posterior.mean.shape, generator=generator, device=device)
            out = vae.decode(latent).sample
        out = out.float()
        loss = F.l1_loss(out, batch) + F.mse_loss(out, batch) + recipe.vae_kl_weight * posterior.kl().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        optimizer.step()
        step += 1
        elapsed = time.monotonic() - start
        done = step >= recipe.vae_steps or elapsed > max_seconds
        if step % 500 == 0 or done:
            print(f"vae: step {step}/{recipe.vae_steps} loss {loss.item():.4f} {elapsed:.0f}s", flush=True)
        if done or time.monotonic() - last_save > 120:
            checkpoint.save(dict(model=vae.state_dict(), optimizer=optimizer.state_dict(), step=step,
                                 generator=generator.get_state()))
            last_save = time.monotonic()
    return vae.eval(), step


@torch.no_grad()
def encode_all(vae: AutoencoderKL, pictures: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Posterior mean and std of every picture, and the factor that gives the latents unit variance."""
    means, stds = [], []
    for chunk in pictures.split(256):
        posterior = vae.encode(chunk).latent_dist
        means.append(posterior.mean.float()), stds.append(posterior.std.float())
    mean, std = torch.cat(means), torch.cat(stds)
    return mean, std, float(1.0 / mean.std())


def caption_table(emoji: list[data.Emoji], tokenizer: CLIPTokenizer, device: torch.device):
    """All captions tokenized once; per emoji the range of its captions (its Unicode name first);
    per caption the emoji it belongs to."""
    captions = [c for e in emoji for c in e.captions]
    ids = tokenizer(captions + [""], padding="max_length", max_length=vocabulary.MAX_LENGTH,
                    truncation=True, return_tensors="pt").input_ids.to(device)
    counts = torch.tensor([len(e.captions) for e in emoji], device=device)
    starts = torch.cumsum(counts, 0) - counts
    owners = torch.repeat_interleave(torch.arange(len(emoji), device=device), counts)
    return ids, starts, counts, owners


def train_unet(unet, text_encoder, latent_mean, latent_std, scaling, captions, recipe: Recipe,
               checkpoints: Path, device: torch.device, max_seconds: float):
    ids, starts, counts, owners = captions
    empty_id = len(ids) - 1
    unet, text_encoder = unet.to(device).train(), text_encoder.to(device).train()
    params = list(unet.parameters()) + list(text_encoder.parameters())
    ema = [p.detach().clone() for p in params]
    optimizer = torch.optim.AdamW(params, lr=recipe.unet_lr, weight_decay=1e-2)
    noise_schedule = DDPMScheduler(**NOISE_SCHEDULE)
    alphas = noise_schedule.alphas_cumprod.to(device)
    snr = alphas / (1 - alphas)
    loss_weight = torch.clamp(snr, max=recipe.min_snr_gamma) / snr
    checkpoint, step = Checkpoint(checkpoints, "unet"), 0
    generator = torch.Generator(device).manual_seed(recipe.seed + 1)
    if state := checkpoint.load():
        unet.load_state_dict(state["unet"]), text_encoder.load_state_dict(state["text_encoder"])
        optimizer.load_state_dict(state["optimizer"])
        for e, saved in zip(ema, state["ema"]):
            e.copy_(saved)
        step = state["step"]
        generator.set_state(state["generator"].to(generator.get_state().device))
        print(f"unet: resumed at step {step}", flush=True)
    done = step >= recipe.unet_steps
    start, last_save, last_print, n = time.monotonic(), time.monotonic(), time.monotonic(), recipe.unet_batch
    while not done:
        which = torch.randint(0, len(latent_mean), (n,), generator=generator, device=device)
        draw = torch.rand(n, 2, generator=generator, device=device)
        # caption: empty, the Unicode name, or any of the emoji's captions
        chosen = starts[which] + (draw[:, 1] * counts[which]).long().clamp(max=counts[which] - 1)
        if recipe.caption_draw == "caption":  # a (caption, emoji) pair drawn from the whole table
            pair = torch.randint(0, len(owners), (n,), generator=generator, device=device)
            rest = draw[:, 0] >= recipe.empty_caption + recipe.name_caption
            chosen, which = torch.where(rest, pair, chosen), torch.where(rest, owners[pair], which)
        chosen = torch.where(draw[:, 0] < recipe.empty_caption + recipe.name_caption, starts[which], chosen)
        chosen = torch.where(draw[:, 0] < recipe.empty_caption, torch.full_like(chosen, empty_id), chosen)
        shape = latent_mean[which].shape
        latents = (latent_mean[which] + latent_std[which] * torch.randn(shape, generator=generator, device=device))
        latents = latents * scaling
        noise = torch.randn(shape, generator=generator, device=device)
        t = torch.randint(0, 1000, (n,), generator=generator, device=device)
        a = alphas[t].view(-1, 1, 1, 1)
        noisy = a.sqrt() * latents + (1 - a).sqrt() * noise
        for group in optimizer.param_groups:
            group["lr"] = recipe.unet_lr * warmup_lr(step, recipe)
        with autocast(device):
            context = text_encoder(ids[chosen])[0]
            predicted = unet(noisy, t, context).sample
        per_sample = F.mse_loss(predicted.float(), noise, reduction="none").mean(dim=(1, 2, 3))
        loss = (per_sample * loss_weight[t]).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        step += 1
        with torch.no_grad():
            decay = min(recipe.ema_decay, (1 + step) / (10 + step))
            torch._foreach_lerp_(ema, [p.detach() for p in params], 1 - decay)
        elapsed = time.monotonic() - start
        done = step >= recipe.unet_steps or elapsed > max_seconds
        if step % 500 == 0 or done or time.monotonic() - last_print > 300:  # slow devices: every 5 minutes
            print(f"unet: step {step}/{recipe.unet_steps} loss {loss.item():.4f} {elapsed:.0f}s", flush=True)
            last_print = time.monotonic()
        if done or time.monotonic() - last_save > 120:
            checkpoint.save(dict(unet=unet.state_dict(), text_encoder=text_encoder.state_dict(),
                                 optimizer=optimizer.state_dict(), ema=ema, step=step,
                                 generator=generator.get_state()))
            last_save = time.monotonic()
    with torch.no_grad():
        for p, e in zip(params, ema):
            p.copy_(e)
    return unet.eval(), text_encoder.eval(), step


def trained_part(cls, folder: Path):
    """A diffusers model this recipe saved; built from its config (from_pretrained would record the local
    folder as `_name_or_path` in the config we save again)."""
    model = cls.from_config(cls.load_config(folder))
    model.load_state_dict(load_file(folder / "diffusion_pytorch_model.safetensors"))
    return model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.train", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=EMBEDDED_MODEL, help="model folder to write")
    parser.add_argument("--data", type=Path, default=Path(__file__).parent / ".data",
                        help="rendered training set (made by `python -m models.data` if missing)")
    parser.add_argument("--checkpoints", type=Path, default=Path(__file__).parent / ".checkpoints")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--continue-from", type=Path,
                        help="a model folder this recipe wrote: keep its VAE, train its UNet and text encoder on")
    parser.add_argument("--vae-minutes", type=float, default=math.inf, help="time cap for the VAE stage")
    parser.add_argument("--unet-minutes", type=float, default=math.inf, help="time cap for the UNet stage")
    for field, default in asdict(Recipe()).items():
        parser.add_argument("--" + field.replace("_", "-"), type=type(default), default=default,
                            choices=("emoji", "caption") if field == "caption_draw" else None)
    args = parser.parse_args(argv)
    recipe = Recipe(**{k: getattr(args, k) for k in asdict(Recipe())})
    device = torch.device(args.device)
    torch.manual_seed(recipe.seed)
    if device.type == "cuda":  # small convolutions: let cuDNN pick its fastest kernels
        torch.backends.cudnn.benchmark = True
    started = time.monotonic()

    if not (args.data / "emoji.json").exists():
        data.save(args.data)
    emoji, pictures_u8 = data.load(args.data)
    pictures = torch.from_numpy(pictures_u8).permute(0, 3, 1, 2).float().div(127.5).sub(1).to(device)
    print(f"data: {len(emoji)} emoji, {sum(len(e.captions) for e in emoji)} captions; device {device}", flush=True)

    staging = args.out.with_name(args.out.name + ".partial")
    earlier = {}
    if args.continue_from:  # a trained model: keep its VAE and tokenizer, train its UNet and text encoder on
        earlier = json.loads((args.continue_from / "training.json").read_text())
        shutil.copytree(args.continue_from / "tokenizer", staging / "tokenizer", dirs_exist_ok=True)
        tokenizer = CLIPTokenizer.from_pretrained(staging / "tokenizer")
        vae = trained_part(AutoencoderKL, args.continue_from / "vae").to(device).eval()
        unet = trained_part(UNet2DConditionModel, args.continue_from / "unet")
        text_encoder = CLIPTextModel.from_pretrained(args.continue_from / "text_encoder")
        vae_steps = earlier["vae_steps_reached"]
    else:
        vocabulary.write(staging / "tokenizer", [c for e in emoji for c in e.captions])
        tokenizer = CLIPTokenizer.from_pretrained(staging / "tokenizer")
        vae, vae_steps = train_vae(pictures, recipe, args.checkpoints, device, args.vae_minutes * 60)
        unet, text_encoder = build_unet(), build_text_encoder(tokenizer)
    mean, std, scaling = encode_all(vae, pictures)
    vae.register_to_config(scaling_factor=scaling)
    print(f"vae: latents {tuple(mean.shape[1:])}, scaling factor {scaling:.4f}", flush=True)
    unet, text_encoder, unet_steps = train_unet(
        unet, text_encoder, mean, std, scaling, caption_table(emoji, tokenizer, device), recipe,
        args.checkpoints, device, args.unet_minutes * 60)

    pipe = StableDiffusionPipeline(
        vae=vae.cpu(), text_encoder=text_encoder.cpu(), tokenizer=tokenizer, unet=unet.cpu(),
        scheduler=build_scheduler(), safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(staging, safe_serialization=True)
    trained = dict(asdict(recipe), vae_steps_reached=vae_steps,
                   unet_steps_reached=unet_steps + earlier.get("unet_steps_reached", 0),
                   device=str(device), torch=torch.__version__, minutes=round((time.monotonic() - started) / 60, 1))
    if earlier:
        trained["continued_from"] = earlier
    (staging / "training.json").write_text(json.dumps(trained, indent=2) + "\n")
    if args.out.exists():
        args.out.rename(args.out.with_name(args.out.name + ".old"))
    staging.rename(args.out)
    old = args.out.with_name(args.out.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"wrote {args.out} ({size / 1e6:.1f} MB) in {trained['minutes']} min", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
