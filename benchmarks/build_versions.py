"""Build speed of two versions of unsmudge, run in turns on the same synthetic courses.

    python benchmarks/build_versions.py ../old-checkout                  # that checkout against this one
    python benchmarks/build_versions.py ../old --sizes 500 --rounds 6 --cases first rebuild

On a shared or throttled machine the same build's time swings by a third from one minute to the next, so
two versions timed minutes apart (as `build_speed.py` would) cannot be compared. Here each round builds the
course once with each version, in a random order, and the medians and minimums of many rounds are compared:
the drift hits both alike. Courses are `build_speed.py`'s (ten formulas a lesson in the math cases). Cases:
`first` (each version's formula store emptied before every build), `rebuild` (the store its last build
filled), `nomath`, `new` (store and output folder removed: a first build with no site before it, as in CI);
all but `new` build over the site the version's last build left. Each version runs from the command line in
a fresh process (`python -m unsmudge.cli`, with the checkout first on PYTHONPATH), its modules compiled to
bytecode first. Prints, per case, each version's wall and CPU time (the process and its children), then
baseline / this as a ratio (above 1: this checkout is faster).
"""

from __future__ import annotations

import argparse
import compileall
import os
import random
import statistics
import sys
import tempfile
from pathlib import Path

from build_speed import ROOT, timed, write_unsmudge


def build_once(checkout: Path, course: Path, store: Path, out: Path, case: str) -> tuple[float, float]:
    """(wall, CPU) seconds of one build by the unsmudge in `checkout`."""
    command = [sys.executable, "-m", "unsmudge.cli", "build", "--content", str(course / "unsmudge"),
               "--frames", str(course / "frames"), "--out", str(out)]
    return timed(command, course, store, case in ("first", "new"), env={"PYTHONPATH": str(checkout)},
                 gone=out if case == "new" else None)


def compare(versions: dict[str, Path], course: Path, case: str, rounds: int) -> None:
    walls = {name: [] for name in versions}
    cpus = {name: [] for name in versions}
    for _ in range(rounds):
        for name in random.sample(list(versions), len(versions)):
            wall, cpu = build_once(versions[name], course, course / f"store-{name}", course / f"site-{name}", case)
            walls[name].append(wall)
            cpus[name].append(cpu)
    for name in versions:
        print(f"  {name:>8}: wall median {statistics.median(walls[name]):.3f} s, min {min(walls[name]):.3f} s;"
              f" CPU median {statistics.median(cpus[name]):.2f} s")
    base, this = (statistics.median(walls[name]) for name in versions)
    print(f"  baseline / this, median wall: {base / this:.3f}  (load {os.getloadavg()[0]:.1f})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("baseline", type=Path, help="a checkout of the version to compare against")
    parser.add_argument("--sizes", type=int, nargs="+", default=[42, 500])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--cases", nargs="+", choices=["first", "rebuild", "nomath", "new"],
                        default=["first", "rebuild", "nomath"])
    args = parser.parse_args()
    versions = {"baseline": args.baseline.resolve(), "this": ROOT}
    for checkout in versions.values():
        if not (checkout / "unsmudge" / "cli.py").is_file():
            sys.exit(f"{checkout} is not a checkout of unsmudge (no unsmudge/cli.py)")
        compileall.compile_dir(checkout / "unsmudge", quiet=1)
    print(f"baseline: {versions['baseline']}\nthis:     {ROOT}")
    with tempfile.TemporaryDirectory() as temp:
        for size in args.sizes:
            for case in args.cases:
                course = Path(temp) / f"{size}-{case}"
                write_unsmudge(course, size, math=case != "nomath")
                (course / "frames").mkdir()
                print(f"\n{size} lessons, {case}, {args.rounds} rounds:")
                compare(versions, course, case, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
