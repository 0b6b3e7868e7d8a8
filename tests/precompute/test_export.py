"""The live mode's export (unsmudge/precompute/export.py), on the tiny pipeline built in code.

The browser side (draw.js running these parts against precompute's frames) is tests/browser/test_draw.py.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from base64 import b64decode
from pathlib import Path

import numpy as np
import pytest

from tests.precompute.conftest import ROOT, write_demo
from unsmudge.contract import LIVE_CAPTIONS, LIVE_MANIFEST, LIVE_PREFIX, LIVE_SCRIPT, find_live, load_demo
from unsmudge.precompute import export, store
from unsmudge.problems import ProblemsFound

CAPTIONS = ["a dog", "dog", "a cat", "cat face"]


def payload(folder: Path, name: str = LIVE_SCRIPT, suffix: str = ""):
    """A script's payload: the JSON after `(self.unsmudgeLive=...)["<key><suffix>"]=`."""
    text = (folder / name).read_text(encoding="ascii")
    prefix = f'(self.{export.GLOBAL}=self.{export.GLOBAL}||{{}})["{folder.name[len(LIVE_PREFIX):]}{suffix}"]='
    assert text.startswith(prefix) and text.endswith(";\n")
    return json.loads(text[len(prefix):-2])


def unpacked(text: str) -> bytes:
    return gzip.decompress(b64decode(text))


def written(stored: dict) -> bytes:
    """A stored part's ONNX bytes with its weights written in as draw.js writes them (here in numpy:
    float32 products high * (scale * 2^(bits-8)) and low * scale, and their float32 sum)."""
    pieces = unpacked(stored["graph"])
    if not stored["weights"]:
        return pieces
    high = np.frombuffer(unpacked(stored["high"]), np.int8).astype(np.float32)
    low = np.frombuffer(unpacked(stored["low"]), np.uint8).astype(np.float32) if "low" in stored else None
    scale = np.frombuffer(unpacked(stored["scale"]), "<f4")
    step = np.float32(2 ** (stored["bits"] - 8))
    graph, taken, end, at, first = bytearray(), 0, 0, 0, 0
    for offset, count, channels, stride in stored["weights"]:
        graph += pieces[taken:taken + offset - end]
        taken += offset - end
        s = scale[first + np.arange(count) // stride % channels]
        values = high[at:at + count] * (s * step)
        if low is not None:
            values = values + low[at:at + count] * s
        graph += values.astype("<f4").tobytes()
        end, at, first = offset + 4 * count, at + count, first + channels
    graph += pieces[taken:]
    assert len(graph) == stored["size"] and at == len(high) and first == len(scale)
    return bytes(graph)


def part(data: dict, name: str) -> bytes:
    return written(data["parts"][name])


def session(onnx_bytes: bytes):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    # as draw.js creates it: the graph was optimised at export
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    return onnxruntime.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="session")
def live_course(tmp_path_factory, tiny_model):
    """A content folder whose demo 'tiny' uses the tiny model with DDIM, 4 trailing steps, 32 px."""
    content = tmp_path_factory.mktemp("live") / "content"
    write_demo(content, "tiny", tiny_model, scheduler="ddim", timestep_spacing="trailing")
    return content


@pytest.fixture(scope="session")
def live_export(live_course, tmp_path_factory):
    """The tiny demo exported once: (folder, payload)."""
    out = tmp_path_factory.mktemp("live-out")
    spec = load_demo(live_course / "demos" / "tiny.toml")
    folder = export.export(spec, live_course, out, "demos/tiny.toml", captions=CAPTIONS)
    return folder, payload(folder)


def test_the_folder_is_whole_named_by_its_key_and_listed(live_export):
    folder, data = live_export
    manifest = json.loads((folder / LIVE_MANIFEST).read_text())
    assert folder.name == LIVE_PREFIX + manifest["key"]
    assert sorted(p.name for p in folder.parent.iterdir()) == [folder.name]  # no temp folder left
    assert sorted(p.name for p in folder.iterdir()) == sorted([LIVE_MANIFEST, LIVE_SCRIPT, LIVE_CAPTIONS])
    for name in (LIVE_SCRIPT, LIVE_CAPTIONS):
        assert manifest["files"][name]["bytes"] == len((folder / name).read_bytes())
    assert set(manifest["parts"]) == set(export.PARTS) == set(data["parts"])
    assert manifest["settings"]["storage"] == {"text_encoder": "int8", "unet": "int10", "decoder": "int8"}
    assert payload(folder, LIVE_CAPTIONS, ":captions") == sorted(CAPTIONS)
    assert find_live(folder.parent, manifest["key"]) == folder


# In a fresh interpreter: the same export, recording each part's optimised float32 ONNX (what store_weights is
# given)
FRESH_EXPORT = """
import sys
from pathlib import Path
from unsmudge.contract import load_demo
from unsmudge.precompute import export

content, out, plain = map(Path, sys.argv[1:4])
stored = export.store_weights

def recording(onnx, storage):
    name = export.PARTS[len(list(plain.iterdir()))]
    (plain / f"{name}.onnx").write_bytes(onnx)
    return stored(onnx, storage)

export.store_weights = recording
spec = load_demo(content / "demos" / "tiny.toml")
print(export.export(spec, content, out, "demos/tiny.toml", captions=sys.argv[4:]))
"""


@pytest.fixture(scope="session")
def fresh_export(live_course, tmp_path_factory):
    """The same export again in another process: (folder, {part: its optimised float32 ONNX before storing})."""
    root = tmp_path_factory.mktemp("fresh")
    (root / "plain").mkdir()
    result = subprocess.run([sys.executable, "-c", FRESH_EXPORT, str(live_course), str(root / "out"),
                             str(root / "plain"), *CAPTIONS], cwd=ROOT, capture_output=True, text=True,
                            env=dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT)))
    assert result.returncode == 0, result.stderr
    folder = Path(result.stdout.strip().splitlines()[-1])
    return folder, {name: (root / "plain" / f"{name}.onnx").read_bytes() for name in export.PARTS}


def test_the_same_export_gives_the_same_bytes_in_another_process(live_export, fresh_export):
    """Deterministic output: a second export in a fresh interpreter writes byte-identical files."""
    folder, _ = live_export
    again, _ = fresh_export
    assert again.name == folder.name and again != folder
    for name in (LIVE_SCRIPT, LIVE_CAPTIONS, LIVE_MANIFEST):
        assert (again / name).read_bytes() == (folder / name).read_bytes(), name


def _torch_parts(model: Path):
    import torch
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(model, local_files_only=True, use_safetensors=True)
    text_encoder, unet, decoder = export._modules()
    return pipe, {"text_encoder": text_encoder(pipe.text_encoder).eval(), "unet": unet(pipe.unet).eval(),
                  "decoder": decoder(pipe.vae).eval()}, torch


def _inputs(data: dict, rng) -> dict[str, dict[str, np.ndarray]]:
    tokens = data["tokenizer"]["max_length"]
    latent = data["latent"]
    return {
        "text_encoder": {"input_ids": rng.integers(0, len(data["tokenizer"]["vocab"]), (2, tokens)).astype(np.int32)},
        "unet": {"sample": rng.standard_normal((2, *latent)).astype(np.float32),
                 "timestep": np.array([459.0], np.float32),
                 "encoder_hidden_states": rng.standard_normal((2, tokens, 32)).astype(np.float32)},
        "decoder": {"latent": rng.standard_normal((1, *latent)).astype(np.float32)},
    }


def test_each_part_computes_what_torch_computes(live_export, fresh_export, tiny_model):
    """Exported in float32 and optimised, every part gives torch's output; the folder holds that graph with
    its large weights stored rounded (by at most one fixed-point step), and every other byte of the graph as
    it was."""
    import onnx
    from onnx import numpy_helper

    _, data = live_export
    _, plain_parts = fresh_export
    pipe, modules, torch = _torch_parts(tiny_model)
    inputs = _inputs(data, np.random.default_rng(0))
    storage = export.Storage()
    for name, module in modules.items():
        feeds = inputs[name]
        with torch.no_grad():
            expected = module(*(torch.from_numpy(v) for v in feeds.values())).numpy()
        plain = plain_parts[name]
        (got,) = session(plain).run(None, feeds)
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4, err_msg=name)

        kind = getattr(storage, name)
        assert export.store_weights(plain, kind) == data["parts"][name], name
        stored = onnx.load_from_string(part(data, name))
        model = onnx.load_from_string(plain)
        top = 2 ** (int(kind[3:]) - 1) - 1
        rounded = 0
        for mine, theirs in zip(stored.graph.initializer, model.graph.initializer, strict=True):
            a, b = numpy_helper.to_array(mine), numpy_helper.to_array(theirs)
            if b.dtype == np.float32 and b.size >= export.QUANTISE_FROM:
                assert np.abs(a - b).max() <= np.abs(b).max() / top, mine.name
                rounded += 1
            else:
                assert mine == theirs, mine.name
        assert rounded, f"{name}: no weight was stored rounded"
        del stored.graph.initializer[:], model.graph.initializer[:]
        assert stored == model, f"{name}: the graph changed"
        (rounded_out,) = session(part(data, name)).run(None, feeds)
        np.testing.assert_allclose(rounded_out, got, rtol=0.05, atol=0.05, err_msg=name)


def test_the_graphs_come_optimised(live_export):
    """Each part's graph is onnxruntime's optimised graph (the page creates its sessions with no optimisation):
    it holds onnxruntime's fused operators (com.microsoft), which no torch export has."""
    import onnx

    _, data = live_export
    fused = {name: sorted({n.op_type for n in onnx.load_from_string(part(data, name)).graph.node
                           if n.domain == "com.microsoft"}) for name in export.PARTS}
    assert all(fused.values()), fused


@pytest.mark.parametrize("bits", [8, 9, 10, 12])
def test_fixed_point_rounds_each_weight_by_at_most_half_a_step(bits):
    rng = np.random.default_rng(bits)
    for shape in [(8, 4, 3, 3), (32, 16), (16, 32)]:
        spread = rng.uniform(0.01, 2, shape[0]).reshape(-1, *[1] * (len(shape) - 1))
        weight = (rng.standard_normal(shape) * spread).astype(np.float32)
        high, low, scale, axis = export.fixed_point(weight, bits)
        assert high.dtype == np.int8 and scale.dtype == np.float32 and scale.shape == (shape[axis],)
        q = high.astype(np.int64) * 2 ** (bits - 8)
        if bits == 8:
            assert low is None
        else:
            assert low.dtype == np.uint8 and low.max() < 2 ** (bits - 8)
            q += low
        assert np.abs(q).max() <= 2 ** (bits - 1) - 1
        view = [1] * len(shape)
        view[axis] = -1
        assert np.all(np.abs(q * scale.reshape(view) - weight) <= scale.reshape(view) / 2 + 1e-7)


def test_the_schedule_is_the_schedulers_own_arithmetic(live_export, tiny_model):
    """draw.js's sums (x_prev = a*x + b*e, x0 = c*x + d*e, forward = f*x0 + g*noise) give what diffusers'
    DDIMScheduler gives, at every step."""
    import torch
    from diffusers import DDIMScheduler

    _, data = live_export
    s = data["schedule"]
    config = json.loads((tiny_model / "scheduler" / "scheduler_config.json").read_text())
    scheduler = DDIMScheduler.from_config(config, timestep_spacing="trailing")
    scheduler.set_timesteps(4)
    assert s["timesteps"] == [int(t) for t in scheduler.timesteps]
    assert s["timesteps"][0] == 999
    rng = torch.Generator().manual_seed(0)
    for i, t in enumerate(scheduler.timesteps):
        x, e, noise = (torch.randn(1, 4, 4, 4, generator=rng) for _ in range(3))
        out = scheduler.step(e, t, x, eta=0.0)
        torch.testing.assert_close(s["x"][i] * x + s["e"][i] * e, out.prev_sample, rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(s["x0_x"][i] * x + s["x0_e"][i] * e, out.pred_original_sample, rtol=1e-6, atol=1e-6)
        noised = scheduler.add_noise(x, noise, t.reshape(1).long())
        torch.testing.assert_close(s["forward_x0"][i] * x + s["forward_noise"][i] * noise, noised, rtol=1e-6, atol=1e-6)


def test_the_tokenizer_is_the_models_own(live_export, tiny_model):
    _, data = live_export
    vocab = json.loads((tiny_model / "tokenizer" / "vocab.json").read_text(encoding="utf-8"))
    merges = (tiny_model / "tokenizer" / "merges.txt").read_text(encoding="utf-8").splitlines()[1:]
    assert data["tokenizer"] == {"vocab": vocab, "merges": merges, "max_length": 16,
                                 "bos": vocab["<|startoftext|>"], "eos": vocab["<|endoftext|>"]}


def test_the_latent_views_scale_is_precomputes(live_export):
    """draw.js colours the latent and noise views with the scale precompute's latent view uses (one fact)."""
    from unsmudge.precompute.capture import LATENT_RANGE

    _, data = live_export
    assert data["latent_range"] == LATENT_RANGE


def test_a_done_export_is_found_not_redone(live_export, live_course, monkeypatch):
    folder, _ = live_export
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    monkeypatch.setattr(export, "_payload", lambda *a: pytest.fail("exported again"))
    spec = load_demo(live_course / "demos" / "tiny.toml")
    assert export.export(spec, live_course, folder.parent, "demos/tiny.toml", captions=CAPTIONS) == folder
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before


def test_an_incomplete_folder_does_not_count(live_export, tmp_path):
    import shutil

    folder, _ = live_export
    key = folder.name[len(LIVE_PREFIX):]
    copy = tmp_path / folder.name
    shutil.copytree(folder, copy)
    assert find_live(tmp_path, key) == copy
    with open(copy / LIVE_SCRIPT, "r+b") as script:  # cut short, as a killed copy leaves it
        script.truncate(100)
    assert find_live(tmp_path, key) is None
    (copy / LIVE_MANIFEST).unlink()
    assert find_live(tmp_path, key) is None


def test_the_key_covers_what_shapes_the_bytes():
    settings = export.Settings(steps=25, timestep_spacing="trailing", size=64, negative_prompt="")
    versions = {"torch": "2.13.0", "onnx": "1.23.2", "onnxscript": "0.7.2"}
    base = export.live_key("model-a", settings, CAPTIONS, versions)
    assert base == export.live_key("model-a", settings, list(CAPTIONS), dict(versions))
    others = [
        export.live_key("model-b", settings, CAPTIONS, versions),
        export.live_key("model-a", export.Settings(20, "trailing", 64, ""), CAPTIONS, versions),
        export.live_key("model-a", export.Settings(25, "trailing", 64, "blurry"), CAPTIONS, versions),
        export.live_key("model-a", export.Settings(25, "trailing", 64, "", export.Storage(unet="int12")), CAPTIONS,
                        versions),
        export.live_key("model-a", settings, CAPTIONS + ["a bird"], versions),
        export.live_key("model-a", settings, CAPTIONS, dict(versions, torch="2.14.0")),
    ]
    assert len({base, *others}) == len(others) + 1


def test_new_weights_give_a_new_key(tiny_model, tmp_path):
    """The key follows the model's identity (the files loading reads), so retrained weights are re-exported."""
    import shutil

    from unsmudge.precompute.weights import model_identity

    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    content = tmp_path / "content"
    write_demo(content, "tiny", model)
    spec = load_demo(content / "demos" / "tiny.toml")

    def key():
        return export.live_key(model_identity(spec, content).digest(), export.Settings.of(spec), [], export.versions())

    before = key()
    weights = model / "unet" / "diffusion_pytorch_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    assert key() != before


def test_what_cannot_run_live_is_a_problem_and_nothing_is_written(tmp_path, tiny_model):
    content = tmp_path / "content"
    out = tmp_path / "build"
    write_demo(content, "euler", tiny_model, scheduler="euler")
    write_demo(content, "hub", "org/model", revision="0" * 40)
    broken = tmp_path / "broken"
    (broken / "unet").mkdir(parents=True)
    (broken / "model_index.json").write_text("{}")
    write_demo(content, "broken", broken)
    seen = []
    for demo in ("euler", "hub", "broken"):
        spec = load_demo(content / "demos" / f"{demo}.toml")
        with pytest.raises(ProblemsFound) as caught:
            export.export(spec, content, out, f"demos/{demo}.toml")
        (problem,) = caught.value.problems
        assert problem.file == f"demos/{demo}.toml" and problem.where.startswith("key '") and problem.fix
        seen.append(problem.where)
    assert seen == ["key 'scheduler'", "key 'model'", "key 'model'"]
    assert "text_encoder, tokenizer, vae, scheduler" in str(caught.value)
    assert not out.exists()


def test_a_scheduler_that_clips_is_a_problem(tmp_path, tiny_model):
    """A DDIM step that clips or thresholds its prediction is not the sum draw.js does."""
    import shutil

    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    config_file = model / "scheduler" / "scheduler_config.json"
    config = json.loads(config_file.read_text())
    config_file.write_text(json.dumps(dict(config, clip_sample=True)))
    content = tmp_path / "content"
    write_demo(content, "clip", model)
    spec = load_demo(content / "demos" / "clip.toml")
    with pytest.raises(ProblemsFound) as caught:
        export.export(spec, content, tmp_path / "build", "demos/clip.toml")
    (problem,) = caught.value.problems
    assert "clip_sample" in problem.message and problem.fix


def test_a_failed_export_leaves_nothing(live_course, tmp_path, monkeypatch):
    """Failing while exporting or while writing: no folder, complete or temporary, is left behind."""
    spec = load_demo(live_course / "demos" / "tiny.toml")

    def fail(*args):
        raise RuntimeError("the exporter failed")

    monkeypatch.setattr(export, "_payload", fail)
    with pytest.raises(RuntimeError, match="exporter failed"):
        export.export(spec, live_course, tmp_path, "demos/tiny.toml", captions=["x"])
    assert list(tmp_path.iterdir()) == []

    monkeypatch.setattr(export, "_payload", lambda *args: ({"parts": {}}, {}))
    monkeypatch.setattr(store, "write_text_atomic", lambda path, text: fail())  # live.json, written last
    with pytest.raises(RuntimeError, match="exporter failed"):
        export.export(spec, live_course, tmp_path, "demos/tiny.toml", captions=["x"])
    assert list(tmp_path.iterdir()) == []


def test_captions_come_from_the_model_folder(tmp_path):
    (tmp_path / export.CAPTIONS).write_text(json.dumps(["Red  Heart", "rocket", "rocket ", " "]))
    assert export.read_captions(tmp_path) == ["red heart", "rocket"]
    assert export.read_captions(tmp_path / "nowhere") == []


@pytest.mark.parametrize("storage", export.STORAGE)
def test_every_storage_decodes_to_its_rounded_weights(storage):
    """On a one-layer graph: the stored model computes x @ W with W as the storage rounds it."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weight = (rng.standard_normal((64, 32)) * rng.uniform(0.1, 3, 32)).astype(np.float32)
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["out"])], "one",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 64])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, [4, 32])],
                              [numpy_helper.from_array(weight, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", export.OPSET)])
    stored = export.store_weights(model.SerializeToString(), storage)
    decoded = onnx.load_from_string(written(stored))
    onnx.checker.check_model(decoded)
    x = rng.standard_normal((4, 64)).astype(np.float32)
    (out,) = session(decoded.SerializeToString()).run(None, {"x": x})
    if storage == "fp32":
        rounded = weight
    else:
        bits = int(storage[3:])
        scale = np.abs(weight).max(axis=0) / (2 ** (bits - 1) - 1)  # the output channels: the last axis here
        rounded = np.round(weight / scale) * scale
    np.testing.assert_allclose(out, x @ rounded, rtol=1e-5, atol=1e-5)
    assert (storage == "fp32") == (np.abs(out - x @ weight).max() < 1e-4)  # every other storage rounds
