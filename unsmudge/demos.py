"""The demos lessons place: their specs, and the frames `unsmudge precompute` left in the frames folder.

The build never runs a model nor reads its weights: for each run the spec plans (`contract.plan_runs`), it
looks the run up by `spec_hash` among the complete runs (`RunRecord.read`: run.json and every file it names).
A run's files (its poster and sprite sheets) are copied to `frames/<sha256 of the bytes>.<ext>`: a URL that
changes whenever the bytes do, so a CDN may cache it forever, and runs that share a file (the same first
frame) share its URL.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from unsmudge.contract import (COMPARED, LIVE_CAPTIONS, LIVE_SCRIPT, SCHEDULER_NAMES, DemoSpec, Run, RunRecord,
                               find_live_for, find_results, load_demos, model_source, plan_runs, values_of)
from unsmudge.problems import Problem, ProblemsFound, display_path

FILMSTRIP = 6  # frames in the filmstrip shown without JavaScript


@dataclass
class Demo:
    """What `partials/demo.html` receives as `demo` (see docs/architecture.md, "The slider's data")."""

    id: str
    title: str
    description: str
    model: str
    compare: str | None = None  # the setting compared side by side, or None: one run at a time
    runs: list[dict] = field(default_factory=list)
    # the prompt menu: each choice shows one run, or (compare) 2-4 runs side by side
    choices: list[dict] = field(default_factory=list)
    missing: bool = False  # serve only: frames not computed yet, a placeholder is shown
    # frame files to copy: site path (frames/<hash>.<ext>) -> source file
    files: dict[str, Path] = field(default_factory=dict)
    # draw = true: the live export's key, the site paths of its scripts and the form's first seed and guidance
    # ({key, model, captions, seed, guidance}); None without draw
    draw: dict | None = None

    @property
    def shown(self) -> list[dict]:
        """The runs of the first choice: what the page shows before any choice is made."""
        return [self.runs[i] for i in self.choices[0]["runs"]] if self.choices else []

    @property
    def json(self) -> str:
        data = {"id": self.id, "runs": [{k: v for k, v in run.items() if k != "filmstrip"} for run in self.runs],
                "compare": self.compare, "choices": self.choices}
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        return text.replace("</", "<\\/")  # safe inside <script type="application/json">


def model_sentence(spec: DemoSpec, content_dir: Path) -> str:
    what = _listing([SCHEDULER_NAMES[name] for name in values_of(spec.scheduler)])
    schedulers = "schedulers" if isinstance(spec.scheduler, list) else "scheduler"
    source = model_source(spec.model, spec.revision)
    if source == "embedded":
        name = "unsmudge's small built-in emoji model"
    elif source == "hub":
        name = f"{spec.model} (revision {spec.revision[:7]})"
    else:
        name = f"the local model {Path(spec.model).name}"
    steps = _listing([str(n) for n in values_of(spec.steps)])
    return f"Computed ahead of time with {name}, {what} {schedulers}, {steps} steps, {spec.size} px."


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
        demo = Demo(demo_id, spec.title, spec.description, model_sentence(spec, content_dir), spec.compare)
        shown_spec = display_path(Path(content_dir) / "demos" / f"{demo_id}.toml")
        missing, identity = [], None
        planned = plan_runs(demo_id, spec)
        for run in planned:
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
            demo.runs.append(_run(run, spec, folder, record, demo))
            identity = record.model
        if missing:
            if allow_missing:
                demo.missing, demo.runs, demo.files = True, [], {}
            else:
                problems.append(Problem(
                    shown_spec, "",
                    f"demo '{demo_id}' has no frames in {display_path(frames_dir)} for "
                    f"{len(missing)} of its runs: {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}",
                    f"run `unsmudge precompute` (it writes them to {display_path(frames_dir)})"))
        else:
            demo.choices = choices(spec, planned)
            if spec.draw and identity is not None:
                live = find_live_for(frames_dir, identity, spec)
                if live is not None:
                    demo.draw = {**_live(*live, demo), "seed": spec.seeds[0], "guidance": spec.guidance[0]}
                elif not allow_missing:  # keep-going and serve show the demo without its Draw form
                    problems.append(Problem(
                        shown_spec, "key 'draw'", f"demo '{demo_id}' has draw = true but {display_path(frames_dir)} "
                        f"holds no live export of its model for {spec.steps} steps at {spec.size} px",
                        f"run `unsmudge precompute` (it exports the model to {display_path(frames_dir)}/live-<key>/), "
                        "or remove draw"))
        demos[demo_id] = demo
    if problems:
        raise ProblemsFound(problems)
    return demos


def setting(run: Run, name: str) -> str:
    """How a run's value of one setting reads in a label."""
    value = getattr(run, name)
    if name == "prompt":
        return value
    if name == "guidance":
        return f"guidance {value:g}"
    if name == "scheduler":
        return SCHEDULER_NAMES[value] if value != "model" else "the model's own scheduler"
    if name == "steps":
        return f"{value} steps"
    return f"{name} {value}"


def _value(run: Run, name: str) -> str:
    """A setting's value alone, as a list of compared values says it."""
    if name == "prompt":
        return f"“{run.prompt}”"
    if name == "steps":
        return str(run.steps)
    return setting(run, name).removeprefix(f"{name} ")


def _listing(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def choices(spec: DemoSpec, runs: list[Run]) -> list[dict]:
    """The prompt menu, in plan order. Without `compare` one run per choice; with it, the runs that differ
    only in the compared setting, side by side, and a sentence saying what changes between them."""
    kept = [name for name in COMPARED if name != spec.compare]
    varying = [name for name in kept if len({getattr(run, name) for run in runs}) > 1]
    groups: dict[tuple, list[int]] = {}
    for index, run in enumerate(runs):
        groups.setdefault(tuple(getattr(run, name) for name in kept), []).append(index)
    result = []
    for members in groups.values():
        first = runs[members[0]]
        label = ", ".join(([first.prompt] if spec.compare != "prompt" else [])
                          + [setting(first, name) for name in varying if name != "prompt"]) or "all runs"
        choice = {"label": label, "runs": members}
        if spec.compare:
            same = [f"{name} ({_value(first, name)})" for name in ("prompt", "seed", "guidance")
                    if name != spec.compare]
            values = _listing([_value(runs[i], spec.compare) for i in members])
            what = {"prompt": "prompts", "scheduler": "schedulers"}.get(spec.compare, spec.compare)
            changes = f"{what} {values}" if spec.compare != "steps" else f"{values} steps"
            aligned = (", T following each run's own steps at the same fraction of the way"
                       if spec.compare == "steps" else "")
            choice["description"] = (f"{len(members)} runs side by side, {changes} (left to right, then the next "
                                     f"row): the same {_listing(same)}, one slider for all{aligned}.")
        result.append(choice)
    return result


def filmstrip_indices(count: int) -> list[int]:
    """Up to FILMSTRIP steps spread evenly from the first to the last, without repeats."""
    shown = FILMSTRIP if count >= FILMSTRIP else count
    return list(dict.fromkeys(round(k * (count - 1) / max(shown - 1, 1)) for k in range(shown)))


def _url(source: Path, demo: Demo) -> str:
    """The site URL of a run's file, named by its content; records the file to copy in `demo.files`."""
    with open(source, "rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()[:20]
    url = f"frames/{digest}{source.suffix}"
    demo.files[url] = source
    return url


def _live(folder: Path, key: str, demo: Demo) -> dict:
    """The live export as the page reads it: its scripts at live/<key>/ (the key changes with any byte),
    recorded in `demo.files` to copy."""
    urls = {}
    for what, name in (("model", LIVE_SCRIPT), ("captions", LIVE_CAPTIONS)):
        urls[what] = f"live/{key}/{name}"
        demo.files[urls[what]] = folder / name
    return {"key": key, **urls}


def _run(run: Run, spec: DemoSpec, folder: Path, record: RunRecord, demo: Demo) -> dict:
    """One run as the slider reads it (docs/architecture.md, "The slider's data")."""
    urls = {name: _url(folder / name, demo) for name in record.frame_files()}
    views = {view: {"sheets": [urls[name] for name in sheets.files], "size": sheets.size,
                    "columns": sheets.columns, "rows": sheets.rows, "first": sheets.first}
             for view, sheets in record.views.items()}
    image = record.views["image"]
    filmstrip = []
    for i in filmstrip_indices(len(record.timesteps)):
        name, x, y = image.cell(i)
        filmstrip.append({"t": record.timesteps[i], "href": urls[name], "x": x, "y": y, "size": image.size,
                          "width": image.width, "height": image.height})
    return {"prompt": run.prompt, "seed": run.seed, "guidance": run.guidance,
            "label": setting(run, spec.compare) if spec.compare else run.prompt,
            "t": record.timesteps, "poster": urls[record.poster], "views": views, "filmstrip": filmstrip}
