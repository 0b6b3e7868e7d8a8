"""Moving real public courses in: `unsmudge import`, then a strict build, on pinned commits.

    python benchmarks/import_real.py                          # every project below
    python benchmarks/import_real.py ml-zoomcamp --checkouts ~/src

Each project is a public repository at a pinned commit. It is cloned into --checkouts (default: a folder
in the temporary directory) unless a folder named `owner+name` is there already (a clone, or a copy of
the repository's files); nothing of theirs is committed here. For each project the script prints what
the import carried over (lessons, tracks, files copied into media/, notes on what it could not carry),
the time of the import and of the build, and the build's problems by kind, each counted as

- the source's own: the link names nothing in the source (MkDocs warns about these too), or a heading
  the page does not have;
- a gap: something in the source that the course does not show (a notebook page, a folder of code).

When the build has `--keep-going` (it writes the site despite problems), the written site is checked
too: raw TeX in the text, local references that name no file, anything loaded from another host.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from unsmudge.importer.command import import_course  # noqa: E402
from unsmudge.importer.pages import is_index  # noqa: E402
from unsmudge.problems import ProblemsFound  # noqa: E402
from unsmudge.site import Options, build  # noqa: E402


@dataclass
class Project:
    repo: str
    commit: str
    kind: str  # mkdocs | markdown
    what: str
    options: tuple[str, ...] = ()


PROJECTS = {
    "deep-learning": Project(
        "emptymalei/deep-learning", "6232a3dabe44f2d1fd098ffe013f32588f4eff48", "mkdocs",
        "Material for MkDocs notes on deep learning and time series: math, figures, nested sections, "
        "mkdocs-jupyter notebooks, bibtex"),
    "declk-blog": Project(
        "DeclK/blog", "228641499c952be46d8d86deeb083148b073092f", "mkdocs",
        "Material for MkDocs notes on LLMs and CUDA with the awesome-nav plugin's .nav.yml, math"),
    "ml-engineering": Project(
        "stas00/ml-engineering", "744d01e18b79512572f64a6bbd8b5f4a725203a7", "markdown",
        "a GitHub markdown book: a README.md per chapter folder, images, scripts",
        ("--source-url", "https://github.com/stas00/ml-engineering/tree/master")),
    "ml-zoomcamp": Project(
        "DataTalksClub/machine-learning-zoomcamp", "f9f043809be052b556dfc22ff42975a1d932bf94", "markdown",
        "a GitHub course: a folder per module, a markdown file per lesson, homework per cohort",
        ("--source-url", "https://github.com/DataTalksClub/machine-learning-zoomcamp/tree/master")),
}

# the build's messages, and what the written link or path is in each
KINDS = [
    ("link to a lesson", re.compile(r"broken link '([^']*)'")),
    ("link to a heading", re.compile(r"broken anchor '([^']*)'")),
    ("link or image to a file", re.compile(r"'([^']*)' (?:is not a file in|leaves) the content folder")),
    ("image from another host", re.compile(r"'([^']*)' would be loaded from another host")),
    ("absolute link", re.compile(r"link '([^']*)' is absolute")),
]
BLOCK_TAG = re.compile(r"</?(?:p|div|li|ul|ol|td|th|tr|table|h[1-6]|blockquote|details|summary|section|article)"
                       r"\b[^>]*>")
# raw TeX in a page's text: a pair of $$ around TeX (a lone "$$" is also prose's money, as in "how much $$ was
# spent"), \( or \[, or a $ hugging a formula
TEX = re.compile(r"\$\$[^$]*?[\\^_{}=][^$]*?\$\$|\\\(|\\\[|(?<![\\$\w])\$(?=\S)[^$\n<]+(?<=\S)\$(?!\w)")


def checkout(project: Project, checkouts: Path) -> Path:
    folder = checkouts / project.repo.replace("/", "+")
    if not folder.is_dir():
        checkouts.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "clone", "--quiet", f"https://github.com/{project.repo}", str(folder)], check=True)
        subprocess.run(["git", "-C", str(folder), "checkout", "--quiet", project.commit], check=True)
    return folder


def judge(problem, outline) -> tuple[str, str]:
    """(what, 'source' or 'gap') for one problem of the build."""
    for kind, pattern in KINDS:
        found = pattern.search(problem.message)
        if found:
            return judge_link(kind, found[1], problem, outline)
    return problem.message.split(":")[0], "gap"


def judge_link(kind: str, written: str, problem, outline) -> tuple[str, str]:
    if kind == "link to a heading":
        if written.partition("#")[2].startswith(("fn:", "fnref:")):
            return "footnote back-link the renderer makes for an unused or oddly named footnote", "gap"
        return "link to a heading the page does not have", "source"
    if kind in ("image from another host", "absolute link"):
        return kind, "gap"
    lesson = next(each for each in outline.lessons if problem.file.endswith(f"lessons/{each.id}.md"))
    named = what_it_names(written, lesson.page.rel, outline.source)
    return (f"{kind}: {named}", "gap") if named else (f"{kind} that names nothing in the source", "source")


def what_it_names(written: str, page: PurePosixPath, source) -> str:
    """What of the source a link names, read from the page's folder or, with MkDocs' directory URLs,
    from the page's address: a folder, a page in another format (a notebook), or '' for nothing."""
    path = unquote(urlsplit(written).path).rstrip("/")
    if not path or "://" in written:
        return ""
    folders = [page.parent] + ([page.parent / page.stem] if source.directory_urls and not is_index(page) else [])
    for folder in folders:
        target = (source.root / folder / path).resolve()
        if not target.is_relative_to(source.root.resolve()):
            continue  # above the site's root: broken wherever the site is not served from a domain's root
        if target.is_dir():
            return "a folder without a page"
        other = sorted(target.parent.glob(f"{target.name}.*")) if target.parent.is_dir() else []
        if target.exists() or other:
            return f"a {(other[0] if other else target).suffix} page the import does not carry"
    return ""


def check_site(site: Path) -> Counter:
    """What a learner would meet in the written site: raw TeX, missing files, remote loads."""
    found: Counter = Counter()
    for page in site.glob("*.html"):
        html = page.read_text(encoding="utf-8")
        text = re.sub(r"<(script|style|code|pre|svg|math)\b.*?</\1>", " ", html, flags=re.S)
        blocks = re.split(BLOCK_TAG, text)  # a formula does not run from one paragraph into the next
        found["pages with raw TeX"] += any(TEX.search(re.sub(r"<[^>]+>", " ", block)) for block in blocks)
        for ref in re.findall(r'<(?!base )[^>]*\b(?:src|href)="([^"#?]+)', html):
            if re.match(r"^(https?:|mailto:|data:)", ref):
                loaded = re.search(rf'<(img|script|link)\b[^>]*"{re.escape(ref)}', html)
                found["loads from another host"] += bool(loaded)
            elif not (site / unquote(ref)).is_file():
                found["references to no file"] += 1
    return found


def keep_going_available() -> bool:
    help_text = subprocess.run([sys.executable, "-m", "unsmudge.cli", "build", "--help"],
                               capture_output=True, text=True, cwd=ROOT).stdout
    return "--keep-going" in help_text


def run(name: str, project: Project, checkouts: Path, work: Path, keep_going: bool) -> None:
    folder = checkout(project, checkouts)
    content, site = work / name / "content", work / name / "site"
    exclude = ()
    started = time.perf_counter()
    options = dict(zip(project.options[::2], project.options[1::2]))
    outline, _ = import_course(project.kind, folder, content, force=True, exclude=exclude,
                               source_url=options.get("--source-url", ""))
    imported = time.perf_counter() - started
    notes = outline.source.notes
    media = sum(1 for p in (content / "media").rglob("*") if p.is_file()) if (content / "media").is_dir() else 0
    started = time.perf_counter()
    try:
        build(Options(content, work / name / "frames", site))
        problems = []
    except ProblemsFound as err:
        problems = err.problems
    built = time.perf_counter() - started
    judged = Counter(judge(p, outline) for p in problems)
    own = sum(n for (_, whose), n in judged.items() if whose == "source")
    print(f"\n## {name}: {project.repo} @ {project.commit[:12]}\n{project.what}\n")
    print(f"carried over: {sum(len(t.lessons) for t in outline.tracks)} lessons in {len(outline.tracks)} tracks, "
          f"{len(outline.drafts)} drafts, {media} files into media/; import {imported:.2f} s, build {built:.2f} s")
    print("not carried (import notes): " + (", ".join(f"{kind} {notes.count(kind)}" for kind in notes.kinds)
                                             or "nothing"))
    print(f"strict build: {len(problems)} problems, {own} the source's own, {len(problems) - own} gaps")
    for (kind, whose), count in sorted(judged.items(), key=lambda item: -item[1]):
        print(f"  {count:4d}  {kind} ({'the source' if whose == 'source' else 'gap'})")
    if problems and keep_going:
        subprocess.run([sys.executable, "-m", "unsmudge.cli", "build", "--content", str(content), "--frames",
                        str(work / name / "frames"), "--out", str(site), "--keep-going"], capture_output=True,
                       cwd=ROOT)
    if site.is_dir():
        checked = check_site(site)
        print("written site: " + ", ".join(f"{kind} {checked[kind]}" for kind in
                                           ("pages with raw TeX", "references to no file", "loads from another host")))
    else:
        print("written site: none (the strict build writes nothing while there are problems)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("projects", nargs="*", choices=[[], *PROJECTS], default=[], metavar="PROJECT",
                        help=f"some of: {', '.join(PROJECTS)} (default: all)")
    parser.add_argument("--checkouts", type=Path, default=Path(tempfile.gettempdir()) / "unsmudge-import-real",
                        help="where the repositories are cloned (or already are, as owner+name)")
    args = parser.parse_args()
    keep_going = keep_going_available()
    with tempfile.TemporaryDirectory() as work:
        for name in args.projects or PROJECTS:
            run(name, PROJECTS[name], args.checkouts, Path(work), keep_going)


if __name__ == "__main__":
    main()
