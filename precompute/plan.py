"""Runs and their keys: one run = one (demo, prompt, seed, guidance).

Torch-free, shared by both stages. `spec_hash` covers everything in the spec that shapes a run's pixels
(model and its exact weights, scheduler, steps, seed, guidance, size, frame encoding); the run's `key`
adds the dtype chosen at precompute time. The build stage finds a run's results by `spec_hash`.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import unsmudge
from precompute.spec import EMBEDDED, DemoSpec

# Bump when the capture or the frame layout changes, so old results are not mistaken for new ones.
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Run:
    demo: str
    prompt: str
    seed: int
    guidance: float
    spec_hash: str

    def key(self, dtype: str) -> str:
        return hashlib.sha256(f"{self.spec_hash}:{dtype}".encode()).hexdigest()[:16]


def embedded_model() -> Path:
    """The embedded model's folder: inside the installed wheel (`unsmudge/_models/emoji64`) or the
    repository's `models/emoji64/` (the recipe's folder, which is not an installed package)."""
    packaged = Path(unsmudge.__file__).parent / "_models" / "emoji64"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parent.parent / "models" / "emoji64"


def model_folder(spec: DemoSpec, content_dir: Path) -> Path | None:
    """The local folder of the spec's model, or None for a hub id."""
    if spec.model == EMBEDDED:
        return embedded_model()
    if spec.is_hub_model() and not (Path(content_dir) / spec.model).is_dir():
        return None
    return (Path(content_dir) / spec.model).resolve()


def fast_decoder_folder(spec: DemoSpec, content_dir: Path) -> Path:
    return (Path(content_dir) / spec.fast_decoder).resolve()


def folder_fingerprint(folder: Path) -> str:
    """A hash of every file's path and bytes in a local model folder: new weights, new keys."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(_file_digest(str(path), stat.st_size, stat.st_mtime_ns))
    return digest.hexdigest()


@functools.lru_cache(maxsize=256)
def _file_digest(path: str, size: int, mtime_ns: int) -> bytes:
    """Each weight file is read once per process (several demos, serve's rebuilds), again when it changes."""
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").digest()


def model_identity(spec: DemoSpec, content_dir: Path) -> dict:
    """What names the model's exact weights: a hub id with its commit, or a local folder's fingerprint."""
    folder = model_folder(spec, content_dir)
    if folder is None:
        return {"id": spec.model, "revision": spec.revision}
    return {"id": spec.model, "revision": "sha256:" + folder_fingerprint(folder)}


def plan_runs(demo_id: str, spec: DemoSpec, content_dir: Path) -> list[Run]:
    """All runs of a demo in a fixed order: prompt, then seed, then guidance."""
    identity = model_identity(spec, content_dir)
    fast = None
    if spec.fast_decoder:
        fast = "sha256:" + folder_fingerprint(fast_decoder_folder(spec, content_dir))
    shared = {
        "format_version": FORMAT_VERSION,
        "model": identity,
        "scheduler": spec.scheduler,
        "timestep_spacing": spec.timestep_spacing,
        "steps": spec.steps,
        "size": spec.size,
        "negative_prompt": spec.negative_prompt,
        "fast_decoder": fast,
        "frames": spec.frames.model_dump(),
    }
    runs = []
    for prompt in spec.prompts:
        for seed in spec.seeds:
            for guidance in spec.guidance:
                shaped = dict(shared, prompt=prompt, seed=seed, guidance=float(guidance))
                spec_hash = hashlib.sha256(json.dumps(shaped, sort_keys=True).encode()).hexdigest()
                runs.append(Run(demo_id, prompt, seed, float(guidance), spec_hash))
    return runs


def find_results(frames_dir: Path) -> dict[str, list[Path]]:
    """Finished runs in `frames_dir` by spec_hash (a folder without run.json does not exist)."""
    found: dict[str, list[Path]] = {}
    for run_json in sorted(Path(frames_dir).glob("*/run.json")):
        try:
            spec_hash = json.loads(run_json.read_text(encoding="utf-8"))["spec_hash"]
        except (OSError, ValueError, KeyError):
            continue  # unreadable results are treated as missing; precompute will redo them
        found.setdefault(spec_hash, []).append(run_json.parent)
    return found
