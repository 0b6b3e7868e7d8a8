"""Writing a built site: into an empty place against over the same site, side by side.

    python benchmarks/site_writing.py                 # 500 lessons, 15 rounds
    python benchmarks/site_writing.py --lessons 42 --rounds 30

`write_site` hard-links each file the output it replaces already holds byte for byte (it reads it to be sure)
instead of writing it again. This times `write_site` with the files of `build_speed.py`'s synthetic course
(ten formulas a lesson), gathered once in memory: the baseline writes into a folder that does not exist yet (every
file written, as in a first build), the other over the site the last round left (every file unchanged, as
when a course is rebuilt without edits). The two take turns in a random order, so a drifting machine weighs on
both; each round's time includes the swap and removing the site replaced. Prints medians and their ratio.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from build_speed import ROOT, write_unsmudge

sys.path.insert(0, str(ROOT))
from unsmudge.site import Builder, Options, write_site  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lessons", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="unsmudge-writing-") as work:
        work = Path(work)
        content = write_unsmudge(work / "course", args.lessons, math=True)
        files = Builder(Options(content=content, frames=work / "course" / "frames")).gather()
        size = sum(len(data) if isinstance(data, bytes) else data.stat().st_size for data in files.values())
        print(f"{len(files)} files, {size / 1e6:.1f} MB ({args.lessons} lessons)")
        write_site(files, work / "over")
        times: dict[str, list[float]] = {"into an empty place": [], "over the same site": []}
        for _ in range(args.rounds):
            for case in random.sample(sorted(times), len(times)):
                out = work / ("empty" if case == "into an empty place" else "over")
                shutil.rmtree(work / "empty", ignore_errors=True)
                started = time.perf_counter()
                write_site(files, out)
                times[case].append(time.perf_counter() - started)
        for case, seconds in times.items():
            print(f"  {case:>20}: median {statistics.median(seconds) * 1000:6.1f} ms, "
                  f"min {min(seconds) * 1000:6.1f} ms")
        ratio = statistics.median(times["into an empty place"]) / statistics.median(times["over the same site"])
        print(f"  empty / same site, median: {ratio:.2f}x")


if __name__ == "__main__":
    main()
