"""Loading a demo's model as a diffusers pipeline, with the spec's scheduler. Imports torch.

"embedded" is the folder `weights.embedded_model()`; a local path is a diffusers folder; anything else is
a hub id with a pinned revision. Weights load only as safetensors (`use_safetensors=True`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from diffusers import (
    AutoencoderTiny,
    AutoPipelineForText2Image,
    DDIMScheduler,
    DiffusionPipeline,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    LMSDiscreteScheduler,
)

from unsmudge.contract import DemoSpec
from unsmudge.precompute.checks import FLOW_FIX, PICKLE_FIX, PICKLE_WHY, flow_matching
from unsmudge.precompute.weights import fast_decoder_folder, model_folder
from unsmudge.problems import Problem, ProblemsFound

SCHEDULERS = {"ddim": DDIMScheduler, "euler": EulerDiscreteScheduler, "euler_a": EulerAncestralDiscreteScheduler,
              "lms": LMSDiscreteScheduler}
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass
class Loaded:
    pipe: DiffusionPipeline
    scheduler_config: dict  # the model's own scheduler config, from which each demo's scheduler is made
    scheduler_class: type  # the model's own scheduler class (scheduler = "model")
    fast_decoder: AutoencoderTiny | None = None


def offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def _model_index(source: str, revision: str | None, local: bool) -> dict:
    """The pipeline's model_index.json, when it can be read without loading weights."""
    try:
        if local:
            return json.loads((Path(source) / "model_index.json").read_text(encoding="utf-8"))
        from huggingface_hub import hf_hub_download

        path = hf_hub_download(source, "model_index.json", revision=revision, local_files_only=offline())
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except Exception:  # noqa: BLE001 - a missing index is reported by from_pretrained below
        return {}


def load(spec: DemoSpec, content_dir: Path, demo_file: str, device: torch.device, dtype: torch.dtype) -> Loaded:
    """The spec's model on `device` in `dtype`; ProblemsFound (naming the demo file) when it cannot load."""
    folder = model_folder(spec, content_dir)
    local = folder is not None
    source = str(folder) if local else spec.model
    kwargs: dict = {"torch_dtype": dtype, "use_safetensors": True, "local_files_only": local or offline()}
    if not local:
        kwargs["revision"] = spec.revision
    if "safety_checker" in _model_index(source, spec.revision, local):
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
        raise ProblemsFound([_load_problem(spec, demo_file, local, err)]) from None
    flow = flow_matching(type(pipe.scheduler).__name__)
    if flow:
        raise ProblemsFound([Problem(demo_file, "key 'model'", flow, FLOW_FIX)])
    pipe.set_progress_bar_config(disable=True)
    vae = getattr(pipe, "vae", None)
    if vae is not None and dtype == torch.float16 and getattr(vae.config, "force_upcast", False):
        vae.to(torch.float32)  # SDXL's VAE overflows in float16, as its pipeline also knows
    pipe.to(device)
    fast = None
    if spec.fast_decoder:
        fast_folder = fast_decoder_folder(spec, content_dir)
        try:
            fast = AutoencoderTiny.from_pretrained(fast_folder, torch_dtype=dtype, use_safetensors=True,
                                                   local_files_only=True).to(device)
        except Exception as err:  # noqa: BLE001
            raise ProblemsFound([Problem(demo_file, "key 'fast_decoder'",
                                         f"cannot load '{spec.fast_decoder}' as an AutoencoderTiny: {_first_line(err)}",
                                         "name a folder saved by `AutoencoderTiny.save_pretrained` (TAESD), "
                                         "or remove fast_decoder")]) from None
    return Loaded(pipe, dict(pipe.scheduler.config), type(pipe.scheduler), fast)


def use_scheduler(loaded: Loaded, spec: DemoSpec) -> None:
    """Swap in the spec's scheduler, made from the model's own scheduler config."""
    cls = loaded.scheduler_class if spec.scheduler == "model" else SCHEDULERS[spec.scheduler]
    loaded.pipe.scheduler = cls.from_config(loaded.scheduler_config, timestep_spacing=spec.timestep_spacing)


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return (text[0] if text else type(err).__name__)[:300]


def _load_problem(spec: DemoSpec, demo_file: str, local: bool, err: Exception) -> Problem:
    text = str(err)
    name = f"'{spec.model}'" + (f" at revision {spec.revision}" if spec.revision else "")
    if "safetensors" in text.lower():
        return Problem(demo_file, "key 'model'", f"model {name} has no safetensors weights: {PICKLE_WHY}", PICKLE_FIX)
    ways_out = ("use a local diffusers folder (model = \"./my-model\"), download it once with network "
                "(unset HF_HUB_OFFLINE; it is then cached), or use model = \"embedded\"")
    if not local:
        how = "offline (HF_HUB_OFFLINE is set)" if offline() else "from the local cache or the hub"
        return Problem(demo_file, "key 'model'",
                       f"cannot load model {name} {how}: {_first_line(err)}", ways_out)
    return Problem(demo_file, "key 'model'", f"cannot load model {name}: {_first_line(err)}",
                   "check that the folder was saved by diffusers' `save_pretrained`; or " + ways_out)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(name)


def resolve_dtype(name: str, device: torch.device) -> str:
    if name != "auto":
        return name
    return "float16" if device.type in ("cuda", "mps") else "float32"


def set_quiet() -> None:
    """Keep library chatter (deprecation notes, loading bars) out of the author's terminal."""
    from diffusers.utils import logging as dlogging
    from transformers.utils import logging as tlogging

    dlogging.set_verbosity_error()
    dlogging.disable_progress_bar()
    tlogging.set_verbosity_error()
    tlogging.disable_progress_bar()
