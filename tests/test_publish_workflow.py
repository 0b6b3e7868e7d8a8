"""The GitHub Pages workflow this repository ships for authors to copy (.github/workflows/pages.yml)."""

from __future__ import annotations

from pathlib import Path

import yaml

WORKFLOW = Path(__file__).resolve().parents[1] / ".github" / "workflows" / "pages.yml"


def test_the_pages_workflow_keeps_the_formula_store_between_runs(tmp_path, monkeypatch):
    """Each push builds on a fresh runner: without the store, every formula of the course would go through
    Temml again, every time (a first build took 13-27 % longer than a rebuild in runs X and Y). The cached
    folder must be the one the build uses by default, and be restored before the build."""
    from unsmudge import formulas

    steps = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))["jobs"]["build"]["steps"]
    cache = next((i for i, step in enumerate(steps) if step.get("uses", "").startswith("actions/cache@")), None)
    build = next(i for i, step in enumerate(steps) if "unsmudge build" in step.get("run", ""))
    assert cache is not None and cache < build, "no actions/cache step before the build"
    for name in ("UNSMUDGE_CACHE", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(formulas, "_store", None)
    cached = Path(steps[cache]["with"]["path"].replace("~", str(tmp_path), 1))
    assert formulas.store().path.parent == cached
    assert "content/**/*.md" in steps[cache]["with"]["key"] and steps[cache]["with"]["restore-keys"]
