"""Fake precompute results for the site and browser tests: a run folder per planned run, as
docs/architecture.md describes, with frames drawn by Pillow so that every step and view is a different picture.

No model, no torch: the runs come from `contract.plan_runs` and the records are `contract.RunRecord`s, so
the build stage finds these folders exactly as it would find real ones.
"""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageDraw

from unsmudge.contract import VIEWS, ModelIdentity, RunRecord, load_demo, plan_runs

COLOURS = [(220, 40, 60), (40, 120, 220), (250, 180, 30), (60, 170, 90), (150, 70, 200), (240, 120, 40)]


def timesteps(steps: int) -> list[int]:
    """DDIM 'trailing' timesteps for a 1000-step schedule, then 0 for the finished picture."""
    ts = [round(1000 - k * 1000 / steps) - 1 for k in range(steps)]
    return ts + [0]


def _picture(size: int, colour: tuple, step: int, n: int, view: str, rng: random.Random) -> Image.Image:
    """A disc in the run's colour, blended with noise that fades as `step` goes to n; numbered."""
    clean = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(clean)
    pad = size // 6
    draw.ellipse([pad, pad, size - pad, size - pad], fill=colour)
    noise = Image.frombytes("RGB", (size, size), rng.randbytes(size * size * 3))
    amount = 1 - step / n
    if view == "prediction":
        amount *= 0.3
    frame = Image.blend(clean, noise, amount)
    draw = ImageDraw.Draw(frame)
    # the step number and view letter make every frame's bytes and pixels different
    draw.rectangle([0, 0, size // 2, size // 5], fill="black")
    draw.text((2, 0), f"{view[0]}{step}", fill="white")
    return frame


FAKE_MODEL = "sha256:" + "0" * 64  # no weights are read: the build stage must not need them


def write_run(run, spec, frames_dir: Path, dtype: str = "float32", revision: str = FAKE_MODEL) -> Path:
    ts = timesteps(spec.steps)
    record = RunRecord.new(run, ModelIdentity(id=spec.model, revision=revision), "DDIMScheduler", spec, dtype,
                           "cpu", ts)
    folder = Path(frames_dir) / record.key
    folder.mkdir(parents=True, exist_ok=True)
    n = len(ts) - 1
    colour = COLOURS[sum(map(ord, run.prompt)) % len(COLOURS)]
    rng = random.Random(f"{run.prompt}:{run.seed}")
    pil_format = {"webp": "WEBP", "png": "PNG", "jpeg": "JPEG"}[spec.frames.format]
    for i, (t, entry) in enumerate(zip(ts, record.steps)):
        for view in VIEWS:
            name = entry[view]
            if view == "latent":
                small = spec.size // 8
                pic = _picture(spec.size, colour, i, n, view, rng).resize((small, small))
            elif view == "forward":
                pic = _picture(spec.size, colour, n - (n * t // 1000 if t else 0), n, view, rng)
            else:
                pic = _picture(spec.size, colour, i, n, view, rng)
            pic.save(folder / name, pil_format, quality=spec.frames.quality)
    (folder / "run.json").write_text(record.to_json(), encoding="utf-8")
    return folder


def fake_frames(content_dir: Path, frames_dir: Path, demo: str = "*") -> list[Path]:
    """Write fake results for every run of every demo (or the one named) in `content_dir/demos`."""
    folders = []
    for path in sorted((Path(content_dir) / "demos").glob(f"{demo}.toml")):
        spec = load_demo(path)
        for run in plan_runs(path.stem, spec):
            folders.append(write_run(run, spec, frames_dir))
    return folders
