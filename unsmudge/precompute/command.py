"""`unsmudge precompute` (also `python -m unsmudge.precompute`, `accelerate launch -m unsmudge.precompute`).

Torch-free at import and on the cached path: the CLI imports this module to register the subcommand,
and a rerun with nothing to do plans the runs, finds every `run.json`, and answers without loading
torch or a model. Only when work remains is `unsmudge.precompute.compute` (torch, diffusers) imported.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from unsmudge.contract import (LIVE_PREFIX, DemoSpec, ModelIdentity, Run, RunRecord, find_live_for, find_results,
                               live_exports, load_demos, model_source, plan_runs)
from unsmudge.precompute import export
from unsmudge.precompute.checks import check_model, model_warnings
from unsmudge.precompute.store import clean_stale, remove_folder
from unsmudge.precompute.weights import model_folder, model_identity
from unsmudge.problems import Problem, ProblemsFound, display_path, report

DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPES = ("auto", "float32", "float16", "bfloat16")
CHILD_ENV = "UNSMUDGE_PRECOMPUTE_CHILD"


def decode_batch(text: str) -> str | int:
    """--decode-batch: "auto" or a whole number of latents, 1 or more."""
    if text == "auto":
        return text
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not 'auto' or a number of 1 or more")
    return int(text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--content", type=Path, default=Path("content"), metavar="DIR",
                        help="the course folder with demos/*.toml (default: content)")
    parser.add_argument("--out", type=Path, default=Path("build"), metavar="DIR",
                        help="where run folders go (default: build)")
    parser.add_argument("--demo", action="append", metavar="ID",
                        help="only this demo (repeatable); default: every demo")
    parser.add_argument("--device", choices=DEVICES, default="auto",
                        help="auto: cuda, else mps, else cpu")
    parser.add_argument("--dtype", choices=DTYPES, default="auto",
                        help="auto: float16 on cuda/mps, float32 on cpu (part of each run's key)")
    parser.add_argument("--force", action="store_true", help="recompute runs that are already done")
    parser.add_argument("--processes", type=int, default=1, metavar="N",
                        help="split the runs over N processes (one per GPU, or CPU workers); "
                             "the same as `accelerate launch --num_processes N -m unsmudge.precompute ...`")
    parser.add_argument("--threads", type=int, default=0, metavar="N",
                        help="CPU threads per process (default: one per core); CPU bytes are reproducible "
                             "for the same thread count")
    parser.add_argument("--decode-batch", type=decode_batch, default="auto", metavar="N",
                        help="latents per VAE call after the denoising loop; auto (default): as many as fit, "
                             "at most 16 (GPU: in its free memory; CPU: in a fixed budget, so that the bytes do "
                             "not depend on the machine); halved on GPU out-of-memory")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m unsmudge.precompute",
                                     description="Run the course's diffusion demos and keep every step.")
    add_arguments(parser)
    return run(parser.parse_args(argv))


def _rank() -> int:
    return int(os.environ.get("RANK", "0") or 0)


def is_main() -> bool:
    return _rank() == 0


def say(*parts, err: bool = False) -> None:
    if is_main() and not os.environ.get(CHILD_ENV):
        print(*parts, file=sys.stderr if err else sys.stdout, flush=True)


def run(args: argparse.Namespace) -> int:
    """Plan, report, compute what is missing. Returns the exit status; user mistakes exit 1, no traceback."""
    try:
        return _run(args)
    except ProblemsFound as err:
        if is_main():
            print(report(err.problems, "nothing was written"), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("precompute: interrupted; finished runs are kept, the rest is redone next time", file=sys.stderr)
        return 130


def dtype_for(dtype: str, device_type: str) -> str | None:
    """The dtype runs compute in: --dtype, or for auto float16 on a GPU (cuda, mps) and float32 on the CPU.
    None while the device is "auto" (only torch can tell which it is)."""
    if dtype != "auto":
        return dtype
    return {"cpu": "float32", "cuda": "float16", "mps": "float16"}.get(device_type)


@dataclass
class Plan:
    """What precompute will do: the demos, their runs (shared runs once), the model each demo loads."""

    demos: dict[str, DemoSpec]
    by_demo: dict[str, list[Run]]  # every run of each demo, shared ones included
    runs: list[Run]  # each run once: a run two demos share is listed under the first
    todo: list[Run]
    identities: dict[str, ModelIdentity]
    absent: set[str]  # demos whose local model is not on this machine (their runs are all finished)

    def summary(self, demo_id: str) -> str:
        """'3 run(s), 1 to do', and which demo computes the runs this one shares."""
        mine = self.by_demo[demo_id]
        todo = {r.spec_hash for r in self.todo}
        owner = {r.spec_hash: r.demo for r in self.runs}
        text = f"{len(mine)} run(s), {sum(r.spec_hash in todo for r in mine)} to do"
        shared = [r for r in mine if owner[r.spec_hash] != demo_id]
        if shared:
            others = ", ".join(sorted({owner[r.spec_hash] for r in shared}))
            text += f" ({len(shared)} shared with {others}, computed once)"
        return text


def plan(args) -> Plan:
    """Every run and the runs still to do; raises ProblemsFound for bad specs or models."""
    content = Path(args.content)
    if not content.is_dir():
        raise ProblemsFound([Problem(display_path(content), "", "no such folder",
                                     "run from the folder that holds the course, or pass --content DIR")])
    demos = load_demos(content)  # none without a demos/ folder: then there is nothing to do
    if args.demo:
        unknown = [d for d in args.demo if d not in demos]
        if unknown:
            known = ", ".join(sorted(demos)) or "none"
            raise ProblemsFound([Problem(display_path(content / "demos"), "", f"no demo '{d}' (known: {known})",
                                         f"use one of the ids, i.e. a file name in {display_path(content / 'demos')}")
                                 for d in unknown])
        demos = {d: demos[d] for d in sorted(set(args.demo))}
    # A hub model's identity is its pinned commit, so its configs are read (online, or from the cache) only
    # when it has runs to do: a finished course precomputes offline without that cache.
    hub = {d for d, spec in demos.items() if model_source(spec.model, spec.revision) == "hub"}
    by_demo = {demo_id: plan_runs(demo_id, spec) for demo_id, spec in demos.items()}
    # A local model that is not on this machine (a CI checkout with content/ and build/) is fine when every
    # run of its demo is finished: its identity is the one those runs recorded.
    absent = {d: identity for d in set(demos) - hub
              if not model_folder(demos[d], content).exists()
              and (identity := finished_identity(Path(args.out), by_demo[d])) is not None}
    problems = []
    for demo_id, spec in demos.items():
        if demo_id not in hub and demo_id not in absent:
            problems += check_model(demo_file(content, demo_id), spec, content)
        elif demo_id in hub and spec.draw:  # the live mode exports from a local folder only
            problems += export.check(spec, content, display_path(demo_file(content, demo_id)))
    if problems:
        raise ProblemsFound(problems)
    identities = {demo_id: absent.get(demo_id) or model_identity(spec, content) for demo_id, spec in demos.items()}
    for demo_id in sorted(absent):
        say(f"  {demo_id}: model '{demos[demo_id].model}' is not here; its runs in {display_path(args.out)}/ "
            "are all finished, so they are kept")
    unique: dict[str, Run] = {}
    for run in (run for runs in by_demo.values() for run in runs):
        unique.setdefault(run.spec_hash, run)  # two demos with the same pixels share one folder, computed once
    runs = list(unique.values())
    dtype = dtype_for(args.dtype, args.device)
    out = Path(args.out)
    if args.force:
        todo = list(runs)
    elif dtype is not None:
        todo = [r for r in runs if RunRecord.read(out / r.key(identities[r.demo], dtype)) is None]
    else:  # --dtype auto on --device auto: any finished dtype of the same spec and weights counts as done
        found = find_results(out) if out.is_dir() else {}
        todo = [r for r in runs if not any(record.model.digest() == identities[r.demo].digest()
                                           for _, record in found.get(r.spec_hash, []))]
    waiting = {r.demo for r in todo}
    problems = [p for d in sorted(hub & waiting) for p in check_model(demo_file(content, d), demos[d], content)]
    if problems:
        raise ProblemsFound(problems)
    for demo_id in sorted(set(demos) - (hub - waiting) - set(absent)):
        for warning in model_warnings(demo_file(content, demo_id), demos[demo_id], content):
            say(f"warning: {warning}", err=True)
    return Plan(demos, by_demo, runs, todo, identities, set(absent))


def finished_identity(out: Path, runs: list[Run]) -> ModelIdentity | None:
    """The model identity every run in `runs` was finished with, or None if one is missing or they differ."""
    found = find_results(out) if out.is_dir() else {}
    identities = {record.model for run in runs for _, record in found.get(run.spec_hash, [])}
    if len(identities) != 1 or not all(run.spec_hash in found for run in runs):
        return None
    return identities.pop()


def demo_file(content: Path, demo_id: str) -> Path:
    return content / "demos" / f"{demo_id}.toml"


def prune_superseded(out: Path, plan: Plan) -> list[Path]:
    """Remove the runs of planned specs that were made from other weights than the model's current ones,
    once the current run exists: the build stage, which has no weights, then finds one answer."""
    found = find_results(out) if out.is_dir() else {}
    removed = []
    for run in plan.runs:
        current = plan.identities[run.demo].digest()
        results = found.get(run.spec_hash, [])
        if not any(record.model.digest() == current for _, record in results):
            continue
        for folder, record in results:
            if record.model.digest() != current:
                remove_folder(folder)
                removed.append(folder)
    return removed


def _run(args) -> int:
    started = time.monotonic()
    if args.processes < 1:
        raise ProblemsFound([Problem("command line", "--processes", f"{args.processes} processes",
                                     "give 1 or more")])
    planned = plan(args)
    demos, runs, todo = planned.demos, planned.runs, planned.todo
    if not demos:
        say(f"precompute: no demos in {display_path(Path(args.content) / 'demos')}/; nothing to do")
        return 0
    out = Path(args.out)
    shown_out = display_path(out)
    say(f"precompute: {len(demos)} demo(s), {len(runs)} run(s): {len(todo)} to do, "
        f"{len(runs) - len(todo)} cached")
    for demo_id in demos:
        say(f"  {demo_id}: {planned.summary(demo_id)}")
    if is_main() and not os.environ.get(CHILD_ENV):
        clean_stale(out)  # temp folders of killed runs (their process is gone)
    if not todo:
        _prune(out, planned)
        export_live(args, planned)
        say(f"precompute: everything is cached; results are in {shown_out}/ ({time.monotonic() - started:.1f} s); "
            f"next: {_next_step(args)}")
        return 0
    compute = diffusion_stack(len(todo))  # a clear message when torch is missing, on every path
    if args.processes > 1 and not os.environ.get(CHILD_ENV) and "WORLD_SIZE" not in os.environ:
        status = spawn(args)
    else:
        status = compute(args, demos, todo, planned.identities)
    if status == 0:
        _prune(out, planned)
        export_live(args, planned)
        say(f"precompute: done, {len(todo)} run(s) computed in {time.monotonic() - started:.1f} s; "
            f"results are in {shown_out}/ (one folder per run, each with run.json); next: {_next_step(args)}")
    return status


def _next_step(args) -> str:
    """The build command that reads these results: what a new author types after precompute."""
    options = [f"--content {display_path(args.content)}"] if args.content != Path("content") else []
    options += [f"--frames {display_path(args.out)}"] if args.out != Path("build") else []
    return " ".join(["unsmudge build", *options])


def _prune(out: Path, planned: Plan) -> None:
    if is_main() and not os.environ.get(CHILD_ENV):
        for folder in prune_superseded(out, planned):
            say(f"  removed {display_path(folder)}: made from earlier weights of its model")


def export_live(args, planned: Plan) -> None:
    """The model of each demo with `draw = true`, exported for the page (build/live-<key>/, export.py) unless
    it is there; then older exports of the same model and settings are removed, as superseded runs are."""
    if not is_main() or os.environ.get(CHILD_ENV):
        return
    content, out = Path(args.content), Path(args.out)
    for demo_id, spec in planned.demos.items():
        if not spec.draw:
            continue
        identity = planned.identities[demo_id]
        if demo_id in planned.absent:  # a checkout without the model: keep what is there
            if find_live_for(out, identity, spec) is None:
                raise ProblemsFound([Problem(display_path(demo_file(content, demo_id)), "key 'draw'",
                                             f"the live mode needs the model '{spec.model}' to export it, and it "
                                             "is not here", "run precompute where the model is, or remove draw")])
            continue
        started = time.monotonic()
        before = {p.name for p in out.glob(f"{LIVE_PREFIX}*")}
        shown = display_path(demo_file(content, demo_id))
        try:
            folder = export.export(spec, content, out, shown)
        except ModuleNotFoundError as err:
            if (err.name or "").split(".")[0] not in STACK | set(export.EXPORTERS):
                raise
            raise ProblemsFound([Problem(shown, "key 'draw'", f"the live mode's export needs the package "
                                         f"'{err.name}', which is not installed",
                                         "pip install 'unsmudge[precompute]'")]) from None
        how = "cached" if folder.name in before else f"exported in {time.monotonic() - started:.1f} s"
        say(f"  {demo_id}: live mode -> {display_path(folder)}/ ({how})")
        for old in prune_live(out, folder, identity, spec):
            say(f"  removed {display_path(old)}: an earlier export of the same model")


def prune_live(out: Path, current: Path, identity: ModelIdentity, spec: DemoSpec) -> list[Path]:
    """The other exports of this model with this spec's settings (another exporter version, older captions),
    removed."""
    removed = []
    for folder, _ in live_exports(out, identity, spec):
        if folder != current:
            remove_folder(folder)
            removed.append(folder)
    return removed


STACK = {"torch", "diffusers", "transformers", "accelerate", "safetensors", "PIL", "tqdm", "scipy"}


def diffusion_stack(runs: int):
    """`compute`, which imports torch, diffusers and accelerate: only when work remains."""
    try:
        from unsmudge.precompute.compute import compute
    except ModuleNotFoundError as err:
        if (err.name or "").split(".")[0] not in STACK:
            raise
        raise ProblemsFound([Problem("precompute", "", f"{runs} run(s) to compute, but the diffusion stage's "
                                     f"package '{err.name}' is not installed",
                                     "pip install 'unsmudge[precompute]' (install torch first for a CPU-only build)")]
                            ) from None
    return compute


def child_argv(args) -> list[str]:
    argv = ["--content", str(args.content), "--out", str(args.out), "--device", args.device,
            "--dtype", args.dtype, "--decode-batch", str(args.decode_batch), "--threads", str(args.threads)]
    for demo in args.demo or []:
        argv += ["--demo", demo]
    if args.force:
        argv.append("--force")
    return argv


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def spawn(args) -> int:
    """Start N copies of `python -m unsmudge.precompute` as one torch.distributed group (what `accelerate launch`
    or torchrun would set up on one machine), wait for all, stop the rest if one fails."""
    n = args.processes
    if args.device in ("auto", "cuda"):
        import torch  # work remains, so torch is needed anyway

        gpus = torch.cuda.device_count()
        if gpus and n > gpus:
            raise ProblemsFound([Problem("command line", "--processes", f"{n} processes but {gpus} GPU(s)",
                                         f"use --processes {gpus} (one per GPU), or --device cpu")])
    port = str(_free_port())
    children = []
    for rank in range(n):
        env = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=port, WORLD_SIZE=str(n), RANK=str(rank),
                   LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(n), **{CHILD_ENV: "1"})
        children.append(subprocess.Popen([sys.executable, "-m", "unsmudge.precompute", *child_argv(args)], env=env))
    status = 0
    try:
        pending = list(children)
        while pending:
            for child in list(pending):
                code = child.poll()
                if code is None:
                    continue
                pending.remove(child)
                if code and not status:
                    status = code
                    for other in pending:  # a group with a dead member would wait forever
                        other.terminate()
            time.sleep(0.1)
    except KeyboardInterrupt:
        for child in children:
            child.terminate()
        raise
    return status
