"""A GPU smoke test of precompute: a tiny course computed on CUDA twice (same bytes?), then cached.

    python benchmarks/precompute_gpu_check.py [--out DIR] [--dtype float16]

Prints how many frames differ between two CUDA runs and the largest pixel difference against a
float32 CPU run of the same spec (the tolerance docs/architecture.md documents). Needs the repository,
torch, diffusers, transformers, accelerate and pydantic.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def run(content: Path, out: Path, *extra: str) -> float:
    start = time.perf_counter()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-m", "unsmudge.precompute", "--content", str(content), "--out", str(out),
                             *extra], env=env, capture_output=True, text=True)
    print(result.stdout.strip())
    if result.returncode:
        print(result.stderr[-3000:])
        raise SystemExit(result.returncode)
    return time.perf_counter() - start


def frames(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.glob("*/*.webp"))}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--dtype", default="float16")
    parser.add_argument("--device", default="cuda", help="cpu: a dry run of this script")
    parser.add_argument("--steps", type=int, default=25)
    args = parser.parse_args()
    import numpy as np
    from PIL import Image

    from tests.tiny import build_tiny_pipeline

    root = Path(tempfile.mkdtemp(prefix="gpu-check-"))
    out_root = args.out or root
    content = root / "content"
    build_tiny_pipeline(content / "tiny", size=64, channels=(64, 128), layers=2, vae_channels=(32, 64, 64),
                        text_dim=128, text_layers=3, mid_block=False, head_dim=(2, 4))
    (content / "demos").mkdir()
    (content / "demos" / "gpu.toml").write_text(
        f'title = "GPU check"\nmodel = "./tiny"\nsteps = {args.steps}\nsize = 64\nseeds = [0, 1]\nguidance = [7.5]\n'
        'prompts = ["grinning face", "rocket"]\n', encoding="utf-8")
    first = run(content, out_root / "cuda-a", "--device", args.device, "--dtype", args.dtype)
    second = run(content, out_root / "cuda-b", "--device", args.device, "--dtype", args.dtype)
    cached = run(content, out_root / "cuda-a", "--device", args.device, "--dtype", args.dtype)
    cpu = run(content, out_root / "cpu", "--device", "cpu")
    a, b = frames(out_root / "cuda-a"), frames(out_root / "cuda-b")
    same = sum(a[k] == b[k] for k in a)
    print(f"{args.device} {args.dtype}: run 1 {first:.1f} s, run 2 {second:.1f} s, cached rerun {cached:.1f} s, cpu float32 {cpu:.1f} s")
    print(f"{args.device} run 1 vs run 2: {same}/{len(a)} frames byte-identical")

    def px(data):
        return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.int16)

    # frames are matched by name within runs of the same prompt/seed (keys differ by dtype)
    def by_run(out):
        result = {}
        for run_json in (out).glob("*/run.json"):
            meta = json.loads(run_json.read_text())
            result[(meta["prompt"], meta["seed"])] = run_json.parent
        return result

    ga, gc = by_run(out_root / "cuda-a"), by_run(out_root / "cpu")
    worst, mean = 0, []
    for key, folder in ga.items():
        for frame in sorted(folder.glob("*.webp")):
            d = np.abs(px(frame.read_bytes()) - px((gc[key] / frame.name).read_bytes()))
            worst = max(worst, int(d.max()))
            mean.append(float(d.mean()))
    print(f"{args.device} {args.dtype} vs cpu float32: mean abs pixel difference {np.mean(mean):.2f}, max {worst} (0-255)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
