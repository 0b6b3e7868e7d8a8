"""`unsmudge precompute` and the live mode (issue 11): a demo with `draw = true` has its model exported next to
its runs (build/live-<key>/), once; an older export of the same model and settings is removed; a model the
live mode cannot run is refused before any run starts. The export itself: test_export.py; the build:
tests/site/test_draw_build.py.
"""

from __future__ import annotations

import json
import os
import shutil
import sys

from tests.precompute.conftest import precompute, write_demo
from unsmudge.contract import LIVE_MANIFEST, LIVE_PREFIX, find_live_for, find_results, load_demo

LIVE = {"draw": True, "scheduler": "ddim", "timestep_spacing": "trailing", "prompts": ["a dog"]}


def exports(out):
    return sorted(p.name for p in out.glob(f"{LIVE_PREFIX}*"))


def test_precompute_exports_reuses_and_prunes(tmp_path, tiny_model, capsys):
    content, out = tmp_path / "content", tmp_path / "build"
    write_demo(content, "tiny", tiny_model, **LIVE)
    assert precompute(content, out) == 0
    said = capsys.readouterr().out
    [name] = exports(out)
    assert f"tiny: live mode -> {out / name}/ (exported in " in said
    spec = load_demo(content / "demos" / "tiny.toml")
    [(_, record)] = next(iter(find_results(out).values()))
    assert find_live_for(out, record.model, spec) == (out / name, name[len(LIVE_PREFIX):])  # what the build finds

    # an export of an earlier exporter version (another key, the same model and settings), made before
    old = out / f"{LIVE_PREFIX}00000000000000aa"
    shutil.copytree(out / name, old)
    manifest = json.loads((old / LIVE_MANIFEST).read_text())
    (old / LIVE_MANIFEST).write_text(json.dumps({**manifest, "key": "00000000000000aa"}))
    os.utime(old, (1, 1))
    assert precompute(content, out) == 0  # every run cached: the export is checked all the same
    said = capsys.readouterr().out
    assert f"tiny: live mode -> {out / name}/ (cached)" in said
    assert f"removed {old}: an earlier export of the same model" in said
    assert exports(out) == [name]


def test_a_demo_without_draw_exports_nothing(tmp_path, tiny_model, capsys):
    content, out = tmp_path / "content", tmp_path / "build"
    write_demo(content, "tiny", tiny_model, **{**LIVE, "draw": False})
    assert precompute(content, out) == 0
    assert exports(out) == [] and "live mode" not in capsys.readouterr().out


def test_a_model_the_live_mode_cannot_run_is_refused_first(tmp_path, tiny_model, capsys):
    """A scheduler that clips its prediction (the page's DDIM step does not), and a hub model (no folder to
    export): problems naming the file and key, before any run."""
    model = tmp_path / "clipping"
    shutil.copytree(tiny_model, model)
    config = model / "scheduler" / "scheduler_config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "clip_sample": True}))
    content, out = tmp_path / "content", tmp_path / "build"
    write_demo(content, "clip", model, **LIVE)
    write_demo(content, "hub", "org/model", revision="0" * 40, **LIVE)
    assert precompute(content, out) == 1
    err = capsys.readouterr().err
    assert "clip.toml: key 'model': the model's scheduler_config.json sets clip_sample" in err
    assert "hub.toml: key 'model': the live mode needs a local model folder" in err
    assert "Traceback" not in err and not out.exists()


def test_a_missing_exporter_package_says_how_to_install_it(tmp_path, tiny_model, capsys, monkeypatch):
    """onnxruntime (or any exporter package) missing: a problem on the demo's `draw`, no traceback, no export."""
    content, out = tmp_path / "content", tmp_path / "build"
    write_demo(content, "tiny", tiny_model, **LIVE)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if it were not installed
    assert precompute(content, out) == 1
    err = capsys.readouterr().err
    assert "tiny.toml: key 'draw': the live mode's export needs the package 'onnxruntime'" in err
    assert "pip install 'unsmudge[precompute]'" in err and "Traceback" not in err
    assert exports(out) == []
