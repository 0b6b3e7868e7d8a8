"""compare = "steps" and compare = "scheduler": precompute runs each value as its own run, with its own steps and
scheduler, recorded in run.json (the tiny model, on the CPU)."""

from __future__ import annotations

import json

from unsmudge.contract import RunRecord, find_results

from .conftest import precompute, write_demo


def records(out):
    return [RunRecord.read(folder) for found in find_results(out).values() for folder, _ in found]


def test_each_compared_value_is_a_run_of_its_own(tiny_model, tmp_path):
    content, out = tmp_path / "content", tmp_path / "build"
    write_demo(content, "steps", tiny_model, prompts=["a dog"], compare="steps", steps=[2, 3])
    write_demo(content, "schedulers", tiny_model, prompts=["a dog"], steps=2, compare="scheduler",
               scheduler=["ddim", "euler"])
    assert precompute(content, out) == 0
    got = sorted((r.scheduler.name, r.scheduler.class_name, r.scheduler.steps, len(r.timesteps)) for r in records(out))
    # a run of n steps has n + 1 frames (the last: T = 0); the 2-step DDIM run is the same pixels in both
    # demos, so it is one folder
    assert got == [("ddim", "DDIMScheduler", 2, 3), ("ddim", "DDIMScheduler", 3, 4),
                   ("euler", "EulerDiscreteScheduler", 2, 3)], got
    by_steps = {r.scheduler.steps: r.timesteps for r in records(out) if r.scheduler.name == "ddim"}
    assert by_steps[2][0] >= 950 and by_steps[3][0] >= 950 and by_steps[2] != by_steps[3][:3]
    euler = next(r for r in records(out) if r.scheduler.name == "euler")
    assert json.loads((out / euler.key / "run.json").read_text())["scheduler"]["name"] == "euler"
