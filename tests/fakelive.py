"""Fake live exports (issue 11) for the site and browser tests: what `unsmudge precompute` leaves in build/ for a
demo with `draw = true`, without torch: a folder live-<key>/ whose live.json names the model the demo's runs
record and the spec's settings, as unsmudge/precompute/export.py writes it, with scripts that hold no model (the
page shows the Draw form; pressing Draw would fail). Real exports: tests/browser/test_draw.py.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from unsmudge.contract import (LIVE_CAPTIONS, LIVE_FORMAT, LIVE_MANIFEST, LIVE_PREFIX, LIVE_SCRIPT, LIVE_SETTINGS,
                               find_results, load_demo, plan_runs)


def fake_live(frames_dir: Path, content_dir: Path, demo: str, key: str | None = None, **settings) -> Path:
    """A live export of `demo`'s model (its runs must be in `frames_dir`) with the spec's settings, any of them
    overridden by `settings`; `key` defaults to one made from the demo's id."""
    spec = load_demo(Path(content_dir) / "demos" / f"{demo}.toml")
    found = find_results(frames_dir)
    model = found[plan_runs(demo, spec)[0].spec_hash][0][1].model
    key = key or hashlib.sha256(demo.encode()).hexdigest()[:16]
    folder = Path(frames_dir) / f"{LIVE_PREFIX}{key}"
    folder.mkdir(parents=True)
    scripts = {LIVE_SCRIPT: b"/* no model */\n", LIVE_CAPTIONS: b"/* no captions */\n"}
    for name, data in scripts.items():
        (folder / name).write_bytes(data)
    manifest = {"format": LIVE_FORMAT, "key": key, "model": model.model_dump(),
                "settings": {**{name: getattr(spec, name) for name in LIVE_SETTINGS}, **settings},
                "files": {name: {"bytes": len(data)} for name, data in scripts.items()}}
    (folder / LIVE_MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    return folder


def fake_live_exports(content_dir: Path, frames_dir: Path) -> list[Path]:
    """A fake export for every demo in `content_dir/demos` with draw = true."""
    specs = sorted((Path(content_dir) / "demos").glob("*.toml"))
    return [fake_live(frames_dir, content_dir, path.stem) for path in specs if load_demo(path).draw]
