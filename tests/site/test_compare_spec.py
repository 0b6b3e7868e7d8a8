"""`compare` in a demo spec: which keys may list several values, the problems when they do not fit, and the menu
and sentences the page gets (`demos.choices`)."""

from __future__ import annotations

import pytest

from unsmudge.contract import DemoSpec, load_demo, plan_runs
from unsmudge.demos import choices, model_sentence
from unsmudge.problems import ProblemsFound


def problems(tmp_path, text: str) -> list[str]:
    path = tmp_path / "demos" / "d.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('title = "D"\nprompts = ["rocket"]\n' + text, encoding="utf-8")
    with pytest.raises(ProblemsFound) as found:
        load_demo(path)
    return [f"{p.where}: {p.message} | {p.fix}" for p in found.value.problems]


@pytest.mark.parametrize("text, expected", [
    ('steps = [10, 25]\n', "line 3, key 'steps': 'steps' lists several values, which only compare = \"steps\" "
                           "shows; give one value, or add compare = \"steps\""),
    ('scheduler = ["ddim", "euler"]\n', "line 3, key 'scheduler': 'scheduler' lists several values"),
    ('compare = "steps"\nsteps = 25\n', "line 4, key 'steps': compare = \"steps\" shows runs side by side, so "
                                        "'steps' must list 2 to 4 different values (it holds one)"),
    ('compare = "steps"\n', "key 'steps': compare = \"steps\" shows runs side by side"),
    ('compare = "steps"\nsteps = [10, 10]\n', "(it lists one twice)"),
    ('compare = "guidance"\nguidance = [1, 2, 3, 4, 5]\n', "'guidance' must list 2 to 4 different values (it lists 5)"),
    ('compare = "steps"\nsteps = [10, 0]\n', "line 4, key 'steps': Input should be greater than or equal to 1 | use a "
                                             "value of at least 1"),
    ('scheduler = "dpm"\n', "Input should be 'ddim', 'euler', 'euler_a', 'lms' or 'model' | use 'ddim', "),
    ('compare = "scheduler"\nscheduler = ["ddim", "euler"]\nsteps = 25\ntimestep_spacing = "linspace"\n',
     "key 'timestep_spacing': DDIM steps down by"),
    ('compare = "size"\n', "key 'compare'"),
])
def test_compared_keys_and_their_problems(tmp_path, text, expected):
    found = problems(tmp_path, text)
    assert len(found) == 1 and expected in found[0], found


def test_a_spec_without_compare_plans_what_it_did(tmp_path):
    spec = DemoSpec(title="D", prompts=["rocket", "dog"], seeds=[0, 1])
    assert [(r.prompt, r.seed, r.scheduler, r.steps) for r in plan_runs("d", spec)] == [
        ("rocket", 0, "ddim", 25), ("rocket", 1, "ddim", 25), ("dog", 0, "ddim", 25), ("dog", 1, "ddim", 25)]
    assert [c["label"] for c in choices(spec, plan_runs("d", spec))] == [
        "rocket, seed 0", "rocket, seed 1", "dog, seed 0", "dog, seed 1"]


def test_steps_side_by_side(tmp_path):
    spec = DemoSpec(title="D", prompts=["rocket", "dog"], compare="steps", steps=[5, 10, 25])
    menu = choices(spec, plan_runs("d", spec))
    assert [(c["label"], c["runs"]) for c in menu] == [("rocket", [0, 1, 2]), ("dog", [3, 4, 5])]
    assert menu[0]["description"] == (
        "3 runs side by side, 5, 10 and 25 steps (left to right, then the next row): the same prompt (“rocket”), "
        "seed (0) and guidance (7.5), one slider for all, T following each run's own steps at the same fraction "
        "of the way.")
    assert model_sentence(spec, None).endswith("DDIM scheduler, 5, 10 and 25 steps, 64 px.")


def test_schedulers_side_by_side(tmp_path):
    spec = DemoSpec(title="D", prompts=["rocket"], seeds=[0, 1], compare="scheduler",
                    scheduler=["ddim", "euler_a", "lms"])
    menu = choices(spec, plan_runs("d", spec))
    assert [c["label"] for c in menu] == ["rocket, seed 0", "rocket, seed 1"]
    assert menu[1]["description"].startswith("3 runs side by side, schedulers DDIM, Euler ancestral and LMS (left "
                                             "to right, then the next row): the same prompt (“rocket”), seed (1) "
                                             "and guidance (7.5)")
    assert model_sentence(spec, None).endswith("DDIM, Euler ancestral and LMS schedulers, 25 steps, 64 px.")
