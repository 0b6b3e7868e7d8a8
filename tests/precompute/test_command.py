"""What `unsmudge precompute` says and checks before it computes anything (no torch on these paths)."""

from __future__ import annotations

import pytest

from tests.fakeframes import write_run
from unsmudge.contract import load_demo, plan_runs
from unsmudge.precompute.weights import model_identity

from .conftest import precompute, write_demo

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def finish(content, out, demo_id, revision):
    """Write every run of the demo as precompute would have, made from the weights `revision` names."""
    spec = load_demo(content / "demos" / f"{demo_id}.toml")
    for run in plan_runs(demo_id, spec):
        write_run(run, spec, out, revision=revision)


def test_a_finished_hub_demo_needs_neither_network_nor_cache(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))  # nothing of the model is cached
    content, out = tmp_path / "content", tmp_path / "build"
    write_demo(content, "sd", "stabilityai/sd-turbo", revision=COMMIT, size=512, guidance=[0.0],
               prompts=["a dog"])
    assert precompute(content, out, "--dtype", "float32") == 1  # runs to do: the configs are needed
    assert "stabilityai/sd-turbo" in capsys.readouterr().err
    finish(content, out, "sd", COMMIT)
    assert precompute(content, out, "--dtype", "float32") == 0, capsys.readouterr().err
    assert "1 run(s): 0 to do, 1 cached" in capsys.readouterr().out


def test_turbo_guidance_above_one_is_a_warning_naming_the_key(tmp_path, capsys, tiny_model):
    import shutil

    content, out = tmp_path / "content", tmp_path / "build"
    shutil.copytree(tiny_model, content / "tiny-turbo")
    write_demo(content, "fast", "./tiny-turbo", guidance=[0.0, 7.5], prompts=["a dog"])
    spec = load_demo(content / "demos" / "fast.toml")
    finish(content, out, "fast", model_identity(spec, content).revision)
    assert precompute(content, out) == 0
    captured = capsys.readouterr()
    assert "0 to do, 2 cached" in captured.out
    assert "warning: " in captured.err and "key 'guidance'" in captured.err and "fast.toml" in captured.err


def test_problems_are_printed_by_the_one_printer(tmp_path, capsys):
    content = tmp_path / "content"
    write_demo(content, "bad", "embedded", steps=0)
    assert precompute(content, tmp_path / "build") == 1
    err = capsys.readouterr().err
    assert "bad.toml: line" in err and "key 'steps'" in err
    assert err.rstrip().endswith("1 problem found; nothing was written.")


@pytest.mark.parametrize("model", ["./model", "models/sd"])  # "models/sd" reads like a hub id but has no revision
def test_a_finished_demo_whose_local_model_is_not_here_is_cached(tmp_path, capsys, tiny_model, model):
    """A Pages runner has content/ and build/ but not the weights: precompute must not stop it."""
    import shutil

    content, out = tmp_path / "content", tmp_path / "build"
    shutil.copytree(tiny_model, content / model)
    write_demo(content, "tiny", model, prompts=["a dog", "a cat"])
    spec = load_demo(content / "demos" / "tiny.toml")
    revision = model_identity(spec, content).revision
    (first, second) = plan_runs("tiny", spec)
    write_run(first, spec, out, revision=revision)
    shutil.rmtree(content / model)
    assert precompute(content, out) == 1  # one run is missing: the weights are needed after all
    err = capsys.readouterr().err
    assert f"no folder '{model}'" in err
    assert ("if it is a hub id, pin its commit: revision = " in err) == (model == "models/sd"), err
    write_run(second, spec, out, revision=revision)
    assert precompute(content, out) == 0
    captured = capsys.readouterr()
    assert "0 to do, 2 cached" in captured.out and "is not here" in captured.out
