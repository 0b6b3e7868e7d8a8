"""The live mode's model: a demo's text encoder, UNet and VAE decoder exported to ONNX for onnxruntime-web,
with its tokenizer, its schedule and the captions it knows, in one content-addressed folder
`build/live-<key>/`. The page's `draw.js` runs them; the build copies the folder and never imports torch.

- The folder holds `model.js`, `captions.js` and `live.json`. The two scripts are classic scripts (a page
  opened from file:// may not fetch, import modules or start workers) that store their payload in
  `self.unsmudgeLive`: `model.js` under "<key>" (tokenizer, schedule, the latent view's scale, each part as
  `store_weights` packs it, base64 of gzip bytes that the page inflates with the browser's
  `DecompressionStream`), `captions.js` under "<key>:captions" (the captions the model knows: small, so the
  page can check a prompt before loading the model). `live.json` (written last) lists what the folder holds.
- The key hashes the model's identity (`weights.model_identity`: the files loading reads), the settings
  that shape the bytes (steps, spacing, size, negative prompt, each part's weight storage), the captions,
  and the exporter's versions (torch, onnx, onnxscript, onnxruntime): any change, a new folder.
- Each part's graph is optimised here, once, by onnxruntime (`optimised`: its "extended" level, the fusions
  that suit every CPU), so the page creates its sessions with no optimisation: that was most of the first
  load's time (docs/benchmarks.md, "Live mode").
- Weight storage: "intN" (N = 8 to 12: symmetric fixed point, one scale per output channel) or "fp32". A
  quantised part ships its graph with zeros where the large weights go (gzip makes them nothing) and the
  fixed-point values beside it; draw.js writes the float32 weights into the graph before handing it to
  onnxruntime, with DequantizeLinear's arithmetic. Every step runs in float32; only the weights are
  rounded. The default (`Storage`) keeps every view of the browser's frames within 2/255 of precompute's
  (tests/browser/test_draw.py) and the live mode under 12 MB compressed (benchmarks/live_mode.py).
- Deterministic: the same model, settings and versions give the same bytes (gzip without a date, JSON
  with sorted keys, the exporter's per-node metadata removed).

Imports torch and onnxruntime only in `export` when there is work to do.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

from unsmudge.contract import (LIVE_CAPTIONS, LIVE_FORMAT, LIVE_MANIFEST, LIVE_PREFIX, LIVE_SCRIPT, LIVE_SETTINGS,
                               DemoSpec, find_live)
from unsmudge.precompute.store import FolderWriter
from unsmudge.precompute.weights import model_folder, model_identity
from unsmudge.problems import Problem, ProblemsFound

GLOBAL = "unsmudgeLive"  # the page-wide object the classic scripts fill
CAPTIONS = "captions.json"  # a model folder's list of the captions it was trained on (optional)
OPSET = 18
PARTS = ("text_encoder", "unet", "decoder")
STORAGE = ("int8", "int9", "int10", "int11", "int12", "fp32")  # see store_weights
QUANTISE_FROM = 1024  # tensors smaller than this (norms, biases) stay float32: they cost nothing
EXPORTERS = ("torch", "onnx", "onnxscript", "onnxruntime")  # their versions shape the bytes: in the key
COMPONENTS = ("text_encoder", "tokenizer", "unet", "vae", "scheduler")


@dataclass(frozen=True)
class Storage:
    """How each part's weights are stored (see the module docstring)."""

    text_encoder: str = "int8"
    unet: str = "int10"  # in int8 the noise view of the first steps passes the bound (2.6/255)
    decoder: str = "int8"

    def __post_init__(self):
        for part, kind in asdict(self).items():
            if kind not in STORAGE:
                raise ValueError(f"{part}: storage '{kind}' is not one of {', '.join(STORAGE)}")


@dataclass(frozen=True)
class Settings:
    """What, besides the weights, shapes the exported bytes: taken from the demo spec."""

    steps: int
    timestep_spacing: str
    size: int
    negative_prompt: str
    storage: Storage = field(default_factory=Storage)

    @classmethod
    def of(cls, spec: DemoSpec, storage: Storage | None = None) -> Settings:
        return cls(*(getattr(spec, name) for name in LIVE_SETTINGS), storage or Storage())


def versions() -> dict[str, str]:
    return {name: metadata.version(name) for name in EXPORTERS}


def live_key(identity_digest: str, settings: Settings, captions: list[str], exporters: dict[str, str]) -> str:
    shaped = {"format": LIVE_FORMAT, "model": identity_digest, "settings": asdict(settings),
              "captions": hashlib.sha256("\n".join(captions).encode()).hexdigest(), "exporters": exporters,
              "opset": OPSET}
    return hashlib.sha256(json.dumps(shaped, sort_keys=True).encode()).hexdigest()[:16]


def check(spec: DemoSpec, content_dir: Path, demo_file: str) -> list[Problem]:
    """What the live mode cannot run, from the spec and the model folder's layout (no weights read)."""
    problems = []
    if spec.scheduler != "ddim":
        problems.append(Problem(demo_file, "key 'scheduler'",
                                f"the live mode runs DDIM only, not '{spec.scheduler}'",
                                'set scheduler = "ddim", or turn the live mode off'))
    folder = model_folder(spec, content_dir)
    if folder is None:
        problems.append(Problem(demo_file, "key 'model'", "the live mode needs a local model folder, not a hub id",
                                'use model = "embedded" or a local diffusers folder'))
    else:
        missing = [name for name in COMPONENTS if not (folder / name).is_dir()]
        if missing:
            problems.append(Problem(demo_file, "key 'model'",
                                    f"the live mode needs a Stable-Diffusion-style folder; '{spec.model}' has no "
                                    + ", ".join(missing),
                                    "use a folder with text_encoder, tokenizer, unet, vae and scheduler"))
        else:
            problems += _check_schedule(folder, spec, demo_file)
    return problems


def _check_schedule(folder: Path, spec: DemoSpec, demo_file: str) -> list[Problem]:
    """draw.js does a DDIM step as a weighted sum of the sample and the predicted noise (`schedule`); a
    scheduler that clips or thresholds its prediction does something else."""
    try:
        config = json.loads((folder / "scheduler" / "scheduler_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = {}
    nonlinear = [key for key in ("clip_sample", "thresholding") if config.get(key)]
    if not nonlinear:
        return []
    return [Problem(demo_file, "key 'model'",
                    f"the model's scheduler_config.json sets {' and '.join(nonlinear)}, which the live mode's "
                    "DDIM step does not do", "set them to false in scheduler/scheduler_config.json, or turn the "
                    "live mode off")]


def read_captions(folder: Path) -> list[str]:
    """The captions a model folder says it knows (`captions.json`, a list of strings); [] without it."""
    path = Path(folder) / CAPTIONS
    if not path.is_file():
        return []
    return clean_captions(json.loads(path.read_text(encoding="utf-8")))


def clean_captions(captions) -> list[str]:
    """Lowercase, single spaces, each once, sorted: as draw.js compares a typed prompt with them."""
    return sorted({" ".join(str(c).lower().split()) for c in captions} - {""})


def export(spec: DemoSpec, content_dir: Path, out_dir: Path, demo_file: str, storage: Storage | None = None,
           captions: list[str] | None = None) -> Path:
    """The demo model's live-mode folder in `out_dir` (exported now unless it is there); ProblemsFound when
    the demo cannot run live. `captions` defaults to the model folder's captions.json."""
    problems = check(spec, content_dir, demo_file)
    if problems:
        raise ProblemsFound(problems)
    folder = model_folder(spec, content_dir)
    identity = model_identity(spec, content_dir)
    captions = read_captions(folder) if captions is None else clean_captions(captions)
    settings = Settings.of(spec, storage)
    key = live_key(identity.digest(), settings, captions, versions())
    done = find_live(out_dir, key)
    if done is not None:
        return done
    payload, parts = _payload(folder, settings)
    scripts = {LIVE_SCRIPT: script(key, payload), LIVE_CAPTIONS: script(f"{key}:captions", captions)}
    manifest = {"format": LIVE_FORMAT, "key": key, "model": identity.model_dump(), "settings": asdict(settings),
                "exporters": versions(), "opset": OPSET, "parts": parts, "captions": len(captions),
                "global": GLOBAL, "files": {name: {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                                            for name, data in scripts.items()}}
    return _write(Path(out_dir), key, scripts, manifest)


def _write(out_dir: Path, key: str, scripts: dict[str, bytes], manifest: dict) -> Path:
    """The folder whole or absent: written aside, live.json last, then renamed into place (as a run is)."""
    with FolderWriter(out_dir, f"{LIVE_PREFIX}{key}") as writer:
        for name, data in scripts.items():
            writer.add(name, data)
        return writer.finish(LIVE_MANIFEST, json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def script(name: str, payload) -> bytes:
    """A classic script that stores `payload` (JSON, ASCII only) as `self.unsmudgeLive[name]`."""
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return f"(self.{GLOBAL}=self.{GLOBAL}||{{}})[{json.dumps(name)}]={body};\n".encode("ascii")


def packed(data: bytes) -> str:
    """Bytes as the page reads them from a classic script: base64 of their gzip (no date: same bytes, same text)."""
    return base64.b64encode(gzip.compress(data, compresslevel=9, mtime=0)).decode("ascii")


# each part's input names, in the order the page passes them; every part has one output, "out"
INPUTS = {"text_encoder": ("input_ids",), "unet": ("sample", "timestep", "encoder_hidden_states"),
          "decoder": ("latent",)}


def _payload(folder: Path, settings: Settings) -> tuple[dict, dict]:
    """Everything the page needs, and a summary of the parts for live.json. Imports torch."""
    import torch
    from diffusers import DDIMScheduler, DiffusionPipeline

    from unsmudge.precompute.capture import LATENT_RANGE
    from unsmudge.precompute.weights import variant

    with _quiet():
        pipe = DiffusionPipeline.from_pretrained(folder, torch_dtype=torch.float32, use_safetensors=True,
                                                 local_files_only=True, variant=variant(folder))
    tokens = pipe.tokenizer.model_max_length
    factor = 2 ** (len(pipe.vae.config.block_out_channels) - 1)
    latent = [pipe.unet.config.in_channels, settings.size // factor, settings.size // factor]
    text_encoder, unet, decoder = _modules()
    modules = {
        "text_encoder": (text_encoder(pipe.text_encoder), (torch.zeros(2, tokens, dtype=torch.int32),)),
        "unet": (unet(pipe.unet), (torch.zeros(2, *latent), torch.zeros(1),
                                   torch.zeros(2, tokens, pipe.text_encoder.config.hidden_size))),
        "decoder": (decoder(pipe.vae), (torch.zeros(1, *latent),)),
    }
    parts, summary = {}, {}
    for name, (module, args) in modules.items():
        kind = getattr(settings.storage, name)
        data = optimised(onnx_bytes(module, args, INPUTS[name]))
        parts[name] = store_weights(data, kind)
        summary[name] = {"storage": kind, "onnx_bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    scheduler = DDIMScheduler.from_config(pipe.scheduler.config, timestep_spacing=settings.timestep_spacing)
    payload = {
        "format": LIVE_FORMAT,
        "size": settings.size,
        "latent": latent,
        "latent_range": LATENT_RANGE,  # the latent and noise views' colour scale, as precompute draws them
        "tokenizer": tokenizer(folder / "tokenizer", tokens),
        "negative_prompt": settings.negative_prompt,
        "schedule": schedule(scheduler, settings.steps),
        "inputs": {name: list(names) for name, names in INPUTS.items()},
        "parts": parts,
    }
    return payload, summary


def _quiet():
    """diffusers' and torch.onnx's progress lines and warnings stay out of precompute's output (an error still
    raises)."""
    import contextlib
    import io
    import logging
    import warnings

    stack = contextlib.ExitStack()
    stack.enter_context(warnings.catch_warnings())
    warnings.simplefilter("ignore")
    stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
    stack.enter_context(contextlib.redirect_stderr(io.StringIO()))  # the loading progress bars
    onnx_log = logging.getLogger("torch.onnx")  # "torchvision is not installed" for every part
    level = onnx_log.level
    onnx_log.setLevel(logging.ERROR)
    stack.callback(onnx_log.setLevel, level)
    return stack


def _modules():
    """The three parts as torch modules with plain tensor inputs and one output."""
    import torch

    class TextEncoder(torch.nn.Module):
        """Token ids (int32: 64-bit integers are awkward in the page) -> the last hidden state."""

        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids):
            return self.model(input_ids.long())[0]

    class UNet(torch.nn.Module):
        """The noise predicted for a batch (unconditional, prompt) at one timestep (a float, as the time
        embedding reads it)."""

        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, sample, timestep, encoder_hidden_states):
            return self.model(sample, timestep, encoder_hidden_states=encoder_hidden_states, return_dict=False)[0]

    class Decoder(torch.nn.Module):
        """A latent as the scheduler holds it -> the picture in [-1, 1] (unscaled as the pipeline does)."""

        def __init__(self, vae):
            super().__init__()
            self.vae = vae

        def forward(self, latent):
            return self.vae.decode(latent / self.vae.config.scaling_factor, return_dict=False)[0]

    return TextEncoder, UNet, Decoder


def onnx_bytes(module, args: tuple, names: tuple[str, ...]) -> bytes:
    """One part as ONNX (torch's dynamo exporter, fixed shapes, float32), per-node metadata removed."""
    import torch

    module.eval()
    with _quiet(), torch.no_grad():
        program = torch.onnx.export(module, args, None, dynamo=True, input_names=list(names),
                                    output_names=["out"], opset_version=OPSET, external_data=False)
    model = program.model_proto
    for node in model.graph.node:  # source lines and module paths of this machine: not part of the model
        del node.metadata_props[:]
        node.doc_string = ""
    return model.SerializeToString()


def optimised(onnx: bytes) -> bytes:
    """The graph as onnxruntime optimises it at its "extended" level (constant folding and the fusions every
    CPU runs; not the layout changes of "all", which depend on the machine), saved: the page then skips
    this work (onnxruntime-web reads the graph as it is, with optimisation "disabled")."""
    import tempfile

    import onnxruntime

    with tempfile.TemporaryDirectory(prefix="unsmudge-ort-") as temp:
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        options.optimized_model_filepath = str(Path(temp) / "optimised.onnx")
        options.intra_op_num_threads = 1
        options.log_severity_level = 3  # errors only
        onnxruntime.InferenceSession(onnx, options, providers=["CPUExecutionProvider"])
        return (Path(temp) / "optimised.onnx").read_bytes()


MARK = b"unsmudge weight "  # 16 bytes, then the weight's index: where its values sit in the serialised graph


def store_weights(onnx: bytes, storage: str) -> dict:
    """A part as the page reads it: {"graph": the ONNX bytes, packed}, and for "intN" storage every float32
    weight of QUANTISE_FROM values or more stored apart, its values cut out of the graph (so the page
    inflates no zeros; "size": the graph's length with them): "weights": [byte offset of its values in the
    graph, count, channels, stride] per weight, in the graph's order (the channel of value i is
    i // stride % channels), "bits": N, "high", "low" (past 8 bits), "scale": the weights' `fixed_point`
    parts, concatenated and packed (int8, uint8, float32 little-endian). The page writes
    high * (scale * 2^(N-8)) + low * scale, each product rounded to float32 and the sum too, as
    DequantizeLinear and Add compute it, where the values were."""
    import numpy as np
    import onnx as onnx_lib
    from onnx import numpy_helper

    if storage == "fp32":
        return {"graph": packed(onnx), "weights": []}
    bits = int(storage[3:])
    model = onnx_lib.load_from_string(onnx)
    table, highs, lows, scales = [], [], [], []
    for tensor in model.graph.initializer:
        array = numpy_helper.to_array(tensor)
        if array.dtype != np.float32 or array.size < QUANTISE_FROM:
            continue
        high, low, scale, axis = fixed_point(array, bits)
        index = len(table)
        table.append([0, int(array.size), int(array.shape[axis]), int(array.size // array.shape[axis]) if axis == 0
                      else 1])
        highs.append(high.tobytes())
        lows.append(b"" if low is None else low.tobytes())
        scales.append(scale.astype("<f4").tobytes())
        tensor.ClearField("float_data")
        tensor.raw_data = MARK + index.to_bytes(4, "little") + bytes(4 * array.size - len(MARK) - 4)
    graph = model.SerializeToString()
    pieces, end = [], 0
    for index, row in enumerate(table):
        mark = MARK + index.to_bytes(4, "little")
        row[0] = graph.find(mark)
        if row[0] < end or graph.find(mark, row[0] + 1) >= 0:
            raise ValueError(f"weight {index}: its place in the graph is not unique or not in order")
        pieces.append(graph[end:row[0]])
        end = row[0] + 4 * row[1]
    pieces.append(graph[end:])
    part = {"graph": packed(b"".join(pieces)), "size": len(graph), "weights": table, "bits": bits,
            "high": packed(b"".join(highs)), "scale": packed(b"".join(scales))}
    if bits > 8:
        part["low"] = packed(b"".join(lows))
    return part


def fixed_point(array, bits: int):
    """Symmetric fixed point: q = round(w / scale) within +-(2^(bits-1) - 1), one float32 scale per slice along
    the axis (first or last) that rounds least: the output channels of a convolution (first) or of a matrix
    multiplied from the right (last). Stored as q = high * 2^(bits-8) + low: an int8 `high` and, past 8 bits,
    a uint8 `low` of bits-8 bits (few distinct values: gzip packs them). Returns (high, low or None, scale, axis)."""
    import numpy as np

    top = 2 ** (bits - 1) - 1
    best = None
    for axis in sorted({0, array.ndim - 1}):
        others = tuple(i for i in range(array.ndim) if i != axis)
        scale = (np.abs(array).max(axis=others) / top).astype(np.float32)
        scale[scale == 0] = 1
        shape = [1] * array.ndim
        shape[axis] = -1
        q = np.clip(np.round(array / scale.reshape(shape)), -top, top).astype(np.int32)
        error = float(np.square(q * scale.reshape(shape) - array).sum())
        if best is None or error < best[0]:
            best = (error, q, scale, axis)
    _, q, scale, axis = best
    step = 2 ** (bits - 8)
    high = np.floor_divide(q, step)
    low = (q - high * step).astype(np.uint8) if bits > 8 else None
    return high.astype(np.int8), low, scale, axis


def tokenizer(folder: Path, max_length: int) -> dict:
    """CLIP's byte-level BPE as draw.js reads it: the vocabulary, the merges in rank order and the
    special ids (begin, end; the end token also pads)."""
    vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
    lines = (folder / "merges.txt").read_text(encoding="utf-8").splitlines()
    merges = [line for line in lines if line and not line.startswith("#version")]
    return {"vocab": vocab, "merges": merges, "max_length": max_length,
            "bos": vocab["<|startoftext|>"], "eos": vocab["<|endoftext|>"]}


def schedule(scheduler, steps: int) -> dict:
    """The scheduler's own arithmetic, read off by probing: a DDIM step (eta 0) is linear in the sample x and
    the predicted noise e, so x_prev = a*x + b*e and x0 = c*x + d*e per step; noising the final latent to
    step i (the forward view) is f*x0 + g*noise. draw.js does exactly these sums."""
    import torch

    scheduler.set_timesteps(steps)
    one, zero = torch.ones(1), torch.zeros(1)
    rows = {key: [] for key in ("x", "e", "x0_x", "x0_e", "forward_x0", "forward_noise")}
    for t in scheduler.timesteps:
        by_x = scheduler.step(zero, t, one, eta=0.0)
        by_e = scheduler.step(one, t, zero, eta=0.0)
        rows["x"].append(float(by_x.prev_sample))
        rows["e"].append(float(by_e.prev_sample))
        rows["x0_x"].append(float(by_x.pred_original_sample))
        rows["x0_e"].append(float(by_e.pred_original_sample))
        step = t.reshape(1).long()
        rows["forward_x0"].append(float(scheduler.add_noise(one, zero, step)))
        rows["forward_noise"].append(float(scheduler.add_noise(zero, one, step)))
    return {"timesteps": [int(t) for t in scheduler.timesteps], "init_noise_sigma": float(scheduler.init_noise_sigma),
            **rows}


RUNTIME_FILES = ("ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")  # onnxruntime-web's plain wasm build


def runtime_script(dist: Path, version: str) -> bytes:
    """onnxruntime-web's WebAssembly runtime (from its npm package's `dist/`) as the classic script draw.js
    loads: the glue module's text (draw.js imports it from a data: URL) and the binary gzipped, both base64.
    Makes `templates/live/vendor/onnxruntime-web/ort-wasm-simd-threaded.js` (see the README there)."""
    glue, binary = (Path(dist) / name for name in RUNTIME_FILES)
    payload = {"version": version, "glue": base64.b64encode(glue.read_bytes()).decode("ascii"),
               "wasm": packed(binary.read_bytes()),
               "sha256": {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (glue, binary)}}
    return script("runtime", payload)
