"""Writing runs: frames packed into sprite sheets and encoded with Pillow, a run folder that appears whole
or not at all.

`SheetPacker` pastes each frame into its cell of its view's sheet (`contract.Sheets`) as it comes and
encodes a sheet as soon as its last frame is in, so only the sheets being filled are in memory.

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

from unsmudge.contract import RUN_JSON, RunRecord

TMP_PREFIX = ".tmp-"


AVIF_SPEED = 8  # libaom's effort: 6 is 4 % smaller and 2.5x slower, 9 2 % larger and 2x faster (4096 px sheets)


def encode(image, format: str, quality: int | None) -> bytes:
    """A PIL image as bytes (quality None: lossless), with no metadata (no EXIF, ICC, XMP or dates).

    libavif/libaom on one thread, libwebp, libpng/zlib and libjpeg are deterministic for the same pixels and
    settings, so the same pixels always give the same bytes (tests check this; libaom on several threads is
    not).
    """
    buffer = io.BytesIO()
    image = image.convert("RGB")
    if format == "avif":
        image.save(buffer, format="AVIF", quality=quality, speed=AVIF_SPEED, max_threads=1, exif=b"", xmp=b"")
    elif format == "webp" and quality is None:
        image.save(buffer, format="WEBP", lossless=True, quality=100, method=4, exif=b"", icc_profile=None, xmp=b"")
    elif format == "webp":
        image.save(buffer, format="WEBP", quality=quality, method=4, exif=b"", icc_profile=None, xmp=b"")
    elif format == "png":
        image.save(buffer, format="PNG", optimize=False, compress_level=9)
    else:
        image.save(buffer, format="JPEG", quality=quality, optimize=False, progressive=False,
                   subsampling="4:2:0", exif=b"", icc_profile=None)
    return buffer.getvalue()


class SheetPacker:
    """A run's frames into its sprite sheets, handed to `writer` (anything with `add(name, bytes)`) as each
    sheet fills up; the image view's first frame also becomes the poster."""

    def __init__(self, record: RunRecord, writer):
        self.record, self.writer = record, writer
        self.open: dict[str, object] = {}  # sheet file -> the PIL image being filled
        self.left: dict[str, int] = {}  # sheet file -> frames still to come
        for sheets in record.views.values():
            for index in range(len(record.timesteps)):
                name = sheets.cell(index)[0]
                self.left[name] = self.left.get(name, 0) + 1

    def add(self, view: str, index: int, image) -> None:
        from PIL import Image

        sheets = self.record.views[view]
        if image.size != (sheets.size, sheets.size):
            raise ValueError(f"{view} frame {index} is {image.size[0]} x {image.size[1]} px, not {sheets.size} px")
        if view == "image" and index == 0:
            self.writer.add(self.record.poster, encode(image, *self.record.encoding(self.record.poster)))
        name, x, y = sheets.cell(index)
        if name not in self.open:
            self.open[name] = Image.new("RGB", (sheets.width, sheets.height))
        self.open[name].paste(image.convert("RGB"), (x, y))
        self.left[name] -= 1
        if not self.left[name]:
            self.writer.add(name, encode(self.open.pop(name), *self.record.encoding(name)))


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


def remove_folder(folder: Path) -> None:
    """Remove a finished folder (a run, an export) so that it leaves the build stage's view at once: renamed
    aside under a temp name (which `clean_stale` knows), then deleted."""
    aside = folder.with_name(f"{TMP_PREFIX}old-{folder.name}-{os.getpid()}")
    os.replace(folder, aside)
    shutil.rmtree(aside, ignore_errors=True)


class FolderWriter:
    """A folder of `out_dir` being written: files as they come into `.tmp-<name>-<pid>/`, its manifest last
    (`finish`), then renamed into place, so the build stage sees it whole or not at all.

    Used as a context manager: leaving it by an exception removes the temp folder (a kill leaves it for
    the next precompute's `clean_stale`).
    """

    def __init__(self, out_dir: Path, name: str):
        self.out_dir, self.name = Path(out_dir), name
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.temp = self.out_dir / f"{TMP_PREFIX}{name}-{os.getpid()}"
        if self.temp.exists():
            shutil.rmtree(self.temp)
        self.temp.mkdir()
        self.written: set[str] = set()

    def __enter__(self):
        return self

    def __exit__(self, kind, error, trace) -> None:
        if kind is not None:
            shutil.rmtree(self.temp, ignore_errors=True)

    def add(self, name: str, data: bytes) -> None:
        _write_bytes(self.temp / name, data)
        self.written.add(name)

    def finish(self, manifest: str, text: str) -> Path:
        """Write the manifest and move the folder into place (replacing one already there); returns it."""
        write_text_atomic(self.temp / manifest, text)  # last: the folder is complete once this exists
        final = self.out_dir / self.name
        old = None
        if final.exists():  # --force, or a folder some other tool left incomplete
            old = self.out_dir / f"{TMP_PREFIX}old-{self.name}-{os.getpid()}"
            os.replace(final, old)
        os.replace(self.temp, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        _fsync_dir(self.out_dir)
        return final


class RunWriter(FolderWriter):
    """One run folder being written: frames as they come, `run.json` last (`commit`)."""

    def __init__(self, out_dir: Path, key: str):
        super().__init__(out_dir, key)
        self.key = key

    def commit(self, record: RunRecord) -> Path:
        """Write run.json and move the folder into place; returns the run folder."""
        if record.key != self.key:
            raise ValueError(f"run.json of {record.key} given to the writer of {self.key}")
        missing = sorted(set(record.frame_files()) - self.written)
        if missing:
            raise ValueError(f"run {self.key} lacks {len(missing)} frame(s), e.g. {missing[0]}")
        return self.finish(RUN_JSON, record.to_json())


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
