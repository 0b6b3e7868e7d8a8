"""Build speed: unsmudge against MkDocs + Material for MkDocs, side by side, on the same synthetic course.

    python benchmarks/build_speed.py            # 42 and 500 lessons, with and without math; prints ratios
    python benchmarks/build_speed.py --sizes 42 --repeat 1 --no-math

Both tools build the same lessons (admonitions, details, tabs, cards, highlighted code, footnotes,
a table, a diagram fence, links with anchors to other lessons) from the command line in a fresh
process, so start-up counts for both; the best of --repeat runs is kept, the tools taken in turns
(MkDocs, then unsmudge, round after round) so that a machine whose speed drifts weighs on both alike.
Also measured: `serve`'s re-render after editing one lesson of the largest course, and the flagship
page's weight (HTML + CSS + JS, gzipped, frames aside). MkDocs is not a dependency of unsmudge; install it
into the same venv with
    pip install mkdocs mkdocs-material pymdown-extensions

The math case gives every lesson ten formulas (seven inline, three display, each lesson's its own) and
the first lesson a hundred. unsmudge typesets them at build time; MkDocs-Material, as its documentation
sets it up, wraps them with arithmatex and KaTeX renders them in the browser (KaTeX comes from the npm
registry: `npm pack katex`, so npm is needed for that half). unsmudge is timed three times: a first build (its
formula store emptied before each run, so Temml typesets every formula in V8), a rebuild (the store
filled by the build before: V8 is not started), and "first, new": store and output folder both removed first.
Every tool but the last builds over the site its previous run left, as an author rebuilding does: MkDocs
empties that folder and writes every file, unsmudge hard-links the files it holds with the same bytes. Each
run starts once the disk has every write before it (`os.sync`). Each row ends with the 1-minute load average
after it.
Besides build times it compares, for the first lesson, the page weight (what the browser fetched, gzipped
where a server would) and the time from navigation to rendered math in headless Chromium (Playwright;
`UNSMUDGE_CHROMIUM`, default /usr/bin/chromium), best of --repeat cold loads from a local HTTP server.
unsmudge's modules are compiled to bytecode first, as pip compiles MkDocs' when it installs it.
"""

from __future__ import annotations

import argparse
import compileall
import gzip
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TRACKS = ["foundations", "generative", "practice"]
BODY = """
Lesson {n} builds on [the previous lesson]({prev}.md#the-idea) and sets up the next one.
Read it once for the idea, then again for the details.[^why]

## The idea

A network of layers turns numbers into other numbers. In this lesson, layer {n} takes the output of
the layer before it and keeps only what the next layer needs: compression is understanding.

!!! note "Why this matters"
    Every generative model in this course compresses first and generates second. Keep an eye on
    the shapes: they tell you what the model can and cannot remember.

??? tip "A hint for the exercise"
    Start from the smallest example you can check by hand.

=== "Diffusion"

    Add a little static, then learn to remove it. Repeat a thousand times.

=== "VAE"

    Squeeze the picture into a small latent, then blow it back up.

=== "CLIP"

    Turn the words into a direction the denoiser can follow.

## Working it out

```python
import numpy as np

def step(x, t, model):
    noise = model(x, t)          # predict the noise in x at time t
    return x - noise / (t + 1)   # take one small step towards the picture
```

| step | what changes | cost |
|------|--------------|------|
| encode | pixels to latent | once |
| denoise | latent to latent | many times |
| decode | latent to pixels | once |

```pipeline
# The pipeline of lesson {n}
Prompt -> Text encoder -> Denoiser -> Decoder -> Picture
```

<div class="cards" markdown>

- **Encoder**: squeezes the input into a few numbers
- **Decoder**: rebuilds the input from those numbers
- **Loss**: how far the copy is from the original

</div>

## Check yourself

1. What does the bottleneck force the network to learn?
2. Why is the noise added in the latent space and not on the pixels?
3. What would happen with no bottleneck at all?

More words to make the page as long as a real lesson: the forward process is fixed and needs no
training, the reverse process is learned, and the two meet at every timestep. {filler}

[^why]: Each lesson is short on purpose: one idea, one demo, one check.
"""


# the math case: {n} is the lesson number, so no two lessons share a formula
INLINE = [r"$\theta_{t+1} = \theta_t - \eta \nabla_\theta \mathcal{L}_{{n}}$", r"$\beta_{{n}} = 10^{-4}$",
          r"$p(x_{{n}} \mid z)$", r"$\sigma(z) = 1 / (1 + e^{-{n} z})$", r"$W \in \mathbb{R}^{{n} \times d}$",
          r"$\hat{y}_{{n}} = \operatorname{softmax}(W h)_k$",
          r"$\mathbb{E}_{q}[\log p(x_{{n}} \mid z)] - D_{\mathrm{KL}}(q \,\|\, p)$"]
DISPLAY = [r"q(\mathbf{x}_t \mid \mathbf{x}_0) = \mathcal{N}\left(\sqrt{\bar\alpha_t}\,\mathbf{x}_0, "
           r"(1 - \bar\alpha_t)\mathbf{I}\right), \quad t = {n}",
           r"\operatorname{Attention}(Q, K, V) = \operatorname{softmax}\left(\frac{Q K^\top}{\sqrt{d_{{n}}}}\right) V",
           r"\begin{aligned} m_t &= \beta_1 m_{t-1} + (1 - \beta_1) g_t \\ "
           r"\theta_t &= \theta_{t-1} - \eta_{{n}} \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon} \end{aligned}"]


def math_section(n: int, copies: int = 1) -> str:
    """Ten formulas per copy, numbered from n."""
    parts = []
    for k in range(n, n + copies):
        inline = [f.replace("{n}", str(k)) for f in INLINE]
        parts.append(f"\n## Formulas {k}\n\nThe update {inline[0]} with {inline[1]}, a likelihood {inline[2]}, "
                     f"a gate {inline[3]}, weights {inline[4]}, a prediction {inline[5]} and a bound {inline[6]}.\n")
        parts += [f"\n$$\n{f.replace('{n}', str(k))}\n$$\n" for f in DISPLAY]
    return "".join(parts)


def lessons(count: int):
    for n in range(count):
        yield f"lesson-{n:03d}", n


def body(n: int, math: bool = False) -> str:
    prev = f"lesson-{max(n - 1, 0):03d}"
    filler = " ".join(["The latent is small, so every step is cheap."] * 12)
    text = BODY.format(n=n, prev=prev, filler=filler)
    return text + (math_section(n * 10 if n else 100_000, copies=10 if n == 0 else 1) if math else "")


def write_unsmudge(root: Path, count: int, math: bool = False) -> Path:
    content = root / "unsmudge"
    (content / "lessons").mkdir(parents=True)
    ids = [i for i, _ in lessons(count)]
    tracks = "".join(f'[[tracks]]\nid = "{t}"\ntitle = "{t.title()}"\n' for t in TRACKS)
    (content / "course.toml").write_text(
        f'title = "Synthetic course"\nbase_url = "https://example.org/c/"\nlessons = {ids!r}\n{tracks}'
        .replace("'", '"'))
    for lesson_id, n in lessons(count):
        front = (f'+++\ntitle = "Lesson {n}"\nmodule = {n}\nkicker = "Layer {n}"\nsubtitle = "Part {n}"\n'
                 f'track = "{TRACKS[n * len(TRACKS) // count]}"\ncovers = ["one idea", "one check"]\n'
                 + (f'prerequisites = ["lesson-{n - 1:03d}"]\n' if n else "") + "+++\n")
        (content / "lessons" / f"{lesson_id}.md").write_text(front + body(n, math))
    return content


# Material for MkDocs' documented KaTeX set-up (docs/reference/math.md), with KaTeX served from the site
KATEX_INIT = """document$.subscribe(({ body }) => {
  renderMathInElement(body, {
    delimiters: [
      { left: "$$",  right: "$$",  display: true },
      { left: "$",   right: "$",   display: false },
      { left: "\\\\(", right: "\\\\)", display: false },
      { left: "\\\\[", right: "\\\\]", display: true }
    ],
  })
})
"""


def katex_dist(work: Path) -> Path | None:
    """KaTeX's dist/ folder from the npm registry (`npm pack`), or None without npm."""
    npm = shutil.which("npm")
    if npm is None:
        return None
    done = subprocess.run([npm, "pack", "katex@0.16", "--silent"], cwd=work, capture_output=True, text=True)
    if done.returncode:
        return None
    import tarfile

    with tarfile.open(work / done.stdout.strip().splitlines()[-1]) as archive:
        archive.extractall(work / "katex", filter="data")
    return work / "katex" / "package" / "dist"


def write_mkdocs(root: Path, count: int, math: bool = False, katex: Path | None = None) -> Path:
    project = root / "mkdocs"
    (project / "docs").mkdir(parents=True)
    nav = {t: [] for t in TRACKS}
    for lesson_id, n in lessons(count):
        (project / "docs" / f"{lesson_id}.md").write_text(f"# Lesson {n}\n" + body(n, math))
        nav[TRACKS[n * len(TRACKS) // count]].append(f"      - Lesson {n}: {lesson_id}.md")
    (project / "docs" / "index.md").write_text("# Synthetic course\n")
    nav_text = "\n".join(f"  - {t.title()}:\n" + "\n".join(items) for t, items in nav.items())
    math_config = ""
    if math:
        math_config = "  - pymdownx.arithmatex:\n      generic: true\n"
        if katex:
            shutil.copytree(katex, project / "docs" / "katex")
            (project / "docs" / "katex-init.js").write_text(KATEX_INIT)
            math_config += ("extra_javascript:\n  - katex-init.js\n  - katex/katex.min.js\n"
                            "  - katex/contrib/auto-render.min.js\nextra_css:\n  - katex/katex.min.css\n")
    (project / "mkdocs.yml").write_text(f"""site_name: Synthetic course
site_url: https://example.org/c/
theme:
  name: material
  features: [navigation.sections]
plugins: [search]
markdown_extensions:
  - admonition
  - attr_list
  - md_in_html
  - footnotes
  - tables
  - toc:
      permalink: true
  - pymdownx.details
  - pymdownx.highlight
  - pymdownx.superfences
  - pymdownx.tabbed:
      alternate_style: true
{math_config}nav:
  - index.md
{nav_text}
""")
    return project


def timed(command: list[str], cwd: Path, store: Path | None = None, cold: bool = False,
          env: dict[str, str] | None = None, gone: Path | None = None) -> tuple[float, float]:
    """(wall, CPU) seconds of one run; CPU time counts forked workers. `store`: unsmudge's formula store
    (UNSMUDGE_CACHE), emptied first when `cold`; `env`: more of the environment; `gone`: a folder removed
    first (the output, for a build with no site before it)."""
    env = {**os.environ, **(env or {}), **({"UNSMUDGE_CACHE": str(store)} if store else {})}
    if cold:
        shutil.rmtree(store, ignore_errors=True)
    if gone:
        shutil.rmtree(gone, ignore_errors=True)
    os.sync()  # the last run's writes and the removals above reach the disk before, not during, this run
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def best_in_turns(repeat: int, runs: dict[str, tuple]) -> dict[str, tuple[float, float]]:
    """Each run's (best wall, best CPU) of `repeat`, the runs taken in turns (one of each per round), so that
    a machine slowing down or speeding up meanwhile weighs on every tool alike. `runs`: name -> timed's
    arguments."""
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, arguments in runs.items():
            results[name].append(timed(*arguments))
    return {name: (min(w for w, _ in times), min(c for _, c in times)) for name, times in results.items()}


def rebuild_ms(content: Path, frames: Path) -> tuple[float, float, int]:
    """serve's path: gather once, then re-render one edited lesson (median of 7 edits); and the search
    index serve remakes lazily after an edit (median ms, bytes)."""
    from unsmudge.site import Builder, Options

    builder = Builder(Options(content=content, frames=frames))
    builder.gather()
    lessons = sorted((content / "lessons").glob("*.md"))
    path = lessons[len(lessons) // 2]
    original, times, index_times = path.read_text(), [], []
    for k in range(7):
        path.write_text(original.replace("Read it once", f"Read it {k} times"))
        started = time.perf_counter()
        assert builder.rerender_lesson(path) is not None
        times.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        index = builder.search_index()
        index_times.append((time.perf_counter() - started) * 1000)
    path.write_text(original)
    return statistics.median(times), statistics.median(index_times), len(index)


def flagship_weight(work: Path) -> tuple[int, int, list[tuple[str, int]]]:
    """(page + CSS + JS gzipped, lazily loaded search gzipped, parts) for the sample course's flagship page."""
    from unsmudge.site import Builder, Options

    content, frames = ROOT / "content", ROOT / "build"
    if not list((content / "demos").glob("*.toml")) or not frames.is_dir():
        # no precomputed frames here: use fake ones of the same shape (their bytes are not counted anyway)
        from tests.fakeframes import fake_frames
        from tests.fakelive import fake_live_exports

        copy = work / "content"
        shutil.copytree(content, copy)
        (copy / "demos").mkdir(exist_ok=True)
        (copy / "demo-model").mkdir()
        (copy / "demo-model" / "weights.bin").write_text("stand-in")
        if not (copy / "demos" / "emoji-diffusion.toml").exists():
            (copy / "demos" / "emoji-diffusion.toml").write_text(
                'title = "From static to emoji"\nmodel = "./demo-model"\nsteps = 25\n'
                'prompts = ["rocket", "dog face", "pizza"]\n')
        content, frames = copy, work / "frames"
        for spec in (copy / "demos").glob("*.toml"):
            spec.write_text(re.sub(r'^model = .*$', 'model = "./demo-model"', spec.read_text(), flags=re.M)
                            .replace("revision", "# revision"))
            fake_frames(copy, frames, spec.stem)
        fake_live_exports(copy, frames)  # a demo with draw = true: what precompute would export (not counted)
    files = Builder(Options(content=content, frames=frames)).gather()
    page = files["vae-stable-diffusion.html"]
    html = page.decode()
    parts = [("vae-stable-diffusion.html", len(gzip.compress(page, 9)))]
    for url in re.findall(r'(?:href|src)="(assets/[^"]+\.(?:css|js))"', html):
        parts.append((url, len(gzip.compress(files[url], 9))))
    lazy = sum(len(gzip.compress(files[url], 9)) for url in re.findall(r'data-(?:lunr|index)="([^"]+)"', html))
    return sum(size for _, size in parts), lazy, parts


def compare_sizes(args, work: Path, unsmudge: list[str], mkdocs: str, math: bool, katex: Path | None) -> None:
    """Build times side by side. With math, unsmudge runs twice over: with its formula store emptied before
    each build (a first build: every formula typeset by Temml in V8) and with the store a previous build
    filled (a rebuild: V8 not started)."""
    print(f"\n{'math, ten formulas a lesson' if math else 'no math'}:")
    print(f"{'lessons':>8} {'unsmudge':>16} {'mkdocs-material':>16} {'ratio':>7}  target"
          f"    CPU time: {'unsmudge':>9} {'mkdocs':>8} {'ratio':>6}")
    for count in args.sizes:
        root = work / f"{count}{'-math' if math else ''}"
        content, project = write_unsmudge(root, count, math), write_mkdocs(root, count, math, katex)
        build = unsmudge + ["build", "--content", str(content), "--frames", str(root / "frames"),
                            "--out", str(root / "site")]
        store = root / "formula-store"
        turns = {"mkdocs": ([mkdocs, "build", "-q", "-f", str(project / "mkdocs.yml"), "-d", str(root / "mkdocs-site")],
                            root),
                 "first build" if math else "": (build, root, store, True)}
        if math:
            turns["rebuild"] = (build, root, store)  # the store the first build just filled
            # no store and no site: unsmudge hard-links the files a site it replaces holds already (MkDocs
            # empties its output and writes every file), so the rows above write only what changed
            bare = [*build[:-1], str(root / "new-site")]
            turns["first, new"] = (bare, root, root / "new-store", True, None, root / "new-site")
        best = best_in_turns(args.repeat, turns)
        theirs = best.pop("mkdocs")
        target = 2 if count < 100 else 5
        for label, ours in best.items():
            ratio = theirs[0] / ours[0]
            print(f"{count:>8} {label:>11} {ours[0]:>4.2f}s {theirs[0]:>15.2f}s {ratio:>6.1f}x  >= {target}x "
                  f"{'met   ' if ratio >= target else 'MISSED'}            {ours[1]:>8.2f}s {theirs[1]:>7.2f}s "
                  f"{theirs[1] / ours[1]:>5.1f}x  load {os.getloadavg()[0]:.1f}")


TEXT_TYPES = (".html", ".css", ".js", ".svg", ".json", ".txt")
UNSMUDGE_READY = "document.readyState === 'complete' && document.fonts.status === 'loaded'"
KATEX_READY = ("document.fonts.status === 'loaded' && document.querySelectorAll('.arithmatex').length > 0 && "
               "[...document.querySelectorAll('.arithmatex')].every(e => e.querySelector('.katex'))")


def math_page(repeat: int, root: Path, path: str, ready: str) -> tuple[float, int, int]:
    """(ms from navigation to rendered math, best of `repeat` cold loads; bytes fetched, as a server would
    send them: text gzipped; requests) for the page at `path` under `root`, served on 127.0.0.1."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    from playwright.sync_api import sync_playwright

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    times, fetched = [], set()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=os.environ.get("UNSMUDGE_CHROMIUM", "/usr/bin/chromium"))
            for _ in range(repeat):
                # a cold cache each time; the waiting predicate is evaluated, which a strict CSP forbids
                context = browser.new_context(bypass_csp=True)
                page = context.new_page()
                page.on("requestfinished", lambda request: fetched.add(request.url))
                page.goto(base + path, wait_until="commit")
                page.wait_for_function(ready, timeout=60_000, polling="raf")
                times.append(page.evaluate("performance.now()"))
                context.close()
            browser.close()
    finally:
        server.shutdown()
    weight = 0
    for url in fetched:
        data = (root / url.removeprefix(base).split("#")[0]).read_bytes()
        weight += len(gzip.compress(data, 6)) if url.endswith(TEXT_TYPES) else len(data)
    return min(times), weight, len(fetched)


def compare_math_page(args, work: Path) -> None:
    count = max(args.sizes)
    root = work / f"{count}-math"
    ours = math_page(args.repeat, root / "site", "lesson-000.html", UNSMUDGE_READY)
    theirs = math_page(args.repeat, root / "mkdocs-site", "lesson-000/index.html", KATEX_READY)
    print("\nthe first lesson (110 formulas) in Chromium, cold cache, from 127.0.0.1:")
    print(f"  time to rendered math: unsmudge {ours[0]:.0f} ms, MkDocs-Material + KaTeX {theirs[0]:.0f} ms "
          f"({theirs[0] / ours[0]:.1f}x)")
    print(f"  page weight (text gzipped): unsmudge {ours[1] / 1024:.0f} KB in {ours[2]} requests, "
          f"MkDocs-Material + KaTeX {theirs[1] / 1024:.0f} KB in {theirs[2]} requests")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[42, 500])
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool and size; the best counts")
    parser.add_argument("--no-math", action="store_true", help="leave out the math case")
    args = parser.parse_args()
    mkdocs = shutil.which("mkdocs", path=str(Path(sys.executable).parent)) or shutil.which("mkdocs")
    if mkdocs is None:
        sys.exit("MkDocs is not installed; for the side-by-side run:\n"
                 f"    {sys.executable} -m pip install mkdocs mkdocs-material pymdown-extensions")
    unsmudge = [sys.executable, "-m", "unsmudge.cli"]
    # MkDocs runs from the bytecode pip compiled when it installed it; unsmudge's editable checkout gets the
    # same, or every run under PYTHONDONTWRITEBYTECODE=1 (set on this project's machines) compiles its source
    compileall.compile_dir(ROOT / "unsmudge", quiet=1)
    env_note = (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
                f"Python {platform.python_version()}")
    print(f"machine: {env_note}")
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as temp:
        work = Path(temp)
        os.environ["UNSMUDGE_CACHE"] = str(work / "formula-store")  # builds in this process: not the user's store
        compare_sizes(args, work, unsmudge, mkdocs, False, None)
        if not args.no_math:
            katex = katex_dist(work)
            compare_sizes(args, work, unsmudge, mkdocs, True, katex)
            if katex is None:
                print("(npm is missing: no KaTeX for MkDocs, so no page comparison)")
            else:
                compare_math_page(args, work)
        largest = max(args.sizes)
        ms, index_ms, index_bytes = rebuild_ms(work / str(largest) / "unsmudge", work / str(largest) / "frames")
        print(f"\nserve: re-render after editing one lesson of {largest}: {ms:.1f} ms (target < 50 ms: "
              f"{'met' if ms < 50 else 'MISSED'}); its search index, remade when next asked for: "
              f"{index_ms:.1f} ms, {index_bytes / 1e6:.1f} MB")
        total, lazy, parts = flagship_weight(work)
        print(f"flagship page, HTML + CSS + JS gzipped: {total / 1024:.1f} KB (target < 60 KB: "
              f"{'met' if total < 60 * 1024 else 'MISSED'}); search, loaded on first use: {lazy / 1024:.1f} KB")
        for name, size in parts:
            print(f"    {size / 1024:6.1f} KB  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
