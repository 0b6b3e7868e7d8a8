"""The demos lessons place: their specs, and the frames `unsmudge precompute` left in the frames folder.

The build never runs a model: for each run the spec plans (precompute.plan), it looks the run up by
`spec_hash` among the finished runs (folders with a run.json) and checks every frame file is there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from precompute.plan import find_results, plan_runs
from precompute.spec import EMBEDDED, VIEWS, DemoSpec, load_demos
from unsmudge.problems import Problem, ProblemsFound, display_path



@dataclass
class Demo:
    """What `partials/demo.html` receives as `demo` (see docs/architecture.md)."""

    id: str
    title: str
    description: str
    model: str
    runs: list[dict] = field(default_factory=list)
    missing: bool = False  # serve only: frames not computed yet, a placeholder is shown
    # frame files to copy: site path (frames/<key>/<name>) -> source file
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def json(self) -> str:
        text = json.dumps({"id": self.id, "runs": self.runs}, separators=(",", ":"), ensure_ascii=False)
        return text.replace("</", "<\\/")  # safe inside <script type="application/json">


def model_sentence(spec: DemoSpec) -> str:
    what = {"ddim": "DDIM", "euler": "Euler", "lms": "LMS"}[spec.scheduler]
    if spec.model == EMBEDDED:
        name = "unsmudge's small built-in emoji model"
    elif spec.is_hub_model():
        name = f"{spec.model} (revision {spec.revision[:7]})"
    else:
        name = f"the local model {Path(spec.model).name}"
    return f"Computed ahead of time with {name}, {what} scheduler, {spec.steps} steps, {spec.size} px."


def gather_demos(content_dir: Path, frames_dir: Path, used: dict[str, list[tuple[str, str]]],
                 allow_missing: bool = False) -> dict[str, Demo]:
    """Demos by id for every id in `used` ({demo id: [(lesson file, line)]}); raise ProblemsFound."""
    problems: list[Problem] = []
    try:
        specs = load_demos(content_dir)
    except ProblemsFound as err:
        specs, problems = {}, list(err.problems)
        failed = {Path(p.file).stem for p in problems}
    else:
        failed = set()
    results = find_results(frames_dir) if used else {}
    demos = {}
    for demo_id, places in sorted(used.items()):
        if demo_id in failed:
            continue
        if demo_id not in specs:
            for file, where in places:
                problems.append(Problem(file, where, f"unknown demo '{demo_id}'",
                                        f"use one of: {', '.join(sorted(specs)) or '(none)'} "
                                        f"or add {display_path(Path(content_dir) / 'demos' / demo_id)}.toml"))
            continue
        spec = specs[demo_id]
        demo = Demo(demo_id, spec.title, spec.description, model_sentence(spec))
        missing = []
        for run in plan_runs(demo_id, spec, content_dir):
            folders = results.get(run.spec_hash)
            steps = _steps(folders[0], demo) if folders else None
            if steps is None:
                missing.append(f"'{run.prompt}' (seed {run.seed}, guidance {run.guidance:g})")
                continue
            demo.runs.append({"prompt": run.prompt, "seed": run.seed, "guidance": run.guidance, "steps": steps})
        if missing:
            if allow_missing:
                demo.missing, demo.runs, demo.files = True, [], {}
            else:
                problems.append(Problem(
                    display_path(Path(content_dir) / "demos" / f"{demo_id}.toml"), "",
                    f"demo '{demo_id}' has no frames in {display_path(frames_dir)} for "
                    f"{len(missing)} of its runs: {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}",
                    f"run `unsmudge precompute` (it writes them to {display_path(frames_dir)})"))
        demos[demo_id] = demo
    if problems:
        raise ProblemsFound(problems)
    return demos


def _steps(folder: Path, demo: Demo) -> list[dict] | None:
    """The run's steps with site-relative frame URLs, or None if run.json or a frame is unusable."""
    try:
        record = json.loads((folder / "run.json").read_text(encoding="utf-8"))
        steps = []
        for entry in record["steps"]:
            step = {"t": int(entry["t"])}
            for view in VIEWS:
                source = folder / entry[view]
                if not source.is_file() or source.parent != folder:
                    return None
                url = f"frames/{folder.name}/{source.name}"
                demo.files[url] = source
                step[view] = url
            steps.append(step)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return steps or None
