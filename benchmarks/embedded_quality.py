"""Does the embedded model draw what it is asked? Top-1/top-5 retrieval accuracy, exact and natural prompts.

    python benchmarks/embedded_quality.py [--model models/emoji64] [--device cpu] [--guidance 7.5 ...]

For 50 captions drawn at random (seed 0) from the whole caption set, and for the natural prompts in
`models/quality.py`, one image each (DDIM, 25 trailing steps, seed 0); every training picture is ranked by
pixel distance to it. Baseline for the ratios: chance (1/1362 for top-1, 5/1362 for top-5).
Writes contact sheets (each prompt's image above its nearest training picture) and a strip of the
denoising steps for three prompts into --sheets.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from diffusers import DiffusionPipeline  # noqa: E402
from PIL import Image  # noqa: E402

from models import EMBEDDED_MODEL, data, quality  # noqa: E402


def contact_sheet(images: np.ndarray, nearest: np.ndarray, path: Path, columns: int = 16) -> None:
    pairs = [np.concatenate([a, b]) for a, b in zip(images, nearest)]  # generated above nearest
    pairs += [np.full_like(pairs[0], 255)] * (-len(pairs) % columns)
    rows = [np.concatenate(pairs[i:i + columns], axis=1) for i in range(0, len(pairs), columns)]
    Image.fromarray(np.concatenate(rows)).save(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=EMBEDDED_MODEL)
    parser.add_argument("--data", type=Path, default=Path(data.__file__).parent / ".data")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--guidance", type=float, nargs="+", default=[quality.GUIDANCE])
    parser.add_argument("--count", type=int, default=50, help="exact captions to sample")
    parser.add_argument("--sheets", type=Path, default=Path("benchmarks/results"),
                        help="folder for the contact sheets")
    args = parser.parse_args()
    if not (args.data / "emoji.json").exists():
        data.save(args.data)
    emoji, pictures = data.load(args.data)
    pipe = DiffusionPipeline.from_pretrained(args.model, local_files_only=True, use_safetensors=True).to(args.device)
    pipe.set_progress_bar_config(disable=True)
    torch.set_num_threads(os.cpu_count() or 1)
    args.sheets.mkdir(parents=True, exist_ok=True)
    suites = {"exact captions": quality.sample_captions(emoji, args.count),
              "natural prompts": list(quality.NATURAL_PROMPTS.items())}
    print(f"model {args.model} on {args.device}; {len(emoji)} training pictures; "
          f"chance: top-1 {1 / len(emoji):.2%}, top-5 {5 / len(emoji):.2%}")
    strip = quality.denoising_strip(pipe, ["rocket", "a red heart", "octopus"])
    Image.fromarray(strip).save(args.sheets / "strip.webp", quality=85)
    for guidance in args.guidance:
        for suite, cases in suites.items():
            start = time.perf_counter()
            top1, top5, images, found = quality.evaluate(pipe, emoji, pictures, cases, guidance)
            seconds = time.perf_counter() - start
            print(f"guidance {guidance:>4}: {suite:<15} n={len(cases):>3}  top-1 {top1:6.1%}  top-5 {top5:6.1%}"
                  f"  ({top1 * len(emoji):.0f}x chance)  {seconds:.1f}s")
            misses = [prompt for (prompt, _), rank in zip(cases, found) if rank >= 5]
            if misses:
                print(f"    not in top-5: {', '.join(misses)}")
            nearest = pictures[quality.distances(images, pictures).argmin(dim=1).numpy()]
            name = suite.replace(" ", "-")
            contact_sheet(images, nearest, args.sheets / f"quality-{name}-g{guidance:g}.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
