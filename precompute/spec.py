"""Demo specs (`content/demos/<id>.toml`): what to compute, validated before anything runs.

Torch-free: the build stage imports this module to know which runs a demo needs.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from unsmudge.problems import Problem, ProblemsFound, display_path, key_line, pydantic_problems, toml_problem

EMBEDDED = "embedded"
VIEWS = ("image", "prediction", "latent", "forward")  # the frames a run saves at every step
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
COMMIT = re.compile(r"^[0-9a-f]{40}$")
DEMO_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class Frames(BaseModel):
    """How frames are encoded: part of every run's key."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    format: Literal["webp", "png", "jpeg"] = "webp"
    quality: int = Field(90, ge=1, le=100)


class DemoSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=1)
    description: str = ""
    # "embedded" (the default model shipped in unsmudge), a local diffusers folder
    # (relative to the content folder), or a hub id with a pinned 40-hex `revision`.
    model: str = EMBEDDED
    revision: str | None = None
    scheduler: Literal["ddim", "euler", "lms"] = "ddim"
    timestep_spacing: Literal["trailing", "leading", "linspace"] = "trailing"
    steps: int = Field(25, ge=1, le=1000)
    size: int = Field(64, ge=8, le=2048)
    seeds: list[int] = Field(default=[0], min_length=1)
    guidance: list[float] = Field(default=[7.5], min_length=1)
    negative_prompt: str = ""
    # a local AutoencoderTiny folder used to decode the in-between frames fast (last frame: full VAE)
    fast_decoder: str | None = None
    frames: Frames = Frames()
    prompts: list[str] = Field(min_length=1)

    @field_validator("size")
    @classmethod
    def _multiple_of_8(cls, size: int) -> int:
        if size % 8:
            raise ValueError(f"size {size} is not a multiple of 8, which the VAE needs; use {size // 8 * 8 or 8}")
        return size

    @field_validator("prompts")
    @classmethod
    def _prompts(cls, prompts: list[str]) -> list[str]:
        if any(not p.strip() for p in prompts):
            raise ValueError("a prompt is empty; write words or remove it")
        if len(set(prompts)) != len(prompts):
            raise ValueError("a prompt is listed twice; remove the copy")
        return prompts

    @field_validator("guidance")
    @classmethod
    def _guidance(cls, scales: list[float]) -> list[float]:
        if any(g < 0 for g in scales):
            raise ValueError("guidance scales must be 0 or more")
        return scales

    @model_validator(mode="after")
    def _pinned_revision(self) -> "DemoSpec":
        if self.is_hub_model():
            if not self.revision or not COMMIT.match(self.revision):
                raise ValueError(
                    f"model '{self.model}' is a hub id, so 'revision' must pin a 40-hex commit "
                    "(see the model's 'Files and versions' page)"
                )
        elif self.revision is not None:
            raise ValueError("'revision' applies only to hub models; remove it")
        return self

    def is_hub_model(self) -> bool:
        return bool(HUB_ID.match(self.model))  # "embedded" and "./folder" have no "owner/" part


def load_demo(path: Path) -> DemoSpec:
    """Parse and validate one demo spec; raise ProblemsFound naming the file and line or key."""
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
