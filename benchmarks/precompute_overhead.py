"""What keeping every step costs: precompute's four views against the plain pipeline call.

Same model, prompts, steps and seeds, three ways:
  plain      `pipe(prompt, ...)` returning only the final image (one VAE decode), the baseline;
  precompute what `unsmudge precompute` does per run: capture x_t, predicted x_0, latent and forward
             views, decode them in batches after the loop, encode every frame, write the run folder;
  naive      the same views, but decoded inside the step callback, one VAE call per frame.
Prints the times and both ratios (target: precompute <= 1.3x plain on a CPU with the embedded model).

Self-contained: needs the repository and torch, diffusers, transformers (+ Pillow). Examples:
  python benchmarks/precompute_overhead.py                         # embedded model, CPU, float32
  python benchmarks/precompute_overhead.py --model path/to/diffusers-folder
  python benchmarks/precompute_overhead.py --device cuda --dtype float16
Without `models/emoji64/` (or --model), a stand-in with the embedded model's architecture and random
weights is built in a temp folder: the timings then measure the architecture, not the pictures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
warnings.filterwarnings("ignore")

import torch  # noqa: E402
from diffusers import DDIMScheduler, DiffusionPipeline  # noqa: E402
from diffusers.utils import logging as dlogging  # noqa: E402

from unsmudge.contract import VIEWS, DemoSpec, Frames, ModelIdentity, RunRecord, plan_runs  # noqa: E402
from unsmudge.precompute.capture import DecodeBatch, decode, denoise, frames, latent_view, to_pil  # noqa: E402
from unsmudge.precompute.store import RunWriter, SheetPacker, write_run  # noqa: E402

EMBEDDED = ROOT / "models" / "emoji64"
PROMPTS = ["grinning face", "rocket"]
IDENTITY = ModelIdentity(id="benchmark", revision="sha256:benchmark")  # run.json needs one; nothing reads it


def stand_in(folder: Path) -> Path:
    """The embedded model's architecture (models/train.py) with random weights."""
    from tests.tiny import build_tiny_pipeline

    return build_tiny_pipeline(folder, size=64, channels=(64, 128), layers=2, vae_channels=(32, 64, 64),
                               text_dim=128, text_layers=3, max_length=16, mid_block=False, head_dim=(2, 4))


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def plain(pipe, prompt, seed, args, device):
    generator = torch.Generator("cpu").manual_seed(seed)
    return pipe(prompt, num_inference_steps=args.steps, guidance_scale=args.guidance, height=args.size,
                width=args.size, generator=generator).images[0]


def record(run, spec, args, device, timesteps, latent_size) -> RunRecord:
    return RunRecord.new(run, IDENTITY, "DDIMScheduler", spec, args.dtype, device.type, timesteps, latent_size)


def precompute_run(loaded, run, args, device, spec, batch, out):
    """What compute.py does per run: denoise, then decode a batch at a time, each frame on disk at once."""
    trajectory = denoise(loaded, spec, run.prompt, run.seed, run.guidance)
    done = record(run, spec, args, device, trajectory.timesteps, trajectory.images.shape[-1])
    with RunWriter(out, done.key) as writer:
        packer = SheetPacker(done, writer)
        for view, index, image in frames(loaded, spec, trajectory, batch):
            packer.add(view, index, image)
        writer.commit(done)


class Files(dict):
    """The packed files of a run held in memory, then written at once (write_run)."""

    add = dict.__setitem__


def naive_run(pipe, run, args, device, spec, out):
    """Decode inside the callback, one VAE call per view and step (what a first attempt looks like)."""
    scheduler = pipe.scheduler
    vae = pipe.vae
    images, preds, latents_seen = [], [], []
    original_step = scheduler.step
    one = DecodeBatch(device, fixed=1)

    def dec(latents):
        return to_pil(decode(vae, latents, one))[0]

    def step(*a, **k):
        out_ = original_step(*a, **k)
        if not latents_seen:
            sample = k.get("sample", a[2] if len(a) > 2 else None)
            latents_seen.append(sample)
            images.append(dec(sample))
        preds.append(dec(out_[1] if isinstance(out_, tuple) else out_.pred_original_sample))
        return out_

    def on_step_end(_pipe, i, t, tensors):
        latents_seen.append(tensors["latents"])
        images.append(dec(tensors["latents"]))
        return {}

    scheduler.step = step
    try:
        final = pipe(run.prompt, num_inference_steps=args.steps, guidance_scale=run.guidance, height=args.size,
                     width=args.size, generator=torch.Generator("cpu").manual_seed(run.seed), output_type="latent",
                     callback_on_step_end=on_step_end, callback_on_step_end_tensor_inputs=["latents"]).images
    finally:
        del scheduler.step
    noise = torch.randn(final.shape, generator=torch.Generator("cpu").manual_seed(run.seed + 1)).to(final)
    forward = [dec(scheduler.add_noise(final, noise, t.view(1).long())) for t in scheduler.timesteps]
    forward.append(images[-1])
    lat = to_pil(latent_view(torch.cat(latents_seen)))
    preds.append(images[-1])
    guesses = [image.point(lambda _: 128) for image in lat]  # the noise view's cost is in the packing, not here
    views = {"image": images, "prediction": preds, "latent": lat, "noise": guesses, "forward": forward}
    timesteps = [int(t) for t in scheduler.timesteps] + [0]
    done = record(run, spec, args, device, timesteps, lat[0].width)
    files = Files()
    packer = SheetPacker(done, files)
    for view in VIEWS:
        for i, image in enumerate(views[view]):
            packer.add(view, i, image)
    write_run(out, done, files)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=EMBEDDED, help="a diffusers folder (default: models/emoji64)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "mps"])
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--size", type=int, default=0, help="pixels (default: the model's native size)")
    parser.add_argument("--guidance", type=float, default=7.5)
    parser.add_argument("--repeats", type=int, default=3, help="timed passes over the prompts (median is kept)")
    parser.add_argument("--decode-batch", default="auto", help="auto (as precompute chooses) or a number")
    parser.add_argument("--format", default="webp", choices=["webp", "png", "jpeg"])
    args = parser.parse_args(argv)
    dlogging.set_verbosity_error()
    dlogging.disable_progress_bar()
    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype)
    temp = Path(tempfile.mkdtemp(prefix="precompute-bench-"))
    model = args.model
    if not (model / "model_index.json").is_file():
        print(f"note: no diffusers model at {model}; the embedded model has not landed yet or --model is wrong.\n"
              "      Using a stand-in with the embedded model's architecture (models/train.py) and random weights:"
              "\n      the ratios measure the architecture's cost, not the pictures.", file=sys.stderr)
        model = stand_in(temp / "stand-in")
        label = "stand-in (emoji64 architecture, random weights)"
    else:
        label = str(model)
    pipe = DiffusionPipeline.from_pretrained(model, torch_dtype=dtype, use_safetensors=True, local_files_only=True,
                                             safety_checker=None, requires_safety_checker=False)
    pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config, timestep_spacing="trailing")
    pipe.set_progress_bar_config(disable=True)
    pipe.to(device)
    if not args.size:
        args.size = pipe.unet.config.sample_size * pipe.vae_scale_factor
    spec = DemoSpec(title="overhead", steps=args.steps, size=args.size, guidance=[args.guidance], prompts=PROMPTS,
                    frames=Frames(format=args.format, quality=90))
    loaded = SimpleNamespace(pipe=pipe, fast_decoder=None)
    batch = DecodeBatch(device, None if args.decode_batch == "auto" else int(args.decode_batch))
    jobs = [(run,) for run in plan_runs("overhead", spec)]

    methods = {
        "plain": lambda run: plain(pipe, run.prompt, run.seed, args, device),
        "precompute": lambda run: precompute_run(loaded, run, args, device, spec, batch, temp / "out"),
        "naive": lambda run: naive_run(pipe, run, args, device, spec, temp / "naive"),
    }
    with torch.no_grad():
        for run in methods.values():  # warm-up: kernels, allocator, caches
            run(*jobs[0])
        times = {name: [] for name in methods}
        cpu = {name: [] for name in methods}
        for _ in range(args.repeats):
            for name, run in methods.items():  # interleaved, so a busy neighbour hurts all three alike
                sync(device)
                start, start_cpu = time.perf_counter(), time.process_time()
                for job in jobs:
                    run(*job)
                sync(device)
                times[name].append((time.perf_counter() - start) / len(jobs))
                cpu[name].append((time.process_time() - start_cpu) / len(jobs))
    best = {name: min(t) for name, t in times.items()}  # the least disturbed pass: robust on a shared machine
    med = {name: statistics.median(t) for name, t in times.items()}
    low = {name: min(t) for name, t in cpu.items()}
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"model: {label}")
    print(f"device: {device.type} ({where}), dtype {args.dtype}, torch {torch.__version__}")
    print(f"{args.steps} steps, {args.size} px, guidance {args.guidance}, {len(jobs)} prompts x {args.repeats} repeats,"
          f" {args.format} frames; seconds per run:")
    print(f"  {'':<11}{'wall, best':>11}{'wall, median':>14}{'CPU, best':>11}")
    for name in methods:
        print(f"  {name:<11}{best[name]:11.3f}{med[name]:14.3f}{low[name]:11.3f}")
    for name, note in (("precompute", "   (target <= 1.3x)"), ("naive", "")):
        print(f"ratio {name} / plain: {best[name] / best['plain']:.2f}x wall (best), "
              f"{med[name] / med['plain']:.2f}x wall (median), {low[name] / low['plain']:.2f}x CPU{note}")
    import shutil

    shutil.rmtree(temp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
