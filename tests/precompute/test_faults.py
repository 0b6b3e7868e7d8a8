"""kill -9 and resume, stale temp folders, many processes: the result always equals a clean run."""

from __future__ import annotations

import os
import signal
import time

from unsmudge.contract import DemoSpec, Frames, ModelIdentity, RunRecord, plan_runs
from unsmudge.precompute.store import RunWriter, clean_stale, encode

from tests.commands import tree

from .conftest import ONE_THREAD, precompute, precompute_subprocess


def test_kill_9_then_rerun_gives_the_clean_bytes(small_clean_run, tmp_path):
    content, _, clean = small_clean_run
    out = tmp_path / "build"
    child = precompute_subprocess(content, out, *ONE_THREAD)
    deadline = time.monotonic() + 90
    try:
        # kill as soon as the first run folder is in place: the second run is being computed
        while time.monotonic() < deadline and child.poll() is None and not any(out.glob("*/run.json")):
            time.sleep(0.02)
        assert child.poll() is None, "the run finished before it could be killed; make it longer"
        assert any(out.glob("*/run.json")), "no run finished within 90 s"
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
    done = [p for p in out.iterdir() if not p.name.startswith(".")]
    assert 1 <= len(done) < 3 and all((p / "run.json").is_file() for p in done)  # a run folder is whole or absent
    assert precompute(content, out, *ONE_THREAD) == 0
    assert tree(out) == clean  # same files, same bytes, no temp or orphan files


def test_kill_during_writing_leaves_a_temp_folder_that_is_cleaned(clean_run, tmp_path):
    content, _, clean = clean_run
    out = tmp_path / "build"
    key = next(iter(clean)).split("/")[0]
    half = out / f".tmp-{key}-999999999"  # a writer that died half way (no such pid)
    half.mkdir(parents=True)
    (half / "image.avif").write_bytes(b"half")
    old = out / ".tmp-old-0123456789abcdef-999999998"
    old.mkdir()
    assert precompute(content, out) == 0
    assert tree(out) == clean


def test_clean_stale_spares_live_writers(tmp_path):
    live = tmp_path / f".tmp-aaaa-{os.getppid()}"
    dead = tmp_path / ".tmp-bbbb-999999999"
    live.mkdir()
    dead.mkdir()
    assert clean_stale(tmp_path) == [dead]
    assert live.exists() and not dead.exists()
    assert clean_stale(tmp_path, keys={"aaaa"}) == []  # a live writer keeps its folder
    other = tmp_path / ".tmp-cccc-999999997"
    other.mkdir()
    assert clean_stale(tmp_path, keys={"aaaa"}) == [] and other.exists()  # not one of these keys
    assert clean_stale(tmp_path, keys={"cccc"}) == [other]


def test_write_run_replaces_whole(tmp_path):
    spec = DemoSpec(title="t", steps=1, prompts=["a"], frames=Frames(format="png"))
    (run,) = plan_runs("d", spec)
    record = RunRecord.new(run, ModelIdentity(id="embedded", revision="sha256:1"), "DDIMScheduler", spec,
                           "float32", "cpu", [999, 0], latent_size=8)
    names = record.frame_files()
    for files in ({name: b"1" for name in names} | {"stray.png": b"2"}, {name: b"3" for name in names}):
        with RunWriter(tmp_path, record.key) as writer:
            for name, data in files.items():
                writer.add(name, data)
            writer.commit(record)
    assert sorted(p.name for p in (tmp_path / record.key).iterdir()) == sorted(names + ["run.json"])
    assert [p.name for p in tmp_path.iterdir()] == [record.key]
    assert RunRecord.read(tmp_path / record.key) == record


def test_encoding_is_deterministic_and_carries_no_metadata():
    import io

    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8))
    for fmt in ("avif", "webp", "png", "jpeg"):
        data = encode(image, fmt, 85)
        assert data == encode(image.copy(), fmt, 85)
        opened = Image.open(io.BytesIO(data))
        assert opened.format.lower() == fmt
        assert not {"exif", "icc_profile", "xmp", "dpi"} & set(opened.info)
        assert b"Exif" not in data and b"<x:xmpmeta" not in data


def test_two_processes_equal_one(small_clean_run, tmp_path):
    """`--processes 2` from this process (torch already imported), so only the two workers start interpreters."""
    content, _, clean = small_clean_run
    out = tmp_path / "build"
    assert precompute(content, out, "--processes", "2", *ONE_THREAD) == 0
    assert tree(out) == clean
