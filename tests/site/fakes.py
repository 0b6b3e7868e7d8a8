"""Fake precompute results for tests: run folders with Pillow-written frames and a run.json that
follows docs/architecture.md, keyed by precompute.plan exactly as the real stage keys them. No torch."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from precompute.plan import plan_runs
from precompute.spec import load_demo

VIEWS = ("image", "prediction", "latent", "forward")


def fake_frames(content: Path, frames: Path, demo_id: str, steps: int | None = None) -> list[Path]:
    """Write one finished run folder per planned run of `demo_id`; returns the folders."""
    spec = load_demo(Path(content) / "demos" / f"{demo_id}.toml")
    count = steps or spec.steps
    folders = []
    for n, run in enumerate(plan_runs(demo_id, spec, Path(content))):
        folder = Path(frames) / run.key("float32")
        folder.mkdir(parents=True, exist_ok=True)
        ext = spec.frames.format
        entries = []
        for i in range(count + 1):
            entry = {"t": round(999 - i * 999 / count)}
            for v, view in enumerate(VIEWS):
                name = f"{view}-{i:03d}.{ext}"
                shade = (40 * v + 10 * i + 30 * n) % 256
                Image.new("RGB", (8, 8), (shade, 255 - shade, 128)).save(folder / name)
                entry[view] = name
            entries.append(entry)
        record = {
            "format_version": 1, "key": folder.name, "spec_hash": run.spec_hash, "demo": demo_id,
            "prompt": run.prompt, "seed": run.seed, "guidance": run.guidance,
            "model": {"id": spec.model, "revision": "sha256:fake"},
            "scheduler": {"name": spec.scheduler, "timestep_spacing": spec.timestep_spacing, "steps": count},
            "size": spec.size, "dtype": "float32", "device": "cpu",
            "frames": spec.frames.model_dump(), "steps": entries,
        }
        (folder / "run.json").write_text(json.dumps(record, indent=1))
        folders.append(folder)
    return folders
