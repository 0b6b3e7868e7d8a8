"""Torch-free checks of a demo's model before any weight is read: is it there, is it safetensors, is it a
diffusion model the capture can follow, can it take the spec's size and scheduler. They read only JSON
configs (a local folder's files, or for a hub id the few small files `hf_hub_download` fetches, from the
cache when offline) and file names, so a bad spec is reported in seconds, for every demo at once, before
any run starts.
"""

from __future__ import annotations

import json
from pathlib import Path

from unsmudge.contract import EMBEDDED, HUB_ID, DemoSpec, values_of
from unsmudge.precompute import export
from unsmudge.precompute.weights import fast_decoder_folder, model_folder
from unsmudge.problems import Problem, ProblemsFound, display_path

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
FLOW_FIX = "use a Stable Diffusion 1.x/2.x/XL/Turbo model, or the embedded one"
WAYS_OUT = ("use a local diffusers folder (model = \"./my-model\"), download it once with network "
            "(unset HF_HUB_OFFLINE; it is then cached), or use model = \"embedded\"")

# The spec's scheduler names and the diffusers classes they make. The capture needs every step's
# `pred_original_sample` (the Prediction view): these four give it; PNDM, DPM-Solver, UniPC do not.
SCHEDULER_CLASSES = {"ddim": "DDIMScheduler", "euler": "EulerDiscreteScheduler",
                     "euler_a": "EulerAncestralDiscreteScheduler", "lms": "LMSDiscreteScheduler"}
SCHEDULER_FIX = ("use scheduler = \"ddim\", \"euler\", \"euler_a\" or \"lms\" "
                 "(each made from this model's own scheduler config)")


def offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def only_pickles(names: list[str]) -> bool:
    """True when file names hold pickled weights and no safetensors."""
    return any(n.endswith(PICKLED) for n in names) and not any(n.endswith(SAFETENSORS) for n in names)


def first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return (text[0] if text else type(err).__name__)[:300]


def _json(path: Path) -> dict | None:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


class ModelConfigs:
    """The JSON configs of a demo's pipeline, never a weight file. A local folder's are read from disk; a
    hub id's are fetched one by one with `hf_hub_download` (cached; `local_files_only` when offline), and
    only for the components its model_index.json lists. A hub file that cannot be had raises ProblemsFound
    naming the demo file and key 'model'."""

    def __init__(self, spec: DemoSpec, content_dir: Path, demo_file: str):
        self.spec, self.demo_file = spec, demo_file
        self.folder = model_folder(spec, content_dir)
        self._read: dict[str, dict | None] = {}

    def read(self, name: str) -> dict | None:
        """The JSON file `name` ("unet/config.json"), or None when the model has none."""
        if name not in self._read:
            self._read[name] = self._load(name)
        return self._read[name]

    def _load(self, name: str) -> dict | None:
        if self.folder is not None:
            return _json(self.folder / name)
        component = name.partition("/")[0] if "/" in name else None
        if component is not None:
            entry = (self.read("model_index.json") or {}).get(component)
            if not (isinstance(entry, list) and len(entry) == 2 and all(entry)):
                return None  # not a component of this pipeline: nothing to fetch
        return _json(self._hub_file(name))

    def _hub_file(self, name: str) -> Path:
        from huggingface_hub import hf_hub_download
        from huggingface_hub.utils import EntryNotFoundError, LocalEntryNotFoundError

        spec = self.spec
        shown = f"'{spec.model}' at revision {spec.revision}"
        try:
            return Path(hf_hub_download(spec.model, name, revision=spec.revision, local_files_only=offline()))
        except LocalEntryNotFoundError as err:  # offline and not cached (a subclass of the next)
            raise self._unavailable(name, err) from None
        except EntryNotFoundError:  # the repository has no such file
            raise ProblemsFound([Problem(self.demo_file, "key 'model'",
                                         f"hub model {shown} has no {name}: it is not a complete diffusers pipeline",
                                         "name a repository saved by diffusers' `save_pretrained` "
                                         "(it has model_index.json), or a local diffusers folder")]) from None
        except Exception as err:  # noqa: BLE001 - no such repository or revision, no network, no access
            raise self._unavailable(name, err) from None

    def _unavailable(self, name: str, err: Exception) -> ProblemsFound:
        how = "offline (HF_HUB_OFFLINE is set)" if offline() else "from the local cache or the hub"
        return ProblemsFound([Problem(self.demo_file, "key 'model'", f"cannot read {name} of model "
                                      f"'{self.spec.model}' at revision {self.spec.revision} {how}: "
                                      f"{first_line(err)}", WAYS_OUT)])


def flow_matching(configs: ModelConfigs) -> str:
    """Why a flow-matching or transformer-only model (SD3, FLUX) is refused, or '' for a UNet diffusion model."""
    scheduler = (configs.read("scheduler/scheduler_config.json") or {}).get("_class_name", "")
    if "FlowMatch" in scheduler:
        return (f"this model samples by flow matching ({scheduler}); precompute's capture (DDIM, Euler, "
                "Euler ancestral, LMS) does not support it yet")
    if configs.read("transformer/config.json") is not None and configs.read("unet/config.json") is None:
        pipeline = (configs.read("model_index.json") or {}).get("_class_name", "a transformer pipeline")
        return (f"this model ({pipeline}) denoises with a transformer, not a UNet; precompute captures "
                "UNet diffusion pipelines only")
    return ""


def native_size(configs: ModelConfigs) -> tuple[int | None, int]:
    """(the size in pixels the model was trained at or None, the multiple every size must be)."""
    vae = configs.read("vae/config.json") or {}
    unet = configs.read("unet/config.json") or configs.read("transformer/config.json") or {}
    vae_factor = 2 ** (len(vae.get("block_out_channels", [0, 0, 0, 0])) - 1)
    # a UNet takes any latent size (diffusers passes the upsample sizes along); a transformer needs whole patches
    unet_factor = 1 if unet.get("down_block_types") else (unet.get("patch_size") or 1)
    sample = unet.get("sample_size")
    if isinstance(sample, (list, tuple)):
        sample = sample[0]
    native = sample * vae_factor if isinstance(sample, int) else None
    return native, vae_factor * unet_factor


def check_size(spec: DemoSpec, configs: ModelConfigs, shown: str) -> list[Problem]:
    """The spec's size against what the model's configs say it can take."""
    native, multiple = native_size(configs)
    # a spec without 'size' gets the default, which suits the embedded model only
    size = f"size {spec.size}" if "size" in spec.model_fields_set else f"no size is given, so size {spec.size}"
    if spec.size % multiple:
        lower = max(multiple, spec.size // multiple * multiple)
        return [Problem(shown, "key 'size'",
                        f"{size} is not a multiple of {multiple}, which this model's VAE (and patches) need",
                        f"use size = {lower} or {lower + multiple}")]
    if native and spec.model == EMBEDDED and spec.size != native:
        return [Problem(shown, "key 'size'", f"the embedded model was trained at {native} px only; "
                        f"{size} gives noise", f"use size = {native}")]
    if native and not native // 2 <= spec.size <= native * 2:
        return [Problem(shown, "key 'size'", f"{size} is far from the {native} px this model was trained at "
                        "(it draws noise or repeated objects outside half to twice that)", f"use size = {native}")]
    return []


def check_scheduler(spec: DemoSpec, configs: ModelConfigs, shown: str) -> list[Problem]:
    """scheduler = "model" keeps the model's own class: only one whose steps the capture can follow."""
    if "model" not in values_of(spec.scheduler):
        return []
    own = (configs.read("scheduler/scheduler_config.json") or {}).get("_class_name")
    if own in SCHEDULER_CLASSES.values():
        return []
    why = (f"the model's own scheduler is {own}, whose steps give no prediction of the final picture "
           "(pred_original_sample) for the Prediction view" if own else
           "the model has no scheduler/scheduler_config.json, so it has no scheduler of its own")
    return [Problem(shown, "key 'scheduler'", f"scheduler = \"model\": {why}", SCHEDULER_FIX)]


def is_turbo(spec: DemoSpec, configs: ModelConfigs) -> bool:
    """An adversarially distilled Turbo model: its name says so ("stabilityai/sdxl-turbo", "./sd-turbo"),
    or it ships Turbo's scheduler (Euler ancestral over trailing timesteps, for 1-4 step sampling)."""
    scheduler = configs.read("scheduler/scheduler_config.json") or {}
    return ("turbo" in spec.model.lower() or
            (scheduler.get("_class_name") == SCHEDULER_CLASSES["euler_a"]
             and scheduler.get("timestep_spacing") == "trailing"))


def check_model(demo_file: Path, spec: DemoSpec, content_dir: Path) -> list[Problem]:
    """Problems with the demo's model (and fast decoder) that can be seen without loading it."""
    shown = display_path(demo_file)
    problems: list[Problem] = []
    configs = ModelConfigs(spec, content_dir, shown)
    try:
        if configs.folder is not None:
            problems += _check_folder(spec, configs.folder, shown, "model")
        if not problems:
            flow = flow_matching(configs)
            if flow:
                problems.append(Problem(shown, "key 'model'", flow, FLOW_FIX))
            else:
                problems += check_size(spec, configs, shown) + check_scheduler(spec, configs, shown)
    except ProblemsFound as err:  # a hub id's configs cannot be had
        problems += err.problems
    if spec.fast_decoder:
        problems += _check_folder(spec, fast_decoder_folder(spec, content_dir), shown, "fast_decoder",
                                  pipeline=False)
    if spec.draw and not problems:
        problems += export.check(spec, content_dir, shown)
    return problems


def model_warnings(demo_file: Path, spec: DemoSpec, content_dir: Path) -> list[Problem]:
    """Settings that run but are likely not what the author wants (printed as warnings, not errors).
    Call after check_model found nothing: it reads the same configs."""
    shown = display_path(demo_file)
    if any(g > 1 for g in spec.guidance) and is_turbo(spec, ModelConfigs(spec, content_dir, shown)):
        high = ", ".join(f"{g:g}" for g in spec.guidance if g > 1)
        return [Problem(shown, "key 'guidance'",
                        f"'{spec.model}' is a Turbo model, distilled to draw without classifier-free guidance; "
                        f"guidance {high} gives over-saturated, burnt pictures",
                        "use guidance = [0.0] (Turbo's setting; 1 or less turns guidance off)")]
    return []


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
        hub_like = key == "model" and HUB_ID.match(value)
        return [Problem(shown, where, f"no folder '{value}' (looked in {display_path(folder)})",
                        "if it is a hub id, pin its commit: revision = \"<the 40-hex commit from the model's "
                        "'Files and versions' page>\"; otherwise give a diffusers folder relative to the content "
                        "folder" if hub_like else
                        "give a diffusers folder relative to the content folder, a hub id with a pinned "
                        "revision, or model = \"embedded\"")]
    marker = "model_index.json" if pipeline else "config.json"
    if not (folder / marker).is_file():
        return [Problem(shown, where, f"'{value}' has no {marker}, so it is not a diffusers "
                        f"{'pipeline' if pipeline else 'model'} folder",
                        "save it with diffusers' `save_pretrained(folder, safe_serialization=True)`")]
    names = [p.name for p in folder.rglob("*") if p.is_file()]
    if only_pickles(names):
        pickled = next(n for n in names if n.endswith(PICKLED))
        return [Problem(shown, where, f"'{value}' holds only pickled weights ({pickled}): {PICKLE_WHY}",
                        PICKLE_FIX)]
    return []
