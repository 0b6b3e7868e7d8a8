"""The part of precompute that runs models: split the runs over processes, capture, encode, store.

Imported only when work remains (it imports torch, diffusers and accelerate).
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from pathlib import Path

# Library chatter (torchvision fallbacks, loading bars, deprecations) stays out of the author's terminal. The
# one place it is silenced: transformers reads its verbosity when first imported, so this comes first.
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
warnings.filterwarnings("ignore", category=FutureWarning, module=r"diffusers\..*")
warnings.filterwarnings("ignore", message=".*local_dir_use_symlinks.*")

import torch  # noqa: E402
from accelerate import PartialState  # noqa: E402
from diffusers.utils import logging as diffusers_logging  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402
from transformers.utils import logging as transformers_logging  # noqa: E402

from unsmudge.contract import DemoSpec, ModelIdentity, Run, RunRecord  # noqa: E402
from unsmudge.precompute import pipeline as pl  # noqa: E402
from unsmudge.precompute.capture import DecodeBatch, DecodeOutOfMemory, denoise, frames  # noqa: E402
from unsmudge.precompute.command import dtype_for  # noqa: E402
from unsmudge.precompute.store import RunWriter, SheetPacker  # noqa: E402
from unsmudge.problems import Problem, ProblemsFound, display_path  # noqa: E402

for _logging in (diffusers_logging, transformers_logging):  # their own loading bars and notes, too
    _logging.set_verbosity_error()
    _logging.disable_progress_bar()


def cpu_cores() -> int:
    try:
        import psutil

        return psutil.cpu_count(logical=False) or os.cpu_count() or 1
    except ImportError:
        return os.cpu_count() or 1


def _device(state: PartialState, name: str) -> torch.device:
    if name == "auto" or (name == "cuda" and state.num_processes > 1):
        return state.device
    return torch.device(name)


def compute(args, demos: dict[str, DemoSpec], todo: list[Run], identities: dict[str, ModelIdentity]) -> int:
    """Compute `todo`; `identities` names each demo's model (weights.model_identity, hashed once by the plan)."""
    if args.device == "auto":
        cpu = pl.resolve_device("auto").type == "cpu"
    else:
        cpu = args.device == "cpu"
    state = PartialState(cpu=cpu)
    device = _device(state, args.device)
    if device.type == "cpu":
        # CPU kernels (oneDNN convolutions, norms) round differently with other thread counts, and launchers
        # pick threads of their own (accelerate: cores / processes, torchrun: 1). Every process uses
        # --threads (default: one per core), so the bytes do not depend on --processes or the launcher.
        torch.set_num_threads(args.threads or cpu_cores())
    dtype_name = dtype_for(args.dtype, device.type)
    dtype = pl.DTYPES[dtype_name]
    content, out = Path(args.content), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    multi = state.num_processes > 1
    if state.is_main_process:
        where = f"{state.num_processes} processes" if multi else "1 process"
        threads = f", {torch.get_num_threads()} threads each" if device.type == "cpu" else ""
        print(f"precompute: computing on {device.type} in {dtype_name}, {where}{threads}", flush=True)

    status = 0
    with state.split_between_processes(todo) as mine:
        try:
            _compute_runs(args, demos, identities, mine, state, device, dtype_name, dtype, content, out)
        except ProblemsFound as err:
            for problem in err.problems:
                print(f"error: {problem}", file=sys.stderr, flush=True)
            status = 1
        except (torch.cuda.OutOfMemoryError, DecodeOutOfMemory) as err:
            print(f"error: {device.type} ran out of memory ({str(err).splitlines()[0][:200]})\n"
                  "    fix: use --dtype float16, fewer processes per GPU, a smaller 'size' or vae_tiling = true in "
                  "the demo, or --device cpu; finished runs are kept", file=sys.stderr, flush=True)
            status = 1
    if multi and status == 0:
        state.wait_for_everyone()
    return status


def _compute_runs(args, demos, identities, mine: list[Run], state, device, dtype_name, dtype, content, out) -> None:
    from PIL import features

    unwritable = sorted({run.demo for run in mine if demos[run.demo].frames.format == "avif"})
    if unwritable and not features.check("avif"):
        raise ProblemsFound([Problem(display_path(content / "demos" / f"{demo}.toml"), "frames.format",
                                     "this Pillow cannot write AVIF frames",
                                     "pip install 'pillow>=11.3' (its wheels write AVIF), or set "
                                     "format = \"webp\" under [frames]") for demo in unwritable])
    loaded_models: dict[tuple, pl.Loaded] = {}
    batch = DecodeBatch(device, None if args.decode_batch == "auto" else int(args.decode_batch))
    tag = f"[{state.process_index}] " if state.num_processes > 1 else ""
    bar = tqdm(total=len(mine), unit="run", desc=f"{tag}runs", position=2 * state.process_index,
               disable=None, dynamic_ncols=True)
    for count, run in enumerate(mine, 1):
        spec = demos[run.demo].for_run(run)
        demo_file = display_path(content / "demos" / f"{run.demo}.toml")
        model_key = (spec.model, spec.revision, spec.fast_decoder)
        if model_key not in loaded_models:
            loaded_models.clear()  # one model in memory at a time
            loaded_models[model_key] = pl.load(spec, content, demo_file, device, dtype)
        loaded = loaded_models[model_key]
        pl.use_scheduler(loaded, spec)
        started = time.monotonic()
        steps_bar = tqdm(total=spec.steps, unit="step", desc=f"{tag}{run.demo}: {run.prompt[:30]}", leave=False,
                         position=2 * state.process_index + 1, disable=None, dynamic_ncols=True)
        try:
            trajectory = denoise(loaded, spec, run.prompt, run.seed, run.guidance, on_step=steps_bar.update)
        finally:
            steps_bar.close()
        record = RunRecord.new(run, identities[run.demo], type(loaded.pipe.scheduler).__name__, spec, dtype_name,
                               device.type, trajectory.timesteps, latent_size=trajectory.images.shape[-1])
        with RunWriter(out, record.key) as writer:  # each sheet on disk as soon as its last frame is decoded
            packer = SheetPacker(record, writer)
            for view, index, image in frames(loaded, spec, trajectory, batch):
                packer.add(view, index, image)
            folder = writer.commit(record)
        bar.update()
        if bar.disable:
            print(f"{tag}[{count}/{len(mine)}] {run.demo} '{run.prompt}' seed {run.seed} guidance {run.guidance:g}"
                  f" -> {display_path(folder)} ({time.monotonic() - started:.1f} s)", flush=True)
    bar.close()
