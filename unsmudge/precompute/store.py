"""Writing runs: frames encoded with Pillow, a run folder that appears whole or not at all.

A run is written into `<out>/.tmp-<key>-<pid>/` (`RunWriter`: each frame as soon as it is decoded, then
`run.json` last through a temp file and `os.replace`), then the folder is renamed to `<out>/<key>/`. A kill
at any moment leaves either nothing under `<key>/` or a complete run; leftovers named `.tmp-*` are removed
by the next precompute. Torch-free: the cached path imports this module too.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

from unsmudge.contract import RUN_JSON, Frames, RunRecord

TMP_PREFIX = ".tmp-"


def encode(image, frames: Frames) -> bytes:
    """A PIL image as bytes in the spec's format, with no metadata (no EXIF, ICC, XMP or dates).

    libwebp, libpng/zlib and libjpeg are deterministic for the same pixels and settings, so the same
    pixels always give the same bytes (tests check this).
    """
    buffer = io.BytesIO()
    image = image.convert("RGB")
    if frames.format == "webp":
        image.save(buffer, format="WEBP", quality=frames.quality, method=4, exif=b"", icc_profile=None, xmp=b"")
    elif frames.format == "png":
        image.save(buffer, format="PNG", optimize=False, compress_level=9)
    else:
        image.save(buffer, format="JPEG", quality=frames.quality, optimize=False, progressive=False,
                   subsampling="4:2:0", exif=b"", icc_profile=None)
    return buffer.getvalue()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale(out_dir: Path, keys: set[str] | None = None) -> list[Path]:
    """Remove temp folders left by killed runs.

    A folder goes when its writing process is no longer alive on this machine (a second precompute
    running beside this one keeps its work); `keys` limits the sweep to those runs.
    """
    removed = []
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return removed
    for path in sorted(out_dir.glob(TMP_PREFIX + "*")):
        name = path.name[len(TMP_PREFIX):]
        key, _, pid = name.rpartition("-")
        if key.startswith("old-"):
            key = key[len("old-"):]
        stale = (keys is None or key in keys) and (not pid.isdigit() or not _pid_alive(int(pid)))
        if stale:
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _write_bytes(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)


def write_text_atomic(path: Path, text: str) -> None:
    """Text through a temp file, fsync and os.replace: the file is there whole or not at all."""
    temp = path.with_name(f"{TMP_PREFIX}{path.name}-{os.getpid()}")
    with open(temp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


class RunWriter:
    """One run folder being written: frames as they come, `run.json` last, then renamed into place.

    Used as a context manager: leaving it by an exception removes the temp folder (a kill leaves it for
    the next precompute's `clean_stale`).
    """

    def __init__(self, out_dir: Path, key: str):
        self.out_dir, self.key = Path(out_dir), key
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.temp = self.out_dir / f"{TMP_PREFIX}{key}-{os.getpid()}"
        if self.temp.exists():
            shutil.rmtree(self.temp)
        self.temp.mkdir()
        self.written: set[str] = set()

    def __enter__(self) -> "RunWriter":
        return self

    def __exit__(self, kind, error, trace) -> None:
        if kind is not None:
            shutil.rmtree(self.temp, ignore_errors=True)

    def add(self, name: str, data: bytes) -> None:
        _write_bytes(self.temp / name, data)
        self.written.add(name)

    def commit(self, record: RunRecord) -> Path:
        """Write run.json and move the folder into place; returns the run folder."""
        if record.key != self.key:
            raise ValueError(f"run.json of {record.key} given to the writer of {self.key}")
        missing = sorted(set(record.frame_files()) - self.written)
        if missing:
            raise ValueError(f"run {self.key} lacks {len(missing)} frame(s), e.g. {missing[0]}")
        write_text_atomic(self.temp / RUN_JSON, record.to_json())  # last: the folder is complete once this exists
        final = self.out_dir / self.key
        old = None
        if final.exists():  # --force, or a folder some other tool left without run.json
            old = self.out_dir / f"{TMP_PREFIX}old-{self.key}-{os.getpid()}"
            os.replace(final, old)
        os.replace(self.temp, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        _fsync_dir(self.out_dir)
        return final


def write_run(out_dir: Path, record: RunRecord, files: dict[str, bytes]) -> Path:
    """Write a run's frames (all in hand) and run.json into place; returns the run folder."""
    with RunWriter(out_dir, record.key) as writer:
        for name, data in sorted(files.items()):
            writer.add(name, data)
        return writer.commit(record)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
