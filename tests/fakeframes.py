"""Fake precompute results for the site and browser tests: a run folder per planned run, as
docs/architecture.md describes, with frames drawn by Pillow so that every step and view is a different picture.

No model, no torch: the runs come from `contract.plan_runs`, the records are `contract.RunRecord`s and the
frames go through precompute's own packer (`store.SheetPacker`, torch-free), so the build stage finds these
folders exactly as it would find real ones.

Every frame carries a marker whose colour says which frame it is (`marker`): a MARK px square in the top-left
corner of a picture frame, the whole frame of a latent-sized one. A browser test reads the canvas there and
knows which cell of which sheet was drawn.
"""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageDraw

from unsmudge.contract import LATENT_VIEWS, VIEWS, ModelIdentity, RunRecord, load_demo, plan_runs
from unsmudge.precompute.store import RunWriter, SheetPacker

COLOURS = [(220, 40, 60), (40, 120, 220), (250, 180, 30), (60, 170, 90), (150, 70, 200), (240, 120, 40)]
MARK = 16  # px: the marker of a picture frame
LATENT_FACTOR = 8  # the fake VAE's factor: the latent views are size // 8 px
VIEW_GREEN = {"image": 30, "prediction": 100, "forward": 170, "latent": 60, "noise": 230}


def timesteps(steps: int) -> list[int]:
    """DDIM 'trailing' timesteps for a 1000-step schedule, then 0 for the finished picture."""
    ts = [round(1000 - k * 1000 / steps) - 1 for k in range(steps)]
    return ts + [0]


def marker(view: str, index: int, guidance: float = 7.5) -> tuple[int, int, int]:
    """The marker colour of frame `index` of `view` (blue: the run's guidance, so compared runs differ)."""
    return (20 + 23 * index) % 256, VIEW_GREEN[view], (40 + round(guidance * 12)) % 256


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
    draw.text((MARK + 2, 0), f"{view[0]}{step}", fill="black")
    return frame


FAKE_MODEL = "sha256:" + "0" * 64  # no weights are read: the build stage must not need them


def frame(view: str, index: int, n: int, size: int, colour: tuple, guidance: float, rng: random.Random) -> Image.Image:
    if view in LATENT_VIEWS:
        return Image.new("RGB", (size // LATENT_FACTOR,) * 2, marker(view, index, guidance))
    pic = _picture(size, colour, index if view != "forward" else n - index, n, view, rng)
    pic.paste(marker(view, index, guidance), (0, 0, MARK, MARK))
    return pic


def write_run(run, spec, frames_dir: Path, dtype: str = "float32", revision: str = FAKE_MODEL) -> Path:
    ts = timesteps(run.steps)
    record = RunRecord.new(run, ModelIdentity(id=spec.model, revision=revision), "DDIMScheduler", spec, dtype,
                           "cpu", ts, spec.size // LATENT_FACTOR)
    n = len(ts) - 1
    colour = COLOURS[sum(map(ord, run.prompt)) % len(COLOURS)]
    rng = random.Random(run.seed)  # one seed, one noise: runs that share a seed share their first frame
    with RunWriter(frames_dir, record.key) as writer:
        packer = SheetPacker(record, writer)
        for view in VIEWS:
            for i in range(n + 1):
                packer.add(view, i, frame(view, i, n, spec.size, colour, run.guidance, rng))
        return writer.commit(record)


def fake_frames(content_dir: Path, frames_dir: Path, demo: str = "*") -> list[Path]:
    """Write fake results for every run of every demo (or the one named) in `content_dir/demos`."""
    folders = []
    for path in sorted((Path(content_dir) / "demos").glob(f"{demo}.toml")):
        spec = load_demo(path)
        for run in plan_runs(path.stem, spec):
            folders.append(write_run(run, spec, frames_dir))
    return folders


def read_frame(folder: Path, view: str, index: int) -> Image.Image:
    """Frame `index` of `view` from a run folder, cut from its sprite sheet: what a test of precompute's output
    reads where it used to open one file per frame."""
    record = RunRecord.read(folder)
    if record is None:
        raise FileNotFoundError(f"{folder} holds no complete run")
    sheets = record.views[view]
    name, x, y = sheets.cell(index)
    with Image.open(Path(folder) / name) as sheet:
        return sheet.convert("RGB").crop((x, y, x + sheets.size, y + sheets.size))
