"""SDXL (two text encoders, size/crop conditioning, Euler by default) goes through the same capture."""

import json

import pytest

from tests.precompute.conftest import precompute, write_demo


@pytest.fixture(scope="module")
def tiny_sdxl(tmp_path_factory):
    from tests.tiny import build_tiny_sdxl_pipeline

    return build_tiny_sdxl_pipeline(tmp_path_factory.mktemp("models") / "tiny-sdxl")


@pytest.mark.parametrize("scheduler", ["euler", "ddim"])
def test_sdxl_runs_keep_every_step(tiny_sdxl, tmp_path, scheduler):
    content, out = tmp_path / "content", tmp_path / "build"
    write_demo(content, "xl", tiny_sdxl, scheduler=scheduler, prompts=["a dog"])
    assert precompute(content, out) == 0
    [run_json] = out.glob("*/run.json")
    run = json.loads(run_json.read_text())
    assert run["scheduler"]["name"] == scheduler
    ts = [step["t"] for step in run["steps"]]
    assert len(ts) == 4 + 1 and ts[0] >= 900 and ts[-1] == 0 and ts == sorted(ts, reverse=True)
    for step in run["steps"]:
        for view in ("image", "prediction", "latent", "forward"):
            assert (run_json.parent / step[view]).stat().st_size > 0
