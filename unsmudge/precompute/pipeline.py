"""Loading a demo's model as a diffusers pipeline, with the spec's scheduler. Imports torch.

"embedded" is the folder `weights.embedded_model()`; a local path is a diffusers folder; anything else is
a hub id with a pinned revision. Weights load only as safetensors (`use_safetensors=True`), as the files
call for: a folder's in the variant `weights.variant` names (the run's identity hashes those same files);
a hub id's fp16 files when running in float16 and the repository has them (half the download), else its
plain files, or the fp16 ones when only those are in the cache (offline).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import diffusers
import torch
from diffusers import AutoencoderTiny, AutoPipelineForText2Image, DiffusionPipeline

from unsmudge.contract import DemoSpec
from unsmudge.precompute.checks import (PICKLE_FIX, PICKLE_WHY, SAFETENSORS, SCHEDULER_CLASSES, WAYS_OUT,
                                        ModelConfigs, first_line, offline, only_pickles)
from unsmudge.precompute.weights import VARIANT, is_variant, fast_decoder_folder, variant
from unsmudge.problems import Problem, ProblemsFound

SCHEDULERS = {name: getattr(diffusers, class_name) for name, class_name in SCHEDULER_CLASSES.items()}
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass
class Loaded:
    pipe: DiffusionPipeline
    scheduler_config: dict  # the model's own scheduler config, from which each demo's scheduler is made
    scheduler_class: type  # the model's own scheduler class (scheduler = "model")
    fast_decoder: AutoencoderTiny | None = None


def load(spec: DemoSpec, content_dir: Path, demo_file: str, device: torch.device, dtype: torch.dtype) -> Loaded:
    """The spec's model on `device` in `dtype`; ProblemsFound (naming the demo file) when it cannot load."""
    configs = ModelConfigs(spec, content_dir, demo_file)
    local = configs.folder is not None
    source = str(configs.folder) if local else spec.model
    chosen = variant(configs.folder) if local else hub_variant(spec, dtype)
    kwargs: dict = {"torch_dtype": dtype, "use_safetensors": True, "local_files_only": local or offline(),
                    "variant": chosen}
    if not local:
        kwargs["revision"] = spec.revision
    if "safety_checker" in (configs.read("model_index.json") or {}):
        # Frames are decoded by precompute itself; an author's own prompts need no NSFW filter at build time.
        kwargs.update(safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    try:
        try:
            pipe = AutoPipelineForText2Image.from_pretrained(source, **kwargs)
        except ValueError as err:
            if "AutoPipeline" not in str(err) and "auto pipeline" not in str(err).lower():
                raise
            pipe = DiffusionPipeline.from_pretrained(source, **kwargs)
    except Exception as err:  # noqa: BLE001 - every loading failure becomes one clear Problem
        raise ProblemsFound([_load_problem(spec, demo_file, configs.folder, chosen, err)]) from None
    pipe.set_progress_bar_config(disable=True)
    if dtype == torch.float16 and (configs.read("vae/config.json") or {}).get("force_upcast") is True:
        # SDXL's VAE overflows in float16 and says so in its config. diffusers' own default for a config
        # without the key is True, which would upcast SD 1.x/2.x too (double decode memory): the raw file decides.
        pipe.vae.to(torch.float32)
    pipe.to(device)
    fast = None
    if spec.fast_decoder:
        fast_folder = fast_decoder_folder(spec, content_dir)
        try:
            fast = AutoencoderTiny.from_pretrained(fast_folder, torch_dtype=dtype, use_safetensors=True,
                                                   local_files_only=True).to(device)
        except Exception as err:  # noqa: BLE001
            raise ProblemsFound([Problem(demo_file, "key 'fast_decoder'",
                                         f"cannot load '{spec.fast_decoder}' as an AutoencoderTiny: {first_line(err)}",
                                         "name a folder saved by `AutoencoderTiny.save_pretrained` (TAESD), "
                                         "or remove fast_decoder")]) from None
    return Loaded(pipe, dict(pipe.scheduler.config), type(pipe.scheduler), fast)


def use_scheduler(loaded: Loaded, spec: DemoSpec) -> None:
    """Swap in the spec's scheduler, made from the model's own scheduler config (checks.check_scheduler has
    refused a "model" class whose steps the capture cannot follow)."""
    cls = loaded.scheduler_class if spec.scheduler == "model" else SCHEDULERS[spec.scheduler]
    loaded.pipe.scheduler = cls.from_config(loaded.scheduler_config, timestep_spacing=spec.timestep_spacing)


def cached_snapshot(spec: DemoSpec) -> Path | None:
    """The folder of a hub model's cached files at its pinned revision, or None when nothing is cached."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.utils import LocalEntryNotFoundError

    try:
        return Path(hf_hub_download(spec.model, "model_index.json", revision=spec.revision,
                                    local_files_only=True)).parent
    except (LocalEntryNotFoundError, OSError, ValueError):
        return None


def hub_variant(spec: DemoSpec, dtype: torch.dtype) -> str | None:
    """Which weight files of a hub model to load: "fp16" in float16 when the repository (or, offline, the
    cache) has them, and whenever the cache holds only those; None (the plain files) otherwise."""
    snapshot = cached_snapshot(spec) if offline() else None
    if snapshot is not None and variant(snapshot):
        return VARIANT  # a float16 run's download left only the fp16 files
    if dtype != torch.float16:
        return None
    if snapshot is not None:
        names = [p.name for p in snapshot.rglob("*")]
    elif offline():
        return None  # nothing cached: loading says so
    else:
        from huggingface_hub import HfApi

        try:
            names = [Path(n).name for n in HfApi().list_repo_files(spec.model, revision=spec.revision)]
        except Exception:  # noqa: BLE001 - no listing: load the plain files; loading reports a real failure
            return None
    return VARIANT if any(n.endswith(SAFETENSORS) and is_variant(n) for n in names) else None


def _load_problem(spec: DemoSpec, demo_file: str, folder: Path | None, chosen: str | None, err: Exception) -> Problem:
    name = f"'{spec.model}'" + (f" at revision {spec.revision}" if spec.revision else "")
    weights = f" ({chosen} weights)" if chosen else ""
    files = folder if folder is not None else cached_snapshot(spec)
    if files is not None and only_pickles([p.name for p in files.rglob("*")]):
        return Problem(demo_file, "key 'model'", f"model {name} holds only pickled weights: {PICKLE_WHY}", PICKLE_FIX)
    if folder is None:
        how = "offline (HF_HUB_OFFLINE is set)" if offline() else "from the local cache or the hub"
        return Problem(demo_file, "key 'model'", f"cannot load model {name}{weights} {how}: {first_line(err)}",
                       WAYS_OUT)
    return Problem(demo_file, "key 'model'", f"cannot load model {name}{weights}: {first_line(err)}",
                   "check that the folder was saved by diffusers' `save_pretrained`; or " + WAYS_OUT)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(name)

