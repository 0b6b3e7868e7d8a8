"""The demos lessons place: their specs, and the frames `unsmudge precompute` left in the frames folder.

The build never runs a model nor reads its weights: for each run the spec plans (`contract.plan_runs`), it
looks the run up by `spec_hash` among the complete runs (`RunRecord.read`: run.json and every frame).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from unsmudge.contract import SCHEDULER_NAMES, VIEWS, DemoSpec, RunRecord, find_results, load_demos, model_source, plan_runs
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


def model_sentence(spec: DemoSpec, content_dir: Path) -> str:
    what = SCHEDULER_NAMES[spec.scheduler]
    source = model_source(spec.model, content_dir)
    if source == "embedded":
        name = "unsmudge's small built-in emoji model"
    elif source == "hub":
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
        demo = Demo(demo_id, spec.title, spec.description, model_sentence(spec, content_dir))
        shown_spec = display_path(Path(content_dir) / "demos" / f"{demo_id}.toml")
        missing = []
        for run in plan_runs(demo_id, spec):
            found = results.get(run.spec_hash)
            if not found:
                missing.append(f"'{run.prompt}' (seed {run.seed}, guidance {run.guidance:g})")
                continue
            versions = {record.model.digest() for _, record in found}
            if len(versions) > 1:
                problems.append(Problem(
                    shown_spec, "", f"{display_path(frames_dir)} holds runs of '{run.prompt}' (seed {run.seed}, "
                    f"guidance {run.guidance:g}) made from {len(versions)} versions of model '{spec.model}': "
                    f"{', '.join(folder.name for folder, _ in found)}",
                    "run `unsmudge precompute` where the model is (it keeps only the runs of its current "
                    "weights), or delete the old folders"))
                continue
            folder, record = found[0]  # several dtypes of the same weights: the first folder by name
            demo.runs.append({"prompt": run.prompt, "seed": run.seed, "guidance": run.guidance,
                              "steps": _steps(folder, record, demo)})
        if missing:
            if allow_missing:
                demo.missing, demo.runs, demo.files = True, [], {}
            else:
                problems.append(Problem(
                    shown_spec, "",
                    f"demo '{demo_id}' has no frames in {display_path(frames_dir)} for "
                    f"{len(missing)} of its runs: {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}",
                    f"run `unsmudge precompute` (it writes them to {display_path(frames_dir)})"))
        demos[demo_id] = demo
    if problems:
        raise ProblemsFound(problems)
    return demos


def _steps(folder: Path, record: RunRecord, demo: Demo) -> list[dict]:
    """The run's steps with site-relative frame URLs; records the files to copy into `demo.files`."""
    steps = []
    for entry in record.steps:
        step = {"t": entry["t"]}
        for view in VIEWS:
            url = f"frames/{folder.name}/{entry[view]}"
            demo.files[url] = folder / entry[view]
            step[view] = url
        steps.append(step)
    return steps
