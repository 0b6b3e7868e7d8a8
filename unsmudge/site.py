"""The site: gather and validate everything, render every file in memory, then write it in one swap.

`Builder.gather()` reads the course, converts every lesson, checks links, anchors, media and demo
frames, and renders each output file to bytes; any problem stops it before a byte is written. With
`keep_going` (`build --keep-going`, and `serve`) it goes on while every page can still be made: each
problem is marked where it is (a broken link, a missing picture, a demo's placeholder) and listed on
problems.html, which every page's header links to; only problems that leave a page impossible (no course,
a lesson without readable front matter) stop it.
`write_site()` writes those bytes into a staging folder next to the output and swaps it in, so a failed
build leaves the previous site untouched. The same inputs give the same bytes (no clocks, sorted walks).
"""

from __future__ import annotations

import collections
import contextlib
import filecmp
import os
import shutil
import stat
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import jinja2
from pydantic import ValidationError

from unsmudge import formulas, machine
from unsmudge.course import RESERVED, CourseFile, Lesson, load_lesson, read_course
from unsmudge.markdown import DEMO_MARK, Converted, Draft, LessonRenderer, check_anchors, fence_line
from unsmudge.problems import Problem, ProblemsFound, display_path, ordered
from unsmudge.search import search_script
from unsmudge.theme import LIVE, Theme

MATH_ASSETS = "math/"  # the theme's static/math/: only in a site with formulas
MATH_STYLESHEET = "math/math.css"
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "media-src 'self'")
# A page with a draw demo: onnxruntime-web compiles WebAssembly and imports its glue from a data: URL (a page
# on file:// can neither fetch the binary nor import a module file): exactly those two, nothing more.
CSP_DRAW = CSP.replace("script-src 'self'", "script-src 'self' 'wasm-unsafe-eval' data:")
DEFAULT_EPOCH = 315532800  # 1980-01-01, the earliest date a zip entry can hold


@dataclass
class Options:
    content: Path = Path("content")
    frames: Path = Path("build")
    out: Path = Path("site")
    base_url: str | None = None
    keep_going: bool = False  # write the site despite problems, marked and listed (build --keep-going, serve)
    jobs: int = 0  # processes converting markdown; 0: one per CPU (serve uses 1: it runs threads)


class Builder:
    """Holds what one build gathered, so `serve` can re-render a single lesson."""

    def __init__(self, options: Options):
        self.options = options
        self.content = Path(options.content)
        self.files: dict[str, bytes | Path] = {}  # site path -> bytes, or a source file to copy
        self.problems: list[Problem] = []  # what a keep_going build wrote the site despite

    # ---------------------------------------------------------------- gather
    def gather(self) -> dict[str, bytes | Path]:
        self.course, problems = read_course(self.content)
        if self.course is None:
            raise ProblemsFound(problems, "the course file cannot be read" if self.options.keep_going else "")
        documents = self.course.lessons + self.course.pages
        if formulas.all_new() and any(formulas.might_have_formulas(d.body) for d in documents):
            with contextlib.suppress(formulas.EngineFailed):  # reported by the typesetter, with the other problems
                formulas.start_engine()  # V8 starts while this process reads and converts
        if self.options.base_url is not None:
            try:
                self.course.config = _with_base_url(self.course.config, self.options.base_url)
            except ProblemsFound as err:
                problems += err.problems
        self.tracks = [{"track": t, "lessons": [l for l in self.course.lessons if l.meta.track == t.id]}
                       for t in self.course.config.tracks]
        self.theme = Theme(self.content / "templates")
        self.renderer = LessonRenderer(self.content, set(self.course.by_id) | self.course.unreadable,
                                       self.course.config.math.macros, {p.id for p in self.course.pages})
        self.converted: dict[str, Converted] = {}
        for document, (converted, found) in zip(documents, self._convert_all()):
            self.converted[document.id] = converted
            problems += found
        problems += check_anchors({d.id: d.path for d in documents}, self.converted)
        used = self._demos_used()
        self.demos = {}
        if used or any((self.content / "demos").glob("*.toml")):
            from unsmudge.demos import gather_demos  # the demo machinery only for courses with demos

            try:
                self.demos = gather_demos(self.content, self.options.frames, used)
            except ProblemsFound as err:
                problems += err.problems
                if self.options.keep_going:
                    self.demos = self._demos_despite_problems(used)
        if problems:
            blocking = "; ".join(self._impossible_pages()) if self.options.keep_going else ""
            if not self.options.keep_going or blocking:
                raise ProblemsFound(problems, blocking)
        self.problems = ordered(problems)
        self.search_url = self.theme.add_asset("search-index.js", self.search_index())
        self.math_styles = self._math_stylesheet()
        if not any(demo.draw for demo in self.demos.values()):  # the live mode's runtime: only where it runs
            self.theme.drop_assets(LIVE)
        files: dict[str, bytes | Path] = {}
        try:
            for lesson in self.course.lessons:
                files[lesson.url] = self.render_lesson(lesson)
            for page in self.course.pages:
                files[page.url] = self.render_page(page)
            files["index.html"] = self._page("index.html", page_title=self.course.config.title)
            if self.problems:
                files[PROBLEMS_PAGE] = self._page(PROBLEMS_PAGE, page_title=f"Problems · {self.course.config.title}",
                                                  problem_groups=self._problem_groups())
            files["404.html"] = self._page("404.html", page_title="Page not found")
            if self.course.config.base_url:
                files["sitemap.xml"] = self.theme.render("sitemap.xml", **self._context()).encode()
        except jinja2.TemplateError as err:
            raise ProblemsFound([_template_problem(err)]) from None
        files[".nojekyll"] = b""
        for asset in self.theme.assets.values():
            files[asset.url] = asset.data
        for demo in self.demos.values():
            files.update(demo.files)
        files.update(self._media())
        for converted in self.converted.values():
            files.update(converted.attachments)
        for document in documents:
            if document.notebook:  # its pictures, and the notebook itself for download
                files.update(document.notebook.files)
                files[self._download(document)] = document.path
        self.files = dict(sorted(files.items()))
        return self.files

    def _convert_all(self) -> list[tuple[Converted, list[Problem]]]:
        """Every lesson, then every page. Markdown is most of a build's time and lessons convert independently:
        with several CPUs, forked workers and this process take the next few lessons from one shared counter
        until none is left, so all finish together. Formulas are typeset in this process only, by one
        `formulas.Typesetter` whose thread runs V8 beside the markdown; between two lessons this process
        finishes the drafted pages whose formulas are ready, so few are left for the end."""
        global _BUILDER, _NEXT
        documents, lessons = self.course.lessons + self.course.pages, self.course.lessons
        typesetter = formulas.Typesetter(self.course.config.math.macros)
        drafts: list[Draft | None] = [None] * len(documents)
        done: list[tuple[Converted, list[Problem]] | None] = [None] * len(documents)
        waiting: collections.deque[int] = collections.deque()  # drafted, in the order their formulas were added

        def drafted(start: int, new: list[Draft]) -> None:  # also called by the pool's result thread
            for index, draft in enumerate(new, start):
                drafts[index] = draft
                typesetter.add(draft.formulas)
                waiting.append(index)

        def finish(ready_only: bool = True) -> None:  # the typesetting thread answers in the order of `add`
            while waiting and (not ready_only or typesetter.ready(drafts[waiting[0]].formulas)):
                index = waiting.popleft()
                done[index] = self.renderer.finish(documents[index], drafts[index], typesetter)

        jobs = min(self.options.jobs or machine.cpus(), len(lessons) // MIN_PER_JOB)
        try:
            if jobs < 2 or sys.platform != "linux":  # fork: safe on Linux (V8 runs in a process of its own)
                for index, lesson in enumerate(lessons):
                    drafted(index, [self.renderer.draft(lesson)])
                    finish()
            else:
                import multiprocessing  # only here: imports are most of a small build's fixed cost
                import signal

                self.renderer.warm(lessons)
                context = multiprocessing.get_context("fork")
                _BUILDER, _NEXT = self, context.Value("q", 0)
                # Ctrl-C is this process's to handle: leaving the `with` ends the workers, which print nothing
                ignore_ctrl_c = (signal.SIGINT, signal.SIG_IGN)
                with context.Pool(jobs - 1, initializer=signal.signal, initargs=ignore_ctrl_c) as pool:
                    tasks = [pool.apply_async(_draft_next, callback=lambda result: drafted(*result))
                             for _ in range(-(-len(lessons) // CHUNK))]  # enough for the workers to take every lesson
                    while (start := _take()) < len(lessons):
                        for index in range(start, min(start + CHUNK, len(lessons))):
                            drafted(index, [self.renderer.draft(lessons[index])])
                            finish()
                    for task in tasks:
                        task.get()  # a worker's error is raised here
            for index in range(len(lessons), len(documents)):  # pages: few, no workers
                drafted(index, [self.renderer.draft(documents[index])])
        finally:
            _BUILDER = _NEXT = None
        typesetter.finish()  # after the drafts: an error drafting is raised as it is, not over a typesetting one
        finish(ready_only=False)
        return done

    def _demos_despite_problems(self, used: dict[str, list[tuple[str, str]]]) -> dict:
        """Every demo that can be shown, with a placeholder for frames not computed yet. gather_demos
        stops at any demo's problem, so each is gathered alone; one it refuses gets the slot's placeholder."""
        from unsmudge.demos import gather_demos

        demos = {}
        for demo_id, places in used.items():
            try:
                demos.update(gather_demos(self.content, self.options.frames, {demo_id: places}, allow_missing=True))
            except ProblemsFound:
                pass  # already reported by the gathering of every demo
        return demos

    def _impossible_pages(self) -> list[str]:
        """Why some page cannot be made at all, which stops even a keep_going build."""
        course, tracks = self.course, {track.id for track in self.course.config.tracks}
        why = [f"'{doc_id}' has no readable front matter, so its page has no title"
               for doc_id in sorted(course.unreadable)]
        why += [f"'{doc.id}' would replace the site's own {doc.url}" for doc in course.lessons + course.pages
                if doc.id in RESERVED]
        why += [f"lesson '{lesson.id}' has no track to be listed in" for lesson in course.lessons
                if lesson.meta.track not in tracks]
        return why

    def _problem_groups(self) -> list[dict]:
        """The problems page's sections: one per file, named relative to the content folder (the site's bytes
        do not depend on where the build ran), linking to its page when it is a lesson or a page."""
        content = os.path.abspath(self.content)
        pages = {display_path(doc.path): doc.url for doc in self.course.lessons + self.course.pages}
        groups: dict[str, dict] = {}
        for problem in self.problems:
            path = os.path.abspath(problem.file)
            inside = path.startswith(content + os.sep)
            name = Path(os.path.relpath(path, content)).as_posix() if inside else problem.file
            groups.setdefault(name, {"file": name, "url": pages.get(problem.file), "problems": []})
            groups[name]["problems"].append(problem)
        return list(groups.values())

    def _math_stylesheet(self) -> set[str] | None:
        """The theme's math stylesheet plus a rule per inline style of the formulas; the math assets
        (stylesheet and fonts) are left out of a site without formulas. Returns the styles covered."""
        if not any(c.has_math for c in self.converted.values()):
            self.theme.drop_assets(MATH_ASSETS)
            return None
        styles = set().union(*(c.math_styles for c in self.converted.values()))
        base = self.theme.assets[MATH_STYLESHEET].data
        self.theme.add_asset(MATH_STYLESHEET, base + formulas.stylesheet_rules(styles).encode())
        return styles

    def _demos_used(self) -> dict[str, list[tuple[str, str]]]:
        used: dict[str, list[tuple[str, str]]] = {}
        for lesson in self.course.lessons:
            for demo_id in self.converted[lesson.id].demos:
                place = (display_path(lesson.path), fence_line(lesson, "demo", demo_id))
                used.setdefault(demo_id, []).append(place)
        return used

    def _media(self) -> dict[str, Path]:
        """content/media/ as it is, plus narration files wherever they live in the content folder."""
        media = {}
        folder = self.content / "media"
        if folder.is_dir():
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                media[path.relative_to(self.content).as_posix()] = path
        for lesson in self.course.lessons:
            if lesson.meta.narration:
                for rel in (lesson.meta.narration.audio, lesson.meta.narration.transcript):
                    if (self.content / rel).is_file():  # a missing one is a problem, left out of a keep_going site
                        media[Path(rel).as_posix()] = self.content / rel
        return media

    def _download(self, document: Lesson) -> str:
        """A notebook's site path: its path in the content folder."""
        return Path(os.path.relpath(document.path, self.content)).as_posix()

    def search_index(self) -> bytes:
        return search_script([
            {"id": d.id, "url": d.url, "title": d.meta.title, "kicker": getattr(d.meta, "kicker", ""),
             "subtitle": d.meta.subtitle, "headings": [t["name"] for t in self.converted[d.id].toc],
             "text": self.converted[d.id].text} for d in self.course.lessons + self.course.pages])

    # ---------------------------------------------------------------- render
    def _context(self) -> dict:
        course = self.course
        return {"course": course.config, "lessons": course.lessons, "pages": course.pages, "tracks": self.tracks,
                "csp": CSP, "problems": self.problems,
                "search_url": self.search_url, "lesson": None, "has_live_demo": False, "has_draw": False,
                "has_math": False}

    def _page(self, template: str, **extra) -> bytes:
        return self.theme.render(template, **{**self._context(), **extra}).encode()

    def render_lesson(self, lesson: Lesson) -> bytes:
        course, converted = self.course, self.converted[lesson.id]
        index = course.position[lesson.id]
        prev = course.lessons[index - 1] if index else None
        following = course.lessons[index + 1] if index + 1 < len(course.lessons) else None
        # ids that name no lesson are problems; a keep_going site leaves them out
        if lesson.meta.next is not None:
            read_next = [course.by_id[i] for i in lesson.meta.next if i in course.by_id]
        else:
            read_next = [following] if following else []
        demos = [self.demos[i] for i in dict.fromkeys(converted.demos) if i in self.demos]
        body = DEMO_MARK.sub(lambda m: self._demo_html(m[1]), converted.html)
        return self._page(
            "lesson.html", page_title=f"{lesson.meta.title} · {course.config.title}", lesson=lesson,
            meta=self._shown_meta(lesson), body=body, toc=converted.toc, prev=prev, next=following,
            read_next=read_next,
            prerequisites=[course.by_id[i] for i in lesson.meta.prerequisites if i in course.by_id],
            track=course.track(lesson.meta.track), has_live_demo=any(not d.missing for d in demos),
            has_draw=any(d.draw for d in demos), csp=CSP_DRAW if any(d.draw for d in demos) else CSP,
            has_math=converted.has_math, download=self._download(lesson) if lesson.notebook else None)

    def render_page(self, page: Lesson) -> bytes:
        converted = self.converted[page.id]
        return self._page("page.html", page_title=f"{page.meta.title} · {self.course.config.title}", lesson=page,
                          meta=page.meta, body=converted.html, toc=converted.toc, has_math=converted.has_math,
                          download=self._download(page) if page.notebook else None)

    def _shown_meta(self, lesson: Lesson):
        """The front matter as the page shows it: narration only when both its files exist."""
        narration = lesson.meta.narration
        if narration and not all((self.content / rel).is_file() for rel in (narration.audio, narration.transcript)):
            return lesson.meta.model_copy(update={"narration": None})
        return lesson.meta

    def _demo_html(self, demo_id: str) -> str:
        """The demo's slider, or a placeholder saying what to do (frames not computed, or no usable spec)."""
        return self.theme.render("partials/demo-slot.html", demo=self.demos.get(demo_id), demo_id=demo_id)

    # ---------------------------------------------------------------- serve
    def rerender_lesson(self, path: Path) -> dict[str, bytes] | None:
        """Re-render one edited lesson; None when the change reaches other pages (full rebuild then)."""
        problems: list[Problem] = []
        lesson = load_lesson(path, problems)
        old = self.course.by_id.get(lesson.id) if lesson else None
        if problems or any(problem.file == display_path(path) for problem in self.problems):
            return None  # the problems page and every page's header change with them
        if old is None or lesson.meta != old.meta:
            return None  # titles, order, prerequisites: other pages show them
        converted, problems = self.renderer.convert(lesson)
        before = self.converted[lesson.id]
        if converted.toc != before.toc or converted.demos != before.demos:
            return None  # other lessons' anchors or the demo set may depend on it
        if converted.attachments != before.attachments:
            return None  # the site's files change
        if converted.has_math and (self.math_styles is None or not converted.math_styles <= self.math_styles):
            return None  # the site's math stylesheet lacks a rule it needs
        # the edited lesson's own anchors, checked against the other pages as last built
        problems += check_anchors({lesson.id: lesson.path}, {**self.converted, lesson.id: converted})
        if problems:
            return None  # the problems page and every page's header change with them
        old.body, old.body_line, old.front = lesson.body, lesson.body_line, lesson.front
        self.converted[lesson.id] = converted
        page = self.render_lesson(old)
        self.files[old.url] = page
        return {old.url: page}


def _with_base_url(config: CourseFile, url: str) -> CourseFile:
    try:
        return CourseFile.model_validate({**config.model_dump(), "base_url": url})
    except ValidationError as err:
        raise ProblemsFound([Problem("--base-url", "", err.errors()[0]["msg"].removeprefix("Value error, "),
                                     "pass the site's public http(s) URL")]) from None


PROBLEMS_PAGE = "problems.html"  # only in a site written despite problems
MIN_PER_JOB = 16  # below this many lessons per process, forking costs more than it saves
CHUNK = 4  # lessons taken at a time: small enough that the processes finish together
_BUILDER: Builder | None = None  # the builder a forked worker inherits
_NEXT = None  # the next lesson to take, a counter shared with the forked workers (multiprocessing.Value)


def _take() -> int:
    """The first of the next CHUNK lessons, in whichever process asks."""
    with _NEXT.get_lock():
        start = _NEXT.value
        _NEXT.value = start + CHUNK
    return start


def _draft_next() -> tuple[int, list[Draft]]:
    """A forked worker's task: the next lessons nobody has taken (none once they are all taken)."""
    start = _take()
    return start, [_BUILDER.renderer.draft(lesson) for lesson in _BUILDER.course.lessons[start:start + CHUNK]]


def _template_problem(err: jinja2.TemplateError) -> Problem:
    file = getattr(err, "filename", None) or getattr(err, "name", None) or "templates"
    line = getattr(err, "lineno", None)
    return Problem(display_path(Path(file)) if file != "templates" else file, f"line {line}" if line else "",
                   f"template error: {err.message or err}", "fix the template (or remove the override)")


# -------------------------------------------------------------------- writing
def check_output(out: Path, content: Path, frames: Path) -> None:
    """Refuse an output folder that would replace the sources or an unrelated folder."""
    out, shown = Path(out).resolve(), display_path(out)
    for name, folder in (("content", content), ("frames", frames), ("current", Path.cwd())):
        folder = Path(folder).resolve()
        if out == folder or folder.is_relative_to(out):
            raise ProblemsFound([Problem(shown, "", f"the output folder contains the {name} folder, and a "
                                         "build replaces its output folder", "pass --out a folder of its own")])
    if out.is_dir() and any(out.iterdir()) and not (out / ".nojekyll").exists():
        raise ProblemsFound([Problem(shown, "", "the output folder exists and is not a site unsmudge built "
                                     "(no .nojekyll), so replacing it could lose work",
                                     "remove it, or pass --out a new folder")])


def _safe_target(root: Path, rel: str) -> Path:
    clean = os.path.normpath(rel)
    if os.path.isabs(clean) or clean == ".." or clean.startswith(".." + os.sep):
        raise ProblemsFound([Problem(rel, "", "refusing to write outside the output folder", "rename the file")])
    return root / clean


def write_site(files: dict[str, bytes | Path], out: Path) -> None:
    """Write into a staging folder next to `out`, then swap it in. A file that `out` already holds byte for
    byte is hard-linked from there instead of written again: a rebuild writes only what changed (500 unchanged
    lessons: 43 ms against 298, benchmarks/site_writing.py), and an unchanged file keeps its date for a deploy
    that syncs."""
    out = Path(out).resolve()
    staging, old = out.parent / f".staging-{out.name}", out.parent / f".staging-{out.name}.old"
    for leftover in (staging, old):
        shutil.rmtree(leftover, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        folders = {staging}  # made already
        for rel, data in files.items():
            target = _safe_target(staging, rel)
            if target.parent not in folders:
                target.parent.mkdir(parents=True, exist_ok=True)
                folders.add(target.parent)
            if _linked_if_same(out / target.relative_to(staging), data, target):
                continue
            if isinstance(data, Path):
                shutil.copyfile(data, target)
            else:
                target.write_bytes(data)
        if out.exists():
            out.rename(old)
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if old.exists() and not out.exists():
            old.rename(out)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _linked_if_same(current: Path, data: bytes | Path, target: Path) -> bool:
    """Hard-link `current`, a file of the output being replaced, as `target` if it holds exactly `data`."""
    try:
        found = os.lstat(current)
        if not stat.S_ISREG(found.st_mode):  # a link or a folder there is replaced, never followed
            return False
        if isinstance(data, Path):
            if found.st_size != data.stat().st_size or not filecmp.cmp(current, data, shallow=False):
                return False
        elif found.st_size != len(data) or current.read_bytes() != data:
            return False
        os.link(current, target, follow_symlinks=False)
    except OSError:  # no such file yet, or a file system without hard links: the file is written instead
        return False
    return True


def write_zip(files: dict[str, bytes | Path], zip_path: Path, folder: str) -> None:
    """An offline copy: sorted entries under `folder/`, all dated SOURCE_DATE_EPOCH; written atomically."""
    import zipfile

    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", DEFAULT_EPOCH))
    stamp = time.gmtime(max(epoch, DEFAULT_EPOCH))[:6]
    zip_path = Path(zip_path).resolve()
    temp = zip_path.with_name(f".{zip_path.name}.tmp")
    try:
        with zipfile.ZipFile(temp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
            for rel in sorted(files):
                data = files[rel]
                info = zipfile.ZipInfo(f"{folder}/{rel}", date_time=stamp)
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, data.read_bytes() if isinstance(data, Path) else data)
        os.replace(temp, zip_path)
    finally:
        temp.unlink(missing_ok=True)


def build(options: Options, zip_path: Path | None = None) -> Builder:
    check_output(options.out, options.content, options.frames)
    builder = Builder(options)
    files = builder.gather()
    write_site(files, options.out)
    if zip_path:  # after the swap, so a zip inside the output folder survives it
        write_zip(files, zip_path, Path(zip_path).stem)
    return builder
