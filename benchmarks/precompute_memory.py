"""Peak memory of one precompute run at real VAE sizes: the old decode path against the new, side by side.

  old  (the named baseline, the code before streaming, copied below): every in-between latent decoded in
       batches of 16 into one tensor, all of the run's images and encoded frames held, then written;
  new  (unsmudge.precompute): the decode batch from the memory budget (capture.DecodeBatch), each decoded
       batch encoded and written to the run's temp folder at once.

Two configurations, with random weights and the real VAE architecture (AutoencoderKL 128-256-512-512, two
layers per block): Stable Diffusion 1.5 at 512 px, and SDXL's VAE (the same widths, its scaling factor) at
1024 px. The denoising loop (the same code then and now) runs a tiny UNet and text encoder: the latents
are small and decoding dominates the memory, so the UNet's size would only add the same amount to both.

Each measurement runs in a fresh process: peak resident memory (ru_maxrss) and, on CUDA, the peak of
torch's allocator. Prints a table and the ratios old / new. Examples:
  python benchmarks/precompute_memory.py                        # both sizes, 25 steps, CPU
  python benchmarks/precompute_memory.py --device cuda --dtype float16
  python benchmarks/precompute_memory.py --steps 2 --only sd15-512
On a CPU a 1024 px decode takes minutes; fewer --steps measure the same per-batch peak sooner (the old
path holds fewer images then, so its figure is a lower bound). A child that passes --limit-gib (default:
80% of the memory available when the benchmark starts) fails with "out of memory" instead of swapping.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
warnings.filterwarnings("ignore")

CONFIGS = {  # name: (pixels, the VAE's config beyond its widths)
    "sd15-512": (512, {"scaling_factor": 0.18215, "sample_size": 512, "force_upcast": False}),
    "sdxl-1024": (1024, {"scaling_factor": 0.13025, "sample_size": 1024, "force_upcast": True}),
}
VAE_WIDTHS = (128, 256, 512, 512)
OLD_BATCH = 16  # the old --decode-batch default


def build(config: str, dtype):
    """A StableDiffusionPipeline with the config's real VAE and a tiny UNet and text encoder (seeded)."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    from tests.tiny import SD_SCHEDULER, write_clip_tokenizer

    size, vae_config = CONFIGS[config]
    tokens = Path(tempfile.mkdtemp(prefix="memory-bench-")) / "tokenizer"
    vocabulary = write_clip_tokenizer(tokens, 16)
    torch.manual_seed(0)
    vae = AutoencoderKL(block_out_channels=VAE_WIDTHS, layers_per_block=2, latent_channels=4,
                        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                        **vae_config)
    unet = UNet2DConditionModel(sample_size=size // 8, block_out_channels=(32, 64), layers_per_block=1,
                                cross_attention_dim=32, attention_head_dim=8,
                                down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"))
    text = CLIPTextModel(CLIPTextConfig(vocab_size=vocabulary, hidden_size=32, intermediate_size=64,
                                        num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=16,
                                        bos_token_id=0, eos_token_id=1, pad_token_id=1))
    scheduler = DDIMScheduler.from_config(dict(SD_SCHEDULER, timestep_spacing="trailing"))
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=CLIPTokenizer.from_pretrained(tokens),
                                   unet=unet, scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    pipe.to(dtype=dtype)
    if dtype == torch.float16 and vae_config["force_upcast"]:
        pipe.vae.to(torch.float32)  # as precompute loads SDXL's VAE: it overflows in float16
    return pipe, size


# --- the baseline: the decode-and-write half of the old capture and compute, as they were ---------------

def old_decode(decoder, latents, batch: int):
    """Decode latents in batches on the decoder's device; halve the batch on CUDA out-of-memory."""
    import torch

    from unsmudge.precompute.capture import _unscale

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
                raise
            batch = max(1, batch // 2)
            continue
        start += len(chunk)
    return torch.cat(out)


def old_run(loaded, spec, trajectory, record, out: Path) -> None:
    import torch

    from unsmudge.contract import VIEWS
    from unsmudge.precompute.capture import latent_view, to_pil
    from unsmudge.precompute.store import SheetPacker, write_run

    n = trajectory.steps
    vae = loaded.pipe.vae
    between = torch.cat([trajectory.images[:n], trajectory.predictions, trajectory.forward])  # 3n latents
    decoded_between = old_decode(vae, between, OLD_BATCH)
    decoded_final = old_decode(vae, trajectory.images[n:], 1)
    images = to_pil(torch.cat([decoded_between, decoded_final]))
    last = images[3 * n]
    guesses = torch.cat([trajectory.noise, torch.zeros_like(trajectory.noise[:1])])
    frames = {"image": images[:n] + [last], "prediction": images[n:2 * n] + [last],
              "forward": images[2 * n:3 * n] + [last], "latent": to_pil(latent_view(trajectory.images)),
              "noise": to_pil(latent_view(guesses))}
    files = type("Files", (dict,), {"add": dict.__setitem__})()
    packer = SheetPacker(record, files)
    for view in VIEWS:
        for i, image in enumerate(frames[view]):
            packer.add(view, i, image)
    write_run(out, record, files)


# --- the new path: what unsmudge/precompute/compute.py does per run -------------------------------------

def new_run(loaded, spec, trajectory, record, out: Path, device) -> None:
    from unsmudge.precompute.capture import DecodeBatch, frames
    from unsmudge.precompute.store import RunWriter, SheetPacker

    with RunWriter(out, record.key) as writer:
        packer = SheetPacker(record, writer)
        for view, index, image in frames(loaded, spec, trajectory, DecodeBatch(device)):
            packer.add(view, index, image)
        writer.commit(record)


def child(args) -> None:
    """One run in this process; prints one line of JSON."""
    if args.limit_gib:
        limit = int(args.limit_gib * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    import psutil
    import torch

    from unsmudge.contract import DemoSpec, ModelIdentity, RunRecord, plan_runs
    from unsmudge.precompute.capture import DecodeBatch, decode_bytes, denoise

    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    pipe, size = build(args.child_config, dtype)
    pipe.to(device)
    spec = DemoSpec(title="memory", steps=args.steps, size=size, prompts=["a red fox in the snow"])
    (run,) = plan_runs("memory", spec)
    identity = ModelIdentity(id="memory-benchmark", revision="sha256:random-weights")
    loaded = type("Loaded", (), {"pipe": pipe, "fast_decoder": None})()
    latent_shape = (1, 4, size // 8, size // 8)
    base = psutil.Process().memory_info().rss
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    started = time.perf_counter()
    batch = min(OLD_BATCH, 3 * args.steps) if args.child_mode == "old" else DecodeBatch(device).size(
        pipe.vae, latent_shape, dtype)
    result = {"base": base, "batch": batch, "estimate": decode_bytes(pipe.vae, latent_shape, dtype, batch)}
    try:
        trajectory = denoise(loaded, spec, run.prompt, run.seed, run.guidance)
        record = RunRecord.new(run, identity, "DDIMScheduler", spec, args.dtype, device.type, trajectory.timesteps,
                               trajectory.images.shape[-1])
        out = Path(tempfile.mkdtemp(prefix="memory-bench-out-"))
        if args.child_mode == "old":
            old_run(loaded, spec, trajectory, record, out)
        else:
            new_run(loaded, spec, trajectory, record, out, device)
    except (MemoryError, RuntimeError) as err:
        if "memory" not in str(err).lower() and not isinstance(err, MemoryError):
            raise
        result["failed"] = "out of memory"
    result["seconds"] = time.perf_counter() - started
    result["peak"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    if device.type == "cuda":
        result["cuda_peak"] = torch.cuda.max_memory_allocated(device)
    print(json.dumps(result))


def measure(args, config: str, mode: str) -> dict:
    command = [sys.executable, __file__, "--child-config", config, "--child-mode", mode, "--steps", str(args.steps),
               "--device", args.device, "--dtype", args.dtype, "--limit-gib", str(args.limit_gib)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        return {"failed": f"exit {done.returncode}: {done.stderr.strip().splitlines()[-1:]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def gib(value) -> str:
    return f"{value / 2**30:.2f}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "mps"])
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--only", choices=sorted(CONFIGS), action="append", help="one configuration (repeatable)")
    parser.add_argument("--limit-gib", type=float, default=0.0, help="address-space limit of each measured process")
    parser.add_argument("--child-config", help=argparse.SUPPRESS)
    parser.add_argument("--child-mode", choices=["old", "new"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_config:
        child(args)
        return 0
    import psutil
    import torch

    if not args.limit_gib:
        args.limit_gib = round(0.8 * psutil.virtual_memory().available / 2**30, 1)
    where = (torch.cuda.get_device_name() if args.device == "cuda"
             else f"CPU, {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB")
    print(f"device: {args.device} ({where}), {args.dtype}, torch {torch.__version__}; {args.steps} steps "
          f"({3 * args.steps + 1} decodes a run); each process limited to {args.limit_gib} GiB")
    cuda = args.device == "cuda"
    print(f"{'config':<11}{'path':<5}{'batch':>6}{'host peak GiB':>15}{'above model':>13}"
          + (f"{'CUDA peak GiB':>15}" if cuda else "") + f"{'seconds':>9}{'estimate GiB':>14}")
    for config in args.only or list(CONFIGS):
        results = {mode: measure(args, config, mode) for mode in ("old", "new")}
        for mode, r in results.items():
            if "peak" not in r:
                print(f"{config:<11}{mode:<5}  {r['failed']}")
                continue
            peak = r["failed"] if "failed" in r else gib(r["peak"])
            print(f"{config:<11}{mode:<5}{r['batch']:>6}{peak:>15}{gib(r['peak'] - r['base']):>13}"
                  + (f"{gib(r['cuda_peak']):>15}" if cuda else "") + f"{r['seconds']:>9.0f}{gib(r['estimate']):>14}")
        old, new = results["old"], results["new"]
        if "peak" in old and "peak" in new and "failed" not in new:
            above = (old["peak"] - old["base"]) / (new["peak"] - new["base"])
            line = (f"{config}: old / new host peak {old['peak'] / new['peak']:.2f}x "
                    f"({above:.2f}x above the model)")
            if cuda:
                line += f", CUDA peak {old['cuda_peak'] / new['cuda_peak']:.2f}x"
            print(line + (" (old ran out of memory)" if "failed" in old else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
