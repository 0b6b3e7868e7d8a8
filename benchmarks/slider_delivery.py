"""Slider delivery at Stable Diffusion scale: this delivery against two baselines, side by side, in Chromium.

    python benchmarks/slider_delivery.py                    # 512 and 1024 px, 50 steps, 8 prompts, 2 networks
    python benchmarks/slider_delivery.py --sizes 512 --networks 20
    python benchmarks/slider_delivery.py --fidelity         # only the format/quality table (size against SSIM)

Frames. No Stable Diffusion weights can be fetched here, so each prompt's run is made from a real photograph
(scikit-image's sample pictures, 8 of them, cropped square and resized) as the finished picture, and
Stable Diffusion's own noise schedule (scaled-linear betas, 50 DDIM steps, trailing): the image view is
sqrt(a) x_0' + sqrt(1 - a) n, the prediction view x_0' (the photo blurred by a radius that shrinks with the
noise, as real predictions sharpen), the forward view sqrt(a) x_0 + sqrt(1 - a) n2, the latent and noise views
at size / 8 px. The noise n is what a VAE makes of latent noise: octaves from the latent cell down to one
pixel with amplitudes measured on the embedded model's real VAE (0.32 at the cell, 0.23, 0.17, 0.13 per finer
octave), so frames carry the entropy of decoded noise, not of white pixel noise (which would be far costlier).

Three deliveries of the same frames, each served by a local HTTP server and opened in a fresh Chromium
context with the network throttled through CDP (Network.emulateNetworkConditions: 20 Mbit/s down and 40 ms
round trip; and 5 Mbit/s):
- **unsmudge**: this delivery (`unsmudge build` of run folders packed by precompute's own `SheetPacker`);
- **today**: the delivery before issue 10 (one WebP q90 file per step and view, 4 views, all loaded before
  the slider unlocks), its partial and slider.js taken from git at `--today` (default 610cfdb);
- **explainer**: Diffusion Explainer's way: one JPEG q70 per step and view, fetched when the slider shows it.

Measured per delivery: time to the first frame on screen, to a scrubbable image view (explainer: every image
frame shown once, on demand), to every view, requests and bytes per run, the page's peak memory (renderer and
GPU processes, unique set size, above an empty page), and the worst time from a slider input (a mouse drag
across the range, started as soon as the image view can be scrubbed) to its frame on screen (the paint after
the frame is drawn). Needs: pip install scikit-image (the photos and SSIM); Chromium (`UNSMUDGE_CHROMIUM`).
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from unsmudge.contract import VIEWS, DemoSpec, ModelIdentity, RunRecord, load_demo, plan_runs  # noqa: E402
from unsmudge.precompute.store import RunWriter, SheetPacker, encode  # noqa: E402

CHROMIUM = os.environ.get("UNSMUDGE_CHROMIUM", "/usr/bin/chromium")
PHOTOS = ["astronaut", "chelsea", "coffee", "hubble_deep_field", "immunohistochemistry", "retina", "rocket",
          "motorcycle"]
NOISE_OCTAVES = (0.32, 0.23, 0.17, 0.13)  # latent cell, then each finer octave down to one pixel
TARGETS = {"first frame": 1.0, "image view": 2.5, "all views": 6.0, "requests/run": 5, "input to frame": 16.7}
CANDIDATES = [("avif", 40), ("avif", 50), ("avif", 60), ("webp", 50), ("webp", 60), ("webp", 70), ("webp", 90),
              ("jpeg", 70), ("webp", None)]


def alphas() -> np.ndarray:
    betas = np.linspace(0.00085**0.5, 0.012**0.5, 1000) ** 2
    return np.cumprod(1 - betas)


def trailing(steps: int) -> list[int]:
    return [round(1000 - k * 1000 / steps) - 1 for k in range(steps)] + [0]


def photo(name: str, size: int) -> np.ndarray:
    from skimage import data

    picture = data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(data, name)()
    h, w = picture.shape[:2]
    s = min(h, w)
    square = Image.fromarray(picture[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]).convert("RGB")
    return np.asarray(square.resize((size, size), Image.LANCZOS), np.float32) / 127.5 - 1


def vae_noise(rng, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(latent noise at size / 8, what a VAE makes of it at size), see the module's docstring."""
    cells = size // 8
    latent = rng.standard_normal((cells, cells, 3)).astype(np.float32)
    total = np.zeros((size, size, 3), np.float32)
    for octave, amplitude in enumerate(NOISE_OCTAVES):
        side = min(cells * 2**octave, size)
        grid = latent if octave == 0 else rng.standard_normal((side, side, 3)).astype(np.float32)
        if side != size:
            grid = np.stack([np.asarray(Image.fromarray(grid[..., c]).resize((size, size), Image.BICUBIC))
                             for c in range(3)], -1)
        total += amplitude * grid / grid.std()
    return latent, total


def to_image(array: np.ndarray) -> Image.Image:
    return Image.fromarray((np.clip(array, -1, 1) * 127.5 + 127.5).round().astype(np.uint8))


def trajectory(name: str, size: int, steps: int, seed: int = 0) -> tuple[list[int], dict[str, list[Image.Image]]]:
    """A run's frames for every view (see the module's docstring)."""
    rng = np.random.default_rng(seed)
    clean = photo(name, size)
    small = photo(name, size // 8)
    latent_noise, noise = vae_noise(rng, size)
    _, forward_noise = vae_noise(rng, size)
    schedule = alphas()
    timesteps = trailing(steps)
    views: dict[str, list[Image.Image]] = {view: [] for view in VIEWS}
    clean8 = Image.fromarray(((clean + 1) * 127.5).astype(np.uint8))
    for t in timesteps:
        a = float(schedule[t]) if t else 1.0
        keep, mix = a**0.5, (1 - a) ** 0.5
        radius = size / 16 * mix
        guess = clean if radius < 0.3 else np.asarray(clean8.filter(ImageFilter.GaussianBlur(radius)), np.float32) / 127.5 - 1
        views["prediction"].append(to_image(guess))
        views["image"].append(to_image(keep * guess + mix * noise))
        views["forward"].append(to_image(keep * clean + mix * forward_noise))
        views["latent"].append(to_image((keep * small * 1.5 + mix * latent_noise) / 2))
        views["noise"].append(to_image((latent_noise + 0.25 * keep * small) / 2 if t else 0 * small))
    return timesteps, views


# ---- fidelity: bytes against SSIM per view and candidate -------------------------------------------------

def fidelity(size: int, steps: int, prompts: int, every: int) -> dict:
    from skimage.metrics import structural_similarity

    table: dict[tuple, list] = {}
    for name in PHOTOS[:prompts]:
        _, views = trajectory(name, size, steps)
        for view, frames in views.items():
            sample = frames[::every] + [frames[-1]]
            for fmt, quality in CANDIDATES:
                if view in ("latent", "noise") and fmt == "avif" and quality == 40:
                    continue
                for frame in sample:
                    data = encode(frame, fmt, quality)
                    back = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
                    score = structural_similarity(np.asarray(frame), back, channel_axis=2, data_range=255)
                    table.setdefault((view, fmt, quality), []).append((len(data), score))
    return table


def print_fidelity(table: dict) -> None:
    print("\nFidelity per view: mean bytes per frame, SSIM against the lossless frame (mean, worst frame)")
    print(f"{'view':<11} {'format':<14} {'KB/frame':>9} {'SSIM mean':>10} {'worst':>7}  vs JPEG q70")
    for view in VIEWS:
        base = table[(view, "jpeg", 70)]
        base_mean, base_min = statistics.mean(s for _, s in base), min(s for _, s in base)
        best = None
        for fmt, quality in CANDIDATES:
            rows = table.get((view, fmt, quality))
            if not rows:
                continue
            kb = statistics.mean(b for b, _ in rows) / 1024
            mean, worst = statistics.mean(s for _, s in rows), min(s for _, s in rows)
            ok = mean >= base_mean and worst >= base_min
            if ok and (best is None or kb < best[0]):
                best = (kb, fmt, quality)
            label = f"{fmt} {'lossless' if quality is None else 'q' + str(quality)}"
            print(f"{view:<11} {label:<14} {kb:9.1f} {mean:10.4f} {worst:7.4f}  {'>=' if ok else '< '}")
        print(f"{view:<11} smallest at least as faithful as JPEG q70: {best[1]} q{best[2]} ({best[0]:.1f} KB/frame)\n")


# ---- the three deliveries ---------------------------------------------------------------------------------

def write_runs(args, work: Path, size: int) -> Path:
    """Frames of every prompt in three forms: unsmudge run folders, today's files, the explainer's JPEGs."""
    spec_text = (f'title = "Stable Diffusion scale"\nmodel = "./model"\nsteps = {args.steps}\nsize = {size}\n'
                 f'prompts = {json.dumps(PHOTOS[:args.prompts])}\n')
    root = work / f"{size}"
    done = root / "done"  # the frames are kept between runs of the script; the sites are built every time
    if done.exists():
        return build_sites(args, root)
    shutil.rmtree(root, ignore_errors=True)
    (root / "content" / "demos").mkdir(parents=True)
    (root / "content" / "lessons").mkdir()
    (root / "content" / "demos" / "sd.toml").write_text(spec_text)
    (root / "content" / "lessons" / "demo.md").write_text(
        '+++\ntitle = "Demo"\nmodule = 1\ntrack = "t"\n+++\n\n```demo\nsd\n```\n')
    (root / "content" / "course.toml").write_text(
        'title = "Bench"\nlessons = ["demo"]\n\n[[tracks]]\nid = "t"\ntitle = "T"\n')
    spec = load_demo(root / "content" / "demos" / "sd.toml")
    jobs = [(run, spec, root) for run in plan_runs("sd", spec)]
    with ProcessPoolExecutor(args.jobs) as pool:
        for line in pool.map(_write_run, jobs):
            print("  " + line, flush=True)
    done.write_text("")
    return build_sites(args, root)


def build_sites(args, root: Path) -> Path:
    spec = load_demo(root / "content" / "demos" / "sd.toml")
    shutil.rmtree(root / "site" / "unsmudge", ignore_errors=True)
    build = subprocess.run([sys.executable, "-m", "unsmudge.cli", "build", "--content", str(root / "content"),
                            "--frames", str(root / "frames"), "--out", str(root / "site" / "unsmudge")],
                           capture_output=True, text=True, env=dict(os.environ, SOURCE_DATE_EPOCH="315532800"))
    if build.returncode:
        sys.exit(build.stdout + build.stderr)
    _today_page(args, root, spec)
    _explainer_page(root, spec)
    return root


def _write_run(job) -> str:
    run, spec, root = job
    started = time.monotonic()
    timesteps, views = trajectory(run.prompt, spec.size, spec.steps, run.seed)
    record = RunRecord.new(run, ModelIdentity(id="./model", revision="sha256:" + "0" * 64), "DDIMScheduler", spec,
                           "float16", "cuda", timesteps, spec.size // 8)
    with RunWriter(root / "frames", record.key) as writer:
        packer = SheetPacker(record, writer)
        for view in VIEWS:
            for i, frame in enumerate(views[view]):
                packer.add(view, i, frame)
        writer.commit(record)
    today = root / "site" / "today" / "frames" / run.prompt
    explainer = root / "site" / "explainer" / "frames" / run.prompt
    today.mkdir(parents=True)
    explainer.mkdir(parents=True)
    for view, frames in views.items():
        for i, frame in enumerate(frames):
            if view != "noise":  # today's delivery has no noise view
                (today / f"{view}-{i:03d}.webp").write_bytes(encode(frame, "webp", 90))
            (explainer / f"{view}-{i:03d}.jpg").write_bytes(encode(frame, "jpeg", 70))
    return f"{spec.size} px '{run.prompt}': {time.monotonic() - started:.0f} s"


def _today_page(args, root: Path, spec: DemoSpec) -> None:
    import jinja2

    def show(path: str) -> str:
        return subprocess.run(["git", "-C", str(ROOT), "show", f"{args.today}:{path}"], capture_output=True,
                              text=True, check=True).stdout

    site = root / "site" / "today"
    (site / "slider.js").write_text(show("templates/static/js/slider.js"))
    (site / "slider.css").write_text(show("templates/static/css/slider.css"))
    timesteps = trailing(spec.steps)
    runs = [{"prompt": p, "seed": 0, "guidance": 7.5,
             "steps": [{"t": t, **{v: f"frames/{p}/{v}-{i:03d}.webp" for v in ("image", "prediction", "latent", "forward")}}
                       for i, t in enumerate(timesteps)]} for p in PHOTOS[:args.prompts]]
    demo = {"id": "sd", "title": "Stable Diffusion scale", "description": "", "model": "", "runs": runs,
            "json": json.dumps({"id": "sd", "runs": runs}, separators=(",", ":"))}
    partial = jinja2.Environment().from_string(show("templates/partials/demo.html")).render(demo=demo)
    (site / "index.html").write_text(PAGE.format(head='<link rel="stylesheet" href="slider.css">'
                                                 '<script src="slider.js" defer></script>', body=partial))


def _explainer_page(root: Path, spec: DemoSpec) -> None:
    site = root / "site" / "explainer"
    data = {"t": trailing(spec.steps), "prompts": PHOTOS[:len(list((site / "frames").iterdir()))]}
    body = ('<section data-demo="sd"><select id="prompt">'
            + "".join(f"<option>{p}</option>" for p in data["prompts"])
            + '</select><img id="frame" width="512" height="512" alt=""><input id="range" type="range" min="0" '
            f'max="{spec.steps}" value="0">' + "".join(f'<label><input type="radio" name="v" value="{v}"'
                                                      f'{" checked" if v == "image" else ""}>{v}</label>' for v in VIEWS)
            + f'</section><script>window.DATA = {json.dumps(data)};</script><script src="explainer.js"></script>')
    (site / "explainer.js").write_text(EXPLAINER_JS)
    (site / "index.html").write_text(PAGE.format(head="", body=body))


PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>bench</title>{head}</head>
<body>{body}</body></html>"""

# Diffusion Explainer's way: the slider rewrites one <img src> per input; nothing is fetched ahead.
EXPLAINER_JS = """(function () {
  var img = document.getElementById('frame'), range = document.getElementById('range');
  var select = document.getElementById('prompt'), view = 'image';
  function show() { img.src = 'frames/' + select.value + '/' + view + '-' + String(range.value).padStart(3, '0') + '.jpg'; }
  range.addEventListener('input', show);
  select.addEventListener('change', show);
  document.querySelectorAll('input[name=v]').forEach(function (r) {
    r.addEventListener('change', function () { view = r.value; show(); });
  });
  show();
})();
"""

# ---- measuring in Chromium ----------------------------------------------------------------------------------

class Quiet(SimpleHTTPRequestHandler):
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, ".webp": "image/webp", ".avif": "image/avif",
                      ".js": "text/javascript"}

    def log_message(self, *args):
        pass


def serve(folder: Path) -> ThreadingHTTPServer:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


class Memory:
    """Peak unique memory of Chromium's renderer and GPU processes, sampled every 50 ms."""

    def __init__(self):
        import psutil

        self.psutil = psutil
        self.peak = 0
        self.running = False

    def now(self) -> int:
        total = 0
        for proc in self.psutil.Process().children(recursive=True):
            try:
                line = " ".join(proc.cmdline())
                if "--type=renderer" in line or "--type=gpu-process" in line:
                    total += proc.memory_full_info().uss
            except (self.psutil.Error, OSError):
                pass
        return total

    def __enter__(self):
        self.running = True
        self.peak = self.now()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while self.running:
            self.peak = max(self.peak, self.now())
            time.sleep(0.05)

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()


# In the page: the time (ms since navigation) when each condition first held, polled every animation frame.
WATCH = """(conds) => { window.__times = {};
  for (const [name, cond] of Object.entries(conds)) {
    const f = () => { if (eval(cond)) window.__times[name] = performance.now(); else requestAnimationFrame(f); };
    f();
  } }"""
WHEN = "(cond) => new Promise(done => { const f = () => { const v = eval(cond); if (v) done(performance.now()); else requestAnimationFrame(f); }; f(); })"
CONDITIONS = {
    "unsmudge": {"first frame": "(document.querySelector('[data-canvas]') || {}).dataset?.frame",
                 "image view": "(document.querySelector('[data-demo]') || {}).dataset?.state === 'ready'",
                 "all views": "((document.querySelector('[data-demo]') || {}).dataset?.loaded || '').split(' ').length === 5"},
    "today": {"first frame": "(i => i && i.complete && i.naturalWidth)(document.querySelector('[data-img]'))",
              "image view": "(document.querySelector('[data-demo]') || {}).dataset?.state === 'ready'",
              "all views": "(document.querySelector('[data-demo]') || {}).dataset?.state === 'ready'"},
    "explainer": {"first frame": "(i => i && i.complete && i.naturalWidth)(document.querySelector('#frame'))"},
}
# Input-to-frame: for each input on the range, the time from the event to the paint after its frame is drawn.
INSTRUMENT = """(kind) => {
  window.__lat = []; window.__late = 0; let frame = 0;
  (function tick() { frame++; requestAnimationFrame(tick); })();  // counts animation frames
  const range = document.querySelector('[data-range], #range');
  const painted = (t0) => requestAnimationFrame(() => { const ch = new MessageChannel();
      ch.port1.onmessage = () => window.__lat.push(performance.now() - t0); ch.port2.postMessage(0); });
  if (kind === 'unsmudge') {
    const slider = window.unsmudgeSlider.get(document.querySelector('[data-demo]'));
    let pending = null, at = 0;
    range.addEventListener('input', (e) => { pending = e.timeStamp; at = frame; }, true);
    // an input is late when its frame is drawn after the first animation frame that follows it
    slider.onDraw = () => { if (pending !== null) { const t0 = pending; pending = null; window.__late += frame - at > 1;
        const ch = new MessageChannel(); ch.port1.onmessage = () => window.__lat.push(performance.now() - t0);
        ch.port2.postMessage(0); } };
  } else {
    const img = document.querySelector('[data-img], #frame');
    range.addEventListener('input', (e) => { const t0 = e.timeStamp;
      requestAnimationFrame(() => { if (img.complete) painted(t0); else img.addEventListener('load', () => painted(t0), {once: true}); });
    });
  }
}"""


def measure(browser, url: str, kind: str, steps: int, network: float, files_of_run: set[str], sizes: dict) -> dict:
    # the measuring scripts below use eval, which the site's Content-Security-Policy rightly forbids
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(600_000)
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": False})
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 40,
                                                   "downloadThroughput": network * 1e6 / 8,
                                                   "uploadThroughput": 5e6 / 8})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto("about:blank")
    memory = Memory()
    base = memory.now()
    result = {}
    with memory:
        page.goto(url, wait_until="commit")
        page.evaluate(WATCH, CONDITIONS[kind])
        # the learner starts scrubbing as soon as the image view can be scrubbed (the explainer: at once)
        page.wait_for_function("(n) => window.__times && window.__times[n]",
                               arg="first frame" if kind == "explainer" else "image view", polling=50)
        page.evaluate(INSTRUMENT, kind)
        range_box = page.locator("[data-range], #range").first.bounding_box()
        y = range_box["y"] + range_box["height"] / 2
        # drag across the whole range, as a learner scrubs, one mouse move per step
        page.mouse.move(range_box["x"] + 2, y)
        page.mouse.down()
        for k in range(steps + 1):
            page.mouse.move(range_box["x"] + 2 + (range_box["width"] - 4) * k / steps, y)
            if kind == "explainer":  # on demand: the learner waits for each frame before moving on
                page.evaluate(WHEN, "document.querySelector('#frame').complete")
        page.mouse.up()
        if kind == "explainer":
            result["image view"] = page.evaluate("performance.now()")
            for view in VIEWS[1:]:
                page.locator(f"input[value={view}]").check()
                for k in range(steps + 1):
                    page.evaluate("(k) => { const r = document.querySelector('#range'); r.value = k;"
                                  " r.dispatchEvent(new Event('input')); }", k)
                    page.evaluate(WHEN, "document.querySelector('#frame').complete")
            result["all views"] = page.evaluate("performance.now()")
        else:
            page.wait_for_function("() => window.__times['all views']", polling=50)
        page.wait_for_timeout(300)
        latencies = page.evaluate("window.__lat")
        late = page.evaluate("window.__late")
        result.update(page.evaluate("window.__times"))
    asked = [u for u in requests if any(u.endswith("/" + f) for f in files_of_run)]
    result = {k: v / 1000 for k, v in result.items()}
    result["requests/run"] = len(asked)
    result["MB/run"] = sum(sizes[f] for f in files_of_run) / 1e6
    result["input to frame"] = max(latencies) if latencies else float("nan")
    result["median input"] = statistics.median(latencies) if latencies else float("nan")
    if kind == "unsmudge":  # the others draw when their picture has loaded, not in a frame of their own
        result["inputs drawn a frame late"] = late
    result["memory MB"] = (memory.peak - base) / 1e6
    context.close()
    return result


def run_files(root: Path, kind: str, steps: int) -> tuple[set[str], dict[str, int]]:
    """The site paths of the first prompt's files, and every file's size."""
    site = root / "site" / kind
    sizes = {p.relative_to(site).as_posix(): p.stat().st_size for p in site.rglob("*") if p.is_file()}
    if kind == "unsmudge":
        html = (site / "demo.html").read_text()
        data = json.loads(html.split('id="demo-data-sd">', 1)[1].split("</script>", 1)[0].replace("\\u003c", "<"))
        run = data["runs"][0]
        return {run["poster"], *[s for v in run["views"].values() for s in v["sheets"]]}, sizes
    prefix = f"frames/{PHOTOS[0]}/"
    return {f for f in sizes if f.startswith(prefix)}, sizes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--prompts", type=int, default=8, choices=range(1, 9))
    parser.add_argument("--networks", type=float, nargs="+", default=[20, 5], help="Mbit/s down (40 ms RTT)")
    parser.add_argument("--today", default="610cfdb", help="the git revision whose delivery is 'today'")
    parser.add_argument("--work", type=Path, default=Path("/tmp/unsmudge-slider-bench"), help="kept between runs")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--fidelity", action="store_true", help="only the format/quality table")
    parser.add_argument("--fidelity-prompts", type=int, default=2)
    parser.add_argument("--fidelity-every", type=int, default=5, help="every n-th frame (and the last)")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"load {os.getloadavg()[0]:.1f}; {args.steps} steps, {args.prompts} prompts", flush=True)
    if args.fidelity:
        print_fidelity(fidelity(args.sizes[0], args.steps, args.fidelity_prompts, args.fidelity_every))
        return 0
    from playwright.sync_api import sync_playwright

    results = []
    for size in args.sizes:
        print(f"writing {size} px runs into {args.work} ...", flush=True)
        root = write_runs(args, args.work, size)
        httpd = serve(root / "site")
        port = httpd.server_address[1]
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM)
                for network in args.networks:
                    for kind, page in (("unsmudge", "demo.html"), ("today", "index.html"), ("explainer", "index.html")):
                        files, sizes = run_files(root, kind, args.steps)
                        got = measure(browser, f"http://127.0.0.1:{port}/{kind}/{page}", kind, args.steps, network,
                                      files, sizes)
                        results.append((size, network, kind, got))
                        print(f"  {size} px, {network:g} Mbit/s, {kind}: " + ", ".join(
                            f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in got.items()), flush=True)
                browser.close()
        finally:
            httpd.shutdown()
    print_table(results)
    return 0


def print_table(results) -> None:
    keys = ["first frame", "image view", "all views", "requests/run", "MB/run", "memory MB", "input to frame",
            "median input"]
    units = {"first frame": "s", "image view": "s", "all views": "s", "input to frame": "ms", "median input": "ms"}
    print("\n| size | network | delivery | " + " | ".join(f"{k} ({units.get(k, '')})".replace(" ()", "") for k in keys)
          + " |")
    print("|---" * (3 + len(keys)) + "|")
    for size, network, kind, got in results:
        print(f"| {size} px | {network:g} Mbit/s | {kind} | " + " | ".join(
            f"{got[k]:.2f}" if isinstance(got[k], float) else str(got[k]) for k in keys) + " |")
    print("\nTargets at 512 px, 20 Mbit/s: " + ", ".join(f"{k} {'<=' if k == 'requests/run' else '<'} {v}"
                                                       for k, v in TARGETS.items())
          + "; fewer MB/run than explainer")
    for size, network, kind, got in results:
        if kind != "unsmudge":
            continue
        base = next(g for s, n, k, g in results if (s, n, k) == (size, network, "explainer"))
        today = next(g for s, n, k, g in results if (s, n, k) == (size, network, "today"))
        print(f"{size} px, {network:g} Mbit/s: bytes {got['MB/run'] / base['MB/run']:.2f}x the explainer's, "
              f"{got['MB/run'] / today['MB/run']:.2f}x today's; requests {got['requests/run']} against "
              f"{base['requests/run']} and {today['requests/run']}; image view {base['image view'] / got['image view']:.1f}x "
              f"sooner than the explainer, {today['image view'] / got['image view']:.1f}x sooner than today")


if __name__ == "__main__":
    sys.exit(main())
