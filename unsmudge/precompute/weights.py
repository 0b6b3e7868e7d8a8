"""Where a demo's model lives and what identifies it: the files diffusers will read, not every byte of the
folder. Torch-free: the cached path of `unsmudge precompute` uses it to name run folders.

A local diffusers folder is identified by the files its `model_index.json` selects: each loaded
component's configs and tokenizer files, and the safetensors weights that loading reads (the plain files,
or the `.fp16.` variant when a folder holds only those). Hidden folders (`.cache/huggingface/` download
metadata), pickled and unused files, the safety checker and anything else are ignored, so the key changes
when the pixels can, and not otherwise. A hub model is identified by its pinned commit.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sys
from pathlib import Path

import unsmudge
from unsmudge.contract import DemoSpec, ModelIdentity, model_source

# components the loader leaves out (precompute decodes the frames itself; no NSFW filter at build time)
NOT_LOADED = {"safety_checker", "feature_extractor"}
WEIGHTS = ".safetensors"
VARIANT = "fp16"
LARGE = 512 * 2**20  # show progress when hashing more than this


def embedded_model() -> Path:
    """The embedded model's folder: inside the installed wheel (`unsmudge/_models/emoji64`) or the
    repository's `models/emoji64/` (the recipe's folder, which is not an installed package)."""
    packaged = Path(unsmudge.__file__).parent / "_models" / "emoji64"
    return packaged if packaged.is_dir() else Path(unsmudge.__file__).resolve().parent.parent / "models" / "emoji64"


def model_folder(spec: DemoSpec, content_dir: Path) -> Path | None:
    """The local folder of the spec's model, or None for a hub id."""
    source = model_source(spec.model, spec.revision)
    if source == "embedded":
        return embedded_model()
    if source == "hub":
        return None
    return (Path(content_dir) / Path(spec.model).expanduser()).resolve()


def fast_decoder_folder(spec: DemoSpec, content_dir: Path) -> Path:
    return (Path(content_dir) / spec.fast_decoder).resolve()


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def components(folder: Path) -> list[str]:
    """The sub-folders a pipeline loads, from its model_index.json ([library, class] entries)."""
    index = _json(Path(folder) / "model_index.json")
    return sorted(name for name, value in index.items()
                  if not name.startswith("_") and name not in NOT_LOADED
                  and isinstance(value, list) and len(value) == 2 and all(value)
                  and (Path(folder) / name).is_dir())


def is_variant(name: str) -> bool:
    # model.fp16.safetensors, model.fp16-00001-of-00002.safetensors, model.safetensors.index.fp16.json
    return f".{VARIANT}." in name or f".{VARIANT}-" in name


def _weight_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and
                  (p.name.endswith(WEIGHTS) or p.name.endswith(".safetensors.index.json") or
                   (p.name.endswith(".json") and ".safetensors.index." in p.name)))


def variant(folder: Path) -> str | None:
    """'fp16' when some loaded component has only fp16 safetensors (what `variant="fp16"` downloads
    leave), else None: plain weights are preferred where both exist."""
    for name in components(folder) or ["."]:
        files = _weight_files(Path(folder) / name)
        if files and all(is_variant(p.name) for p in files):
            return VARIANT
    return None


def loaded_files(folder: Path, variant_name: str | None = None) -> list[Path]:
    """The files loading the folder reads: model_index.json, then per component its configs and
    tokenizer files and the weights of the chosen variant (falling back to plain weights per component,
    as diffusers does). A folder without model_index.json (a single model, e.g. a fast decoder) is
    treated as one component."""
    folder = Path(folder)
    names = components(folder)
    files = [folder / "model_index.json"] if names else []
    for name in names or ["."]:
        part = folder / name
        weights = _weight_files(part)
        chosen = [p for p in weights if is_variant(p.name)] if variant_name else []
        chosen = chosen or [p for p in weights if not is_variant(p.name)]
        others = [p for p in part.iterdir() if p.is_file() and not p.name.startswith(".")
                  and p not in weights and p.suffix in (".json", ".txt", ".model")]
        files += sorted(others) + chosen
    return files


def fingerprint(folder: Path, files: list[Path]) -> str:
    """sha256 over the files' paths (relative to `folder`) and bytes; progress when it is large."""
    digest = hashlib.sha256()
    total = sum(p.stat().st_size for p in files)
    bar = None
    if total > LARGE and sys.stderr.isatty():
        from tqdm.auto import tqdm

        bar = tqdm(total=total, unit="B", unit_scale=True, desc=f"hashing {Path(folder).name}", leave=False)
    for path in files:
        stat = path.stat()
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(_file_digest(str(path), stat.st_size, stat.st_mtime_ns))
        if bar is not None:
            bar.update(stat.st_size)
    if bar is not None:
        bar.close()
    return digest.hexdigest()


@functools.lru_cache(maxsize=1024)
def _file_digest(path: str, size: int, mtime_ns: int) -> bytes:
    """Each file is read once per process (several demos, serve's rebuilds), again when it changes."""
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").digest()


def model_identity(spec: DemoSpec, content_dir: Path) -> ModelIdentity:
    """What names the weights precompute loads: a hub id with its commit, or the loaded files' digest."""
    fast = None
    if spec.fast_decoder:
        decoder = fast_decoder_folder(spec, content_dir)
        fast = "sha256:" + fingerprint(decoder, loaded_files(decoder, variant(decoder)))
    folder = model_folder(spec, content_dir)
    if folder is None:
        return ModelIdentity(id=spec.model, revision=spec.revision, fast_decoder=fast)
    chosen = variant(folder)
    return ModelIdentity(id=spec.model, revision="sha256:" + fingerprint(folder, loaded_files(folder, chosen)),
                         variant=chosen, fast_decoder=fast)
