"""The contract between the stages: demo specs, runs and their keys, and the run record (`run.json`).

Owned by neither stage and torch-free: precompute writes what this module describes, the build stage,
serve, the tests' fakes and the benchmarks read it through the same functions. Layers go one way:
problems <- contract <- build, precompute (a test fails if an import goes the other way).

- A **demo spec** (`content/demos/<id>.toml`) says what to compute.
- A **run** is one (demo, prompt, seed, guidance). Its `spec_hash` covers everything written in the spec
  that shapes its pixels; it does not read the model's weights, so the build stage can find a run's
  results on a machine that has no weights (a CI checkout of `content/` and `build/`).
- A run's folder `build/<key>/` is named by `Run.key(model identity, dtype)`: what precompute actually
  loaded (component files or a pinned hub commit) and the dtype it ran in. New weights, new folder.
- `run.json` (a `RunRecord`) is written last; a folder counts only when `RunRecord.is_complete` says so:
  its record is valid and every file it names is there. Both stages use that one test.
- A run's frames are packed in sprite sheets (`Sheets`), a few files per run: a poster (the first frame,
  shown at once), one sheet per picture view and one for the two latent-sized views.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import (BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator,
                      model_validator)
from pydantic_core import PydanticKnownError

from unsmudge.problems import Problem, ProblemsFound, display_path, key_line, pydantic_problems, toml_problem

# Bump when the capture, the frame layout or run.json changes: old runs are then recomputed, not misread.
FORMAT_VERSION = 3
EMBEDDED = "embedded"
# The frames a run saves at every step. Picture views are decoded by the VAE, at the spec's size; latent views
# are 4-channel latents shown as colour at the latent's own size (the latent itself, the model's noise guess).
PICTURE_VIEWS = ("image", "prediction", "forward")
LATENT_VIEWS = ("latent", "noise")
VIEWS = PICTURE_VIEWS + LATENT_VIEWS
RUN_JSON = "run.json"
EXTENSIONS = {"avif": "avif", "webp": "webp", "png": "png", "jpeg": "jpg"}  # frame format -> file extension
# The quality of each lossy format where its frames are at least as faithful (SSIM against lossless frames,
# mean and worst frame, every picture view) as one JPEG q70 per frame, and smallest: measured by
# benchmarks/slider_delivery.py on SD-sized frames (docs/benchmarks.md).
QUALITY = {"avif": 50, "webp": 60, "jpeg": 70}
# Latent views are drawn cell by cell, several times larger, so every number must survive: lossless WebP.
LATENT_FORMAT = "webp"
SHEET_SIDE = 8192  # pixels: a sprite sheet's largest side (WebP stops at 16383; phones decode 8192 well)
# The settings that tell a demo's runs apart, in plan order, and what `compare` may name -> the spec's key whose
# 2-4 values are then shown side by side, under one slider
COMPARED = {"prompt": "prompts", "seed": "seeds", "guidance": "guidance", "scheduler": "scheduler", "steps": "steps"}
# "model" keeps the model's own scheduler class (what it was published with)
SCHEDULER_NAMES = {"ddim": "DDIM", "euler": "Euler", "euler_a": "Euler ancestral", "lms": "LMS",
                   "model": "the model's own"}
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
COMMIT = re.compile(r"^[0-9a-f]{40}$")
DEMO_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
TILE = 512  # vae_tiling: pixels per decoded tile
# Every run starts from pure noise. A "leading" schedule starting below this T labels that noise as a
# picture already partly visible (SD's schedule: sqrt(alphas_cumprod[950]) = 9% of it, against the 7% that
# even T = 999 shows); tests/precompute/test_oracle.py checks the frames of every accepted setting.
LEADING_START = 950


class Frames(BaseModel):
    """How the picture views are encoded: part of every run's key. No quality: the measured one (QUALITY)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    format: Literal["avif", "webp", "png", "jpeg"] = "avif"
    quality: int | None = Field(None, ge=1, le=100)

    def chosen_quality(self) -> int | None:
        """The quality to encode with; None for PNG (lossless)."""
        return self.quality if self.quality is not None else QUALITY.get(self.format)


def model_source(model: str, revision: str | None) -> Literal["embedded", "local", "hub"]:
    """What a spec's `model` names: the embedded model; a hub id ("org/name") when a `revision` pins it; else a
    folder relative to the content folder. So "models/sd15" is a folder even on a machine without it (a CI
    checkout that builds the site from `build/`), and a hub id without its commit is refused as a missing folder
    with the fix."""
    if model == EMBEDDED:
        return "embedded"
    if revision is not None and HUB_ID.match(model):  # "./x", "/x", "~/x" never match
        return "hub"
    return "local"


MAX_STEPS = 1000


def values_of(value) -> list:
    """A spec key's values: its list, or its one value."""
    return list(value) if isinstance(value, list) else [value]


class DemoSpec(BaseModel):
    """A demo spec. `scheduler` and `steps` hold one value, or 2-4 when `compare` names them; a run has one of
    each (`Run`, and `for_run` gives the spec as that run sees it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=1)
    description: str = ""
    # show the runs that differ only in this setting side by side, under one slider (2-4 of them). Declared
    # before the settings it names: their checks read it.
    compare: Literal[tuple(COMPARED)] | None = None  # type: ignore[valid-type]
    # "embedded" (the default model shipped in unsmudge), a local diffusers folder
    # (relative to the content folder), or a hub id with a pinned 40-hex `revision`.
    model: str = EMBEDDED
    revision: str | None = None
    scheduler: str | list[str] = Field("ddim", validate_default=True)  # a SCHEDULER_NAMES key, or 2-4 (compare)
    steps: int | list[int] = Field(25, validate_default=True)  # 1-MAX_STEPS, or 2-4 (compare); before
    # timestep_spacing, whose check reads it
    timestep_spacing: Literal["trailing", "leading", "linspace"] = "trailing"
    size: int = Field(64, ge=8, le=2048)
    seeds: list[int] = Field(default=[0], min_length=1, validate_default=True)
    guidance: list[float] = Field(default=[7.5], min_length=1, validate_default=True)
    negative_prompt: str = ""
    # a local AutoencoderTiny folder used to decode the in-between frames fast (last frame: full VAE)
    fast_decoder: str | None = None
    # decode in overlapping TILE px tiles: far less memory at large sizes, slightly other pixels at the seams
    vae_tiling: bool = False
    frames: Frames = Frames()
    prompts: list[str] = Field(min_length=1)
    # "Draw your own": the learner types a prompt and the model runs in the page (precompute exports it to
    # build/live-<key>/, the build copies it; see `find_live_for`)
    draw: bool = False

    @field_validator("size")
    @classmethod
    def _multiple_of_8(cls, size: int) -> int:
        if size % 8:
            raise ValueError(f"size {size} is not a multiple of 8, which the VAE needs; use {size // 8 * 8 or 8}")
        return size

    @field_validator("timestep_spacing")
    @classmethod
    def _right_pictures(cls, spacing: str, info: ValidationInfo) -> str:
        """Refuse the spacings whose frames would not show what their T says."""
        if "steps" not in info.data or "scheduler" not in info.data or spacing == "trailing":
            return spacing
        for steps in values_of(info.data["steps"]):
            for scheduler in values_of(info.data["scheduler"]):
                cls._check_spacing(spacing, steps, scheduler)
        return spacing

    @staticmethod
    def _check_spacing(spacing: str, steps: int, scheduler: str) -> None:
        fix = 'use timestep_spacing = "trailing", which starts at T = 999 and spaces the steps evenly'
        if spacing == "linspace" and steps == 1:
            raise ValueError(f"with 1 step, linspace spacing runs that step at T = 0, so pure noise is shown as "
                             f"the finished picture; {fix}")
        if spacing == "linspace" and scheduler == "ddim":
            raise ValueError(f"DDIM steps down by 1000 // steps = {1000 // steps} every time, but linspace spaces "
                             f"{steps} steps {999 / (steps - 1):.1f} apart, so frames miss their T and noise is left "
                             f"in the finished picture; {fix}")
        first = (steps - 1) * (1000 // steps) + 1  # diffusers' leading timesteps, with SD's steps_offset of 1
        if spacing == "leading" and first < LEADING_START:
            raise ValueError(f"with {steps} step(s), leading spacing starts at T = {first}, but a run starts from "
                             f"pure noise, so the first frames show more noise than their T says; {fix} (or a "
                             f"number of steps that starts leading at T = {LEADING_START} or later: 20, 25, 50)")

    @field_validator("vae_tiling")
    @classmethod
    def _tiles(cls, tiling: bool, info: ValidationInfo) -> bool:
        size = info.data.get("size")
        if tiling and size is not None and size <= TILE:
            raise ValueError(f"vae_tiling decodes in {TILE} px tiles, so at size {size} it changes nothing; "
                             f"remove it (it is for sizes above {TILE})")
        return tiling

    @field_validator("prompts")
    @classmethod
    def _prompts(cls, prompts: list[str]) -> list[str]:
        if any(not p.strip() for p in prompts):
            raise ValueError("a prompt is empty; write words or remove it")
        if len(set(prompts)) != len(prompts):
            raise ValueError("a prompt is listed twice; remove the copy")
        return prompts

    @field_validator("scheduler", "steps", mode="before")
    @classmethod
    def _one_or_a_list(cls, value, info: ValidationInfo):
        """One value, or a list of them, each checked here: pydantic's own message for the bad one, instead
        of one message per branch of the union."""
        for one in values_of(value):
            if info.field_name == "scheduler" and one not in SCHEDULER_NAMES:
                names = [repr(name) for name in SCHEDULER_NAMES]
                raise PydanticKnownError("literal_error", {"expected": ", ".join(names[:-1]) + " or " + names[-1]})
            if info.field_name == "steps":
                if not isinstance(one, int) or isinstance(one, bool):
                    raise PydanticKnownError("int_type")
                if one < 1:
                    raise PydanticKnownError("greater_than_equal", {"ge": 1})
                if one > MAX_STEPS:
                    raise PydanticKnownError("less_than_equal", {"le": MAX_STEPS})
        return value

    @field_validator("scheduler", "steps", "seeds", "guidance", "prompts")
    @classmethod
    def _compared(cls, value, info: ValidationInfo):
        """The compared key lists 2-4 different values; `scheduler` and `steps` list several only then."""
        compare = info.data.get("compare")
        if compare and COMPARED[compare] == info.field_name:
            if not isinstance(value, list) or not 2 <= len(value) <= 4 or len(set(value)) != len(value):
                given = ("it holds one" if not isinstance(value, list) else
                         f"it lists {len(value)}" if len(set(value)) == len(value) else "it lists one twice")
                raise ValueError(f"compare = \"{compare}\" shows runs side by side, so '{info.field_name}' must "
                                 f"list 2 to 4 different values ({given}); list them, or remove 'compare'")
        elif isinstance(value, list) and info.field_name in ("scheduler", "steps"):
            raise ValueError(f"'{info.field_name}' lists several values, which only compare = "
                             f"\"{info.field_name}\" shows; give one value, or add compare = \"{info.field_name}\"")
        return value

    def for_run(self, run: "Run") -> "DemoSpec":
        """The spec as one of its runs is computed: one scheduler and one step count, the run's."""
        return self.model_copy(update={"scheduler": run.scheduler, "steps": run.steps})

    @field_validator("guidance")
    @classmethod
    def _guidance(cls, scales: list[float]) -> list[float]:
        if any(g < 0 for g in scales):
            raise ValueError("guidance scales must be 0 or more")
        return scales

    @model_validator(mode="after")
    def _live(self) -> "DemoSpec":
        """The live run replaces panel 0 and runs one DDIM schedule: no comparison, no other scheduler."""
        if self.draw and self.compare:
            raise ValueError(f"draw = true shows the learner's own run in place of the first panel, which "
                             f"compare = \"{self.compare}\" needs; remove one of them")
        if self.draw and self.scheduler != "ddim":
            raise ValueError(f"draw = true runs DDIM in the page, not '{self.scheduler}'; set scheduler = "
                             "\"ddim\", or remove draw")
        return self

    @model_validator(mode="after")
    def _pinned_revision(self) -> "DemoSpec":
        if self.revision is None:
            return self
        if model_source(self.model, self.revision) != "hub":
            raise ValueError(f"'revision' applies only to hub models (\"org/name\"), not to '{self.model}'; "
                             "remove it")
        if not COMMIT.match(self.revision):
            raise ValueError(f"revision '{self.revision}' is not a 40-hex commit; pin the model's commit (see its "
                             "'Files and versions' page): a branch or tag moves, and the frames would not match")
        return self


def load_demo(path: Path) -> DemoSpec:
    """Parse and validate one demo spec; raise ProblemsFound naming the file and line or key."""
    path = Path(path)
    shown = display_path(path)
    demo_id = path.stem
    problems = []
    if not DEMO_ID.match(demo_id):
        problems.append(Problem(shown, "", f"demo id '{demo_id}' is not lowercase letters, digits and '-'",
                                "rename the file, e.g. 'emoji-diffusion.toml'"))
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except OSError as err:
        raise ProblemsFound([Problem(shown, "", f"cannot read the demo spec ({err.strerror})", "check the path")])
    except UnicodeDecodeError as err:
        raise ProblemsFound([Problem(shown, "", f"is not UTF-8 text (byte {err.start})",
                                     "save the file as UTF-8")]) from None
    except tomllib.TOMLDecodeError as err:
        raise ProblemsFound([toml_problem(shown, err, 0, text)])
    try:
        spec = DemoSpec.model_validate(data)
    except ValidationError as err:
        problems += pydantic_problems(shown, err, lambda loc: key_line(text, loc))
    if problems:
        raise ProblemsFound(problems)
    return spec


def load_demos(content_dir: Path) -> dict[str, DemoSpec]:
    """Every demo under `content_dir/demos`, by id; all problems of all files reported at once."""
    demos, problems = {}, []
    for path in sorted((Path(content_dir) / "demos").glob("*.toml")):
        try:
            demos[path.stem] = load_demo(path)
        except ProblemsFound as err:
            problems += err.problems
    if problems:
        raise ProblemsFound(problems)
    return demos


class ModelIdentity(BaseModel):
    """What precompute loaded: a hub id at a pinned commit, or a digest of the files a local folder's
    `model_index.json` selects (configs and the weights actually read)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    revision: str  # a 40-hex hub commit, or "sha256:<digest>"
    # "fp16" when the fp16 weight files were read. Not part of the key: a local folder's digest already
    # covers the files read, and a hub model's fp16 files are its weights rounded as a float16 run rounds them.
    variant: str | None = None
    fast_decoder: str | None = None  # "sha256:<digest>" of the fast decoder's files, when the spec names one

    def digest(self) -> str:
        return hashlib.sha256(f"{self.id}@{self.revision}+{self.fast_decoder}".encode()).hexdigest()


class Run(BaseModel):
    model_config = ConfigDict(frozen=True)
    demo: str
    prompt: str
    seed: int
    guidance: float
    scheduler: str
    steps: int
    spec_hash: str

    def key(self, identity: ModelIdentity, dtype: str) -> str:
        """The run's folder name: the spec's pixels, the exact weights loaded and the dtype."""
        return hashlib.sha256(f"{self.spec_hash}:{identity.digest()}:{dtype}".encode()).hexdigest()[:16]


def plan_runs(demo_id: str, spec: DemoSpec) -> list[Run]:
    """All runs of a demo in a fixed order: prompt, seed, guidance, scheduler, steps. Reads no file."""
    shared = {
        "format_version": FORMAT_VERSION,
        "model": spec.model,
        "revision": spec.revision,
        "timestep_spacing": spec.timestep_spacing,
        "size": spec.size,
        "negative_prompt": spec.negative_prompt,
        "fast_decoder": spec.fast_decoder,
        "frames": spec.frames.model_dump(),
    }
    if spec.vae_tiling:  # only when on, so the keys of every untiled run stay as they were
        shared["vae_tiling"] = True
    runs = []
    for prompt, seed, guidance, scheduler, steps in itertools.product(
            spec.prompts, spec.seeds, spec.guidance, values_of(spec.scheduler), values_of(spec.steps)):
        # a run's own scheduler and steps: the same hash as a spec that names only those
        shaped = dict(shared, prompt=prompt, seed=seed, guidance=float(guidance), scheduler=scheduler, steps=steps)
        spec_hash = hashlib.sha256(json.dumps(shaped, sort_keys=True).encode()).hexdigest()
        runs.append(Run(demo=demo_id, prompt=prompt, seed=seed, guidance=float(guidance), scheduler=scheduler,
                        steps=steps, spec_hash=spec_hash))
    return runs


class Sheets(BaseModel):
    """Where one view's frames are: square frames of `size` px, `columns` x `rows` to a sheet file (every
    sheet has that size; unused cells stay black); frame i is cell `first + i`, counted row by row across
    `files` in order."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    files: list[str] = Field(min_length=1)
    size: int = Field(ge=1)
    columns: int = Field(ge=1)
    rows: int = Field(ge=1)
    first: int = Field(0, ge=0)

    @property
    def width(self) -> int:
        return self.columns * self.size

    @property
    def height(self) -> int:
        return self.rows * self.size

    def cells(self) -> int:
        return self.columns * self.rows * len(self.files)

    def cell(self, index: int) -> tuple[str, int, int]:
        """The sheet file holding frame `index` and the frame's top-left corner in it, in pixels."""
        cell = self.first + index
        per = self.columns * self.rows
        k = cell % per
        return self.files[cell // per], (k % self.columns) * self.size, (k // self.columns) * self.size

    @classmethod
    def grid(cls, name: str, ext: str, cells: int, size: int) -> "Sheets":
        """Sheets for `cells` frames of `size` px: one near-square sheet when they fit in SHEET_SIDE, else
        as many full sheets as needed."""
        side = max(1, SHEET_SIDE // size)
        if cells <= side * side:
            columns = math.ceil(math.sqrt(cells))
            rows, count = math.ceil(cells / columns), 1
        else:
            columns = rows = side
            count = math.ceil(cells / (side * side))
        files = [f"{name}.{ext}"] if count == 1 else [f"{name}-{k}.{ext}" for k in range(count)]
        return cls(files=files, size=size, columns=columns, rows=rows)


class SchedulerRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str  # the spec's name ("ddim", ..., "model")
    class_name: str  # the diffusers class that ran
    timestep_spacing: str
    steps: int


class RunRecord(BaseModel):
    """`run.json`: one finished run. `timesteps` runs from noise to image (the last is 0); frame i of every
    view is at that T; `views` says where each view's frames are, `poster` is the image view's first frame."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    format_version: Literal[FORMAT_VERSION]  # type: ignore[valid-type]
    key: str
    spec_hash: str
    demo: str
    prompt: str
    seed: int
    guidance: float
    model: ModelIdentity
    scheduler: SchedulerRecord
    size: int
    dtype: str
    device: str
    frames: Frames
    timesteps: list[int] = Field(min_length=2)
    poster: str
    views: dict[str, Sheets]

    @model_validator(mode="after")
    def _every_view(self) -> "RunRecord":
        if set(self.views) != set(VIEWS):
            raise ValueError(f"'views' must name exactly {', '.join(VIEWS)}")
        for view, sheets in self.views.items():
            if sheets.first + len(self.timesteps) > sheets.cells():
                raise ValueError(f"the '{view}' sheets have fewer cells than the run has frames")
        if any("/" in name or "\\" in name or name.startswith(".") or name == RUN_JSON for name in self.frame_files()):
            raise ValueError("file names must be plain file names inside the run folder")
        return self

    @classmethod
    def new(cls, run: Run, identity: ModelIdentity, scheduler_class: str, spec: DemoSpec, dtype: str,
            device: str, timesteps: list[int], latent_size: int) -> "RunRecord":
        """The record of a run with these timesteps; `latent_size`: the latent's side (size / VAE factor)."""
        count, ext = len(timesteps), EXTENSIONS[spec.frames.format]
        views = {view: Sheets.grid(view, ext, count, spec.size) for view in PICTURE_VIEWS}
        latents = Sheets.grid("latents", EXTENSIONS[LATENT_FORMAT], 2 * count, latent_size)
        views.update(latent=latents, noise=latents.model_copy(update={"first": count}))
        return cls(format_version=FORMAT_VERSION, key=run.key(identity, dtype), spec_hash=run.spec_hash,
                   demo=run.demo, prompt=run.prompt, seed=run.seed, guidance=run.guidance, model=identity,
                   scheduler=SchedulerRecord(name=run.scheduler, class_name=scheduler_class,
                                             timestep_spacing=spec.timestep_spacing, steps=run.steps),
                   size=spec.size, dtype=dtype, device=device, frames=spec.frames, timesteps=timesteps,
                   poster=f"poster.{ext}", views={view: views[view] for view in VIEWS})

    def to_json(self) -> str:
        """The file's text: keys in the documented order, one-space indent, final newline."""
        return json.dumps(self.model_dump(mode="json"), indent=1, ensure_ascii=False) + "\n"

    def frame_files(self) -> list[str]:
        """Every file the run's folder holds besides run.json: the poster, then the sheets."""
        names = [self.poster] + [name for sheets in self.views.values() for name in sheets.files]
        return list(dict.fromkeys(names))

    def encoding(self, name: str) -> tuple[str, int | None]:
        """(format, quality) of one of the run's files; quality None: lossless."""
        if any(name in self.views[view].files for view in LATENT_VIEWS):
            return LATENT_FORMAT, None
        return self.frames.format, self.frames.chosen_quality()

    @classmethod
    def read(cls, folder: Path) -> "RunRecord | None":
        """The folder's record, or None when run.json is missing, unreadable, of another format, or
        names a file that is not there: such a folder does not count, and precompute redoes it."""
        folder = Path(folder)
        try:
            record = cls.model_validate_json((folder / RUN_JSON).read_bytes())
        except (OSError, ValidationError):
            return None
        return record if record.is_complete(folder) else None

    def is_complete(self, folder: Path) -> bool:
        folder = Path(folder)
        return folder.name == self.key and all((folder / name).is_file() for name in self.frame_files())


def find_results(frames_dir: Path) -> dict[str, list[tuple[Path, RunRecord]]]:
    """Complete runs in `frames_dir` by spec_hash, folders in name order."""
    found: dict[str, list[tuple[Path, RunRecord]]] = {}
    for run_json in sorted(Path(frames_dir).glob(f"*/{RUN_JSON}")):
        record = RunRecord.read(run_json.parent)
        if record is not None:
            found.setdefault(record.spec_hash, []).append((run_json.parent, record))
    return found


# The live mode's export (unsmudge/precompute/export.py writes it, the build reads it): a folder
# build/live-<key>/ holding the page's classic scripts and live.json, written last, which lists them.
LIVE_FORMAT = 2  # bump when the folder's layout or the payload the page reads changes
LIVE_PREFIX = "live-"
LIVE_MANIFEST = "live.json"
LIVE_SCRIPT = "model.js"
LIVE_CAPTIONS = "captions.js"
LIVE_SETTINGS = ("steps", "timestep_spacing", "size", "negative_prompt")  # the spec's settings an export holds


def find_live(frames_dir: Path, key: str) -> Path | None:
    """The complete export of `key` in `frames_dir`, or None (a folder counts once its live.json names its key
    and every file it lists has the recorded size)."""
    folder = Path(frames_dir) / f"{LIVE_PREFIX}{key}"
    manifest = _live_manifest(folder)
    return folder if manifest is not None and manifest.get("key") == key else None


def _live_manifest(folder: Path) -> dict | None:
    try:
        manifest = json.loads((folder / LIVE_MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != LIVE_FORMAT:
        return None
    for name, entry in manifest.get("files", {}).items():
        path = folder / name
        if not path.is_file() or path.stat().st_size != entry.get("bytes"):
            return None
    return manifest


def live_exports(frames_dir: Path, identity: ModelIdentity, spec: DemoSpec) -> list[tuple[Path, str]]:
    """(folder, key) of every complete export of the model `identity` names (the demo's runs record it, so the
    build needs no weights) with the spec's steps, spacing, size and negative prompt: newest first."""
    wanted = {name: getattr(spec, name) for name in LIVE_SETTINGS}
    found = []
    for folder in Path(frames_dir).glob(f"{LIVE_PREFIX}*"):
        manifest = _live_manifest(folder)
        if (manifest is None or folder.name != LIVE_PREFIX + str(manifest.get("key"))
                or manifest.get("model") != identity.model_dump()):
            continue
        settings = manifest.get("settings", {})
        if all(settings.get(name) == value for name, value in wanted.items()):
            found.append((folder.stat().st_mtime_ns, folder.name, folder, manifest["key"]))
    return [(folder, key) for _, _, folder, key in sorted(found, reverse=True)]


def find_live_for(frames_dir: Path, identity: ModelIdentity, spec: DemoSpec) -> tuple[Path, str] | None:
    """The export a demo's page uses: the newest of `live_exports` (precompute removes the others), or None."""
    exports = live_exports(frames_dir, identity, spec)
    return exports[0] if exports else None
