"""Torch-free checks of a demo's model before anything is loaded: is it there, is it safetensors,
can it take the spec's image size. They read only the folder's JSON configs and file names, so a
bad spec is reported in milliseconds, for every demo at once, before any run starts.
"""

from __future__ import annotations

import json
from pathlib import Path

from unsmudge.contract import EMBEDDED, DemoSpec
from unsmudge.precompute.weights import fast_decoder_folder, model_folder
from unsmudge.problems import Problem, display_path

# Files that hold weights as Python pickles: loading one can run arbitrary code.
PICKLED = (".bin", ".ckpt", ".pt", ".pth", ".pkl")
SAFETENSORS = ".safetensors"

PICKLE_WHY = (
    "pickled weights (.bin/.ckpt/.pt) can run arbitrary code when loaded, so unsmudge loads only safetensors"
)
PICKLE_FIX = (
    "convert once where you trust the file: load it with diffusers and save it with "
    "`pipe.save_pretrained(folder, safe_serialization=True)`, then point 'model' at that folder"
)


FLOW_FIX = "use a Stable Diffusion 1.x/2.x/Turbo/XL model, or the embedded one"


def flow_matching(scheduler_class: str) -> str:
    """Why a flow-matching model (SD3, FLUX) is refused, or '' for a diffusion model."""
    if "FlowMatch" in scheduler_class:
        return (f"this model samples by flow matching ({scheduler_class}); precompute's DDIM/Euler/LMS "
                "capture does not support it yet")
    return ""


def _json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def native_size(folder: Path) -> tuple[int | None, int]:
    """(the size in pixels the model was trained at or None, the multiple every size must be)."""
    vae = _json(folder / "vae" / "config.json") or {}
    unet = _json(folder / "unet" / "config.json") or _json(folder / "transformer" / "config.json") or {}
    vae_factor = 2 ** (len(vae.get("block_out_channels", [0, 0, 0, 0])) - 1)
    # a UNet takes any latent size (diffusers passes the upsample sizes along); a transformer needs whole patches
    unet_factor = 1 if unet.get("down_block_types") else (unet.get("patch_size") or 1)
    sample = unet.get("sample_size")
    if isinstance(sample, (list, tuple)):
        sample = sample[0]
    native = sample * vae_factor if isinstance(sample, int) else None
    return native, vae_factor * unet_factor


def check_size(spec: DemoSpec, folder: Path, shown: str) -> list[Problem]:
    """The spec's size against what the model's configs say it can take."""
    native, multiple = native_size(folder)
    problems = []
    if spec.size % multiple:
        lower = max(multiple, spec.size // multiple * multiple)
        problems.append(Problem(shown, "key 'size'",
                                f"size {spec.size} is not a multiple of {multiple}, which this model's VAE (and patches) need",
                                f"use size = {lower} or {lower + multiple}"))
    elif native:
        if spec.model == EMBEDDED and spec.size != native:
            problems.append(Problem(shown, "key 'size'",
                                    f"the embedded model was trained at {native} px only; size {spec.size} gives noise",
                                    f"use size = {native}"))
        elif not native // 2 <= spec.size <= native * 2:
            problems.append(Problem(shown, "key 'size'",
                                    f"size {spec.size} is far from the {native} px this model was trained at "
                                    "(it draws noise or repeated objects outside half to twice that)",
                                    f"use size = {native}"))
    return problems


def check_model(demo_file: Path, spec: DemoSpec, content_dir: Path) -> list[Problem]:
    """Problems with the demo's model (and fast decoder) that can be seen without loading it."""
    shown = display_path(demo_file)
    problems: list[Problem] = []
    folder = model_folder(spec, content_dir)
    if folder is not None:
        problems += _check_folder(spec, folder, shown, "model")
        if not problems:
            problems += check_size(spec, folder, shown)
    if spec.fast_decoder:
        problems += _check_folder(spec, fast_decoder_folder(spec, content_dir), shown, "fast_decoder",
                                  pipeline=False)
    return problems


def _check_folder(spec: DemoSpec, folder: Path, shown: str, key: str, pipeline: bool = True) -> list[Problem]:
    where = f"key '{key}'"
    value = getattr(spec, key)
    if key == "model" and spec.model == EMBEDDED and not folder.is_dir():
        return [Problem(shown, where, f"the embedded model is missing (no folder {display_path(folder)})",
                        "reinstall unsmudge, train it with `python -m models.train`, or name a local diffusers folder")]
    if folder.is_file():
        if folder.suffix in PICKLED:
            return [Problem(shown, where, f"'{value}' is a pickled checkpoint: {PICKLE_WHY}", PICKLE_FIX)]
        return [Problem(shown, where, f"'{value}' is a single file, not a diffusers folder",
                        "load it with `StableDiffusionPipeline.from_single_file(...)` and "
                        "`save_pretrained(folder, safe_serialization=True)`, then name that folder")]
    if not folder.is_dir():
        return [Problem(shown, where, f"no folder '{value}' (looked in {display_path(folder)})",
                        "give a diffusers folder relative to the content folder, a hub id with a pinned "
                        "revision, or model = \"embedded\"")]
    marker = "model_index.json" if pipeline else "config.json"
    if not (folder / marker).is_file():
        return [Problem(shown, where, f"'{value}' has no {marker}, so it is not a diffusers "
                        f"{'pipeline' if pipeline else 'model'} folder",
                        "save it with diffusers' `save_pretrained(folder, safe_serialization=True)`")]
    if pipeline:
        flow = flow_matching((_json(folder / "scheduler" / "scheduler_config.json") or {}).get("_class_name", ""))
        if flow:
            return [Problem(shown, where, flow, FLOW_FIX)]
    files = [p for p in folder.rglob("*") if p.is_file()]
    has_safe = any(p.name.endswith(SAFETENSORS) for p in files)
    pickled = [p for p in files if p.suffix in PICKLED]
    if pickled and not has_safe:
        return [Problem(shown, where, f"'{value}' holds only pickled weights ({pickled[0].name}): {PICKLE_WHY}",
                        PICKLE_FIX)]
    return []
