"""Math renderers side by side: Temml in V8 (what unsmudge ships) against math-core (Rust, in-process).

    python benchmarks/math_renderers.py           # needs `pip install math-core`; not a dependency of unsmudge

A first build with math spends most of its extra time in Temml (`build_speed.py`), so this measures what a
faster renderer would give: for the formula corpus (tests/fixtures/math, with its course macros) and for
the formulas of `build_speed.py`'s 500-lesson course, how many formulas each renderer accepts and its CPU
time per formula, warm (the best of --rounds passes over the same formulas; Temml's V8 warmed by all of them;
for Temml, the CPU of the engine's process, Node, from /proc, so Linux only), and Temml's start (Node started,
Temml loaded, one formula typeset). The corpus' formulas are taken from its lessons by unsmudge's own
markdown, as a build finds them. How the output
looks is not measured here (docs/benchmarks.md says how it was compared).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import sys
import time
from pathlib import Path

from build_speed import ROOT, math_section

sys.path.insert(0, str(ROOT))

from unsmudge.course import read_course  # noqa: E402
from unsmudge.formulas import COMPATIBLE_MACROS, Engine, Formula  # noqa: E402
from unsmudge.markdown import LessonRenderer  # noqa: E402

CORPUS = ROOT / "tests" / "fixtures" / "math"


def corpus() -> tuple[list[Formula], dict[str, str]]:
    """The corpus' formulas, once each, and its macros (\\name -> TeX, with unsmudge's compatibility ones)."""
    course, problems = read_course(CORPUS)
    assert course is not None and not problems, problems
    renderer = LessonRenderer(CORPUS, set(course.by_id), course.config.math.macros)
    found = [f for lesson in course.lessons for f in renderer.draft(lesson).formulas]
    macros = {**COMPATIBLE_MACROS, **{f"\\{k}": v for k, v in course.config.math.macros.items()}}
    return list(dict.fromkeys(found)), macros


def synthetic(lessons: int = 500) -> list[Formula]:
    """build_speed.py's math case: ten formulas a lesson, a hundred in the first, none shared."""
    text = "".join(math_section(n * 10 if n else 100_000, copies=10 if n == 0 else 1) for n in range(lessons))
    inline = [Formula(t, False) for t in re.findall(r"(?<!\$)\$([^$\n]+)\$(?!\$)", text)]
    display = [Formula(t.strip(), True) for t in re.findall(r"\$\$\n(.+?)\n\$\$", text, flags=re.S)]
    return inline + display


def engine_cpu(engine: Engine) -> float:
    """CPU seconds the engine's process has used, all its threads (V8 compiles and collects on its own)."""
    fields = Path(f"/proc/{engine.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def start_temml() -> tuple[Engine, float]:
    """(Node with Temml loaded, CPU seconds it took: starting Node, loading Temml, typesetting one formula)."""
    engine = Engine()
    engine.typeset(json.dumps([["x", False]]), "{}")
    return engine, engine_cpu(engine)


def time_temml(engine: Engine, formulas: list[Formula], macros: dict[str, str], rounds: int) -> tuple[int, float]:
    """(accepted, warm CPU seconds per formula)."""
    text, known = json.dumps([[f.tex, f.display] for f in formulas]), json.dumps(macros)
    best, answers = float("inf"), []
    for _ in range(rounds):
        begin = engine_cpu(engine)
        answers = json.loads(engine.typeset(text, known))
        best = min(best, engine_cpu(engine) - begin)
    return sum(ok for ok, _ in answers), best / len(formulas)


def time_math_core(formulas: list[Formula], macros: dict[str, str], rounds: int) -> tuple[int, float]:
    """(accepted, warm CPU seconds per formula)."""
    import math_core

    converter = math_core.LatexToMathML(macros={name[1:]: body for name, body in macros.items()})
    best, accepted = float("inf"), 0
    for _ in range(rounds):
        begin, accepted = time.process_time(), 0
        for f in formulas:
            try:
                converter.convert_with_local_state(f.tex, displaystyle=f.display)
                accepted += 1
            except math_core.LatexError:
                pass
        best = min(best, time.process_time() - begin)
    return accepted, best / len(formulas)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if importlib.util.find_spec("math_core") is None:
        print("math-core is not installed: pip install math-core", file=sys.stderr)
        return 2
    context, started = start_temml()
    print(f"Temml's start (Node, Temml's script, one formula): {started * 1000:.0f} ms of CPU")
    formulas, macros = corpus()
    cases = {"corpus (tests/fixtures/math)": (formulas, macros),
             "build_speed.py, 500 lessons": (synthetic(), dict(COMPATIBLE_MACROS))}
    print(f"{'formulas':32} {'count':>6} {'Temml accepts':>14} {'math-core accepts':>18}"
          f" {'Temml us':>9} {'math-core us':>13} {'ratio':>6}")
    for name, (found, known) in cases.items():
        t_ok, t_each = time_temml(context, found, known, args.rounds)
        m_ok, m_each = time_math_core(found, known, args.rounds)
        print(f"{name:32} {len(found):6d} {t_ok:14d} {m_ok:18d} {t_each * 1e6:9.1f} {m_each * 1e6:13.1f}"
              f" {t_each / m_each:5.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
