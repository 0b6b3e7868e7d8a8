"""The course: `course.toml` plus every lesson's front matter, validated together.

`read_course` gathers every problem in every file, so an author fixes them in one pass.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from unsmudge.problems import Problem, ProblemsFound, display_path, key_line, pydantic_problems, toml_problem

LESSON_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
RESERVED = {"index", "404"}  # their pages would replace the course index and the not-found page
FENCE = "+++"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Track(Strict):
    id: str = Field(pattern=LESSON_ID.pattern)
    title: str = Field(min_length=1)
    description: str = ""


def _macro_name(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z]+", name):
        raise ValueError(f"macro name '{name}' must be letters only, without the backslash "
                         "(write E = \"\\\\mathbb{E}\" for \\E)")
    return name


class MathSettings(Strict):
    # \name -> its TeX, in every formula of the course: E = "\\mathbb{E}" makes \E a blackboard E; a name is
    # checked as a key of its own, so a problem names its line
    macros: dict[Annotated[str, AfterValidator(_macro_name)], str] = {}


class CourseFile(Strict):
    title: str = Field(min_length=1)
    description: str = ""
    base_url: str = ""
    language: str = "en"
    lessons: list[str] = Field(min_length=1)
    tracks: list[Track] = Field(min_length=1)
    math: MathSettings = MathSettings()

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, url: str) -> str:
        if url and not re.match(r"^https?://[^/]+", url):
            raise ValueError(f"base_url '{url}' is not an http(s) URL, e.g. 'https://you.github.io/course/'")
        return url if not url or url.endswith("/") else url + "/"


class Narration(Strict):
    audio: str
    transcript: str


class Reading(Strict):
    title: str = Field(min_length=1)
    url: str = Field(pattern=r"^https?://")
    note: str = ""


class FrontMatter(Strict):
    title: str = Field(min_length=1)
    module: int
    kicker: str = ""
    subtitle: str = ""
    track: str
    covers: list[str] = []
    prerequisites: list[str] = []
    next: list[str] | None = None
    draft: bool = False
    narration: Narration | None = None
    further_reading: list[Reading] = []


class PageMatter(Strict):
    """The front matter of a page that is not a lesson (pages/<id>.md): an about page, a glossary."""

    title: str = Field(min_length=1)
    subtitle: str = ""
    draft: bool = False


class Lesson:
    """One lesson (or page): its id, front matter and markdown body (with the line the body starts on).
    A notebook's body is made from its markdown cells, and `notebook` holds the rest (notebook.Parts)."""

    def __init__(self, id: str, path: Path, meta: FrontMatter | PageMatter, body: str, body_line: int,
                 front: str = "", notebook=None):
        self.id, self.path, self.meta, self.body, self.body_line = id, path, meta, body, body_line
        self.front, self.notebook = front, notebook

    @property
    def url(self) -> str:
        return f"{self.id}.html"

    def where(self, index: int) -> str:
        """The place of the body's line `index` (from 0) in the lesson's file, for messages."""
        return self.notebook.where(index) if self.notebook else f"line {index + self.body_line}"

    def front_where(self, line: int) -> str:
        """The place of the front matter's line `line` (counted as in a markdown file: '+++' is line 1)."""
        return self.notebook.front_where(line) if self.notebook else f"line {line}"

    @property
    def front_file(self) -> str:
        """The file holding the front matter, for messages: the lesson's, or a notebook's <id>.toml beside it."""
        return (self.notebook.front_file if self.notebook else "") or display_path(self.path)


class Course:
    def __init__(self, config: CourseFile, lessons: list[Lesson], unreadable: set[str], pages: list[Lesson]):
        self.config = config
        self.lessons = lessons  # in reading order, drafts and unreadable lessons left out
        self.pages = pages  # pages/: linkable, outside the pager and the tracks, by file name
        self.by_id = {lesson.id: lesson for lesson in lessons}
        self.position = {lesson.id: n for n, lesson in enumerate(lessons)}
        # lessons whose front matter failed: links to them are not reported as broken on top
        self.unreadable = unreadable

    def track(self, track_id: str) -> Track:
        return next(t for t in self.config.tracks if t.id == track_id)


def split_front_matter(text: str) -> tuple[str, str, int] | None:
    """(front matter, body, line the body starts on) or None when the file has no `+++` block."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != FENCE:
        return None
    for number in range(1, len(lines)):
        if lines[number].strip() == FENCE:
            return "\n".join(lines[1:number]), "\n".join(lines[number + 1:]), number + 2
    return None


def _load_course_file(root: Path, problems: list[Problem]) -> CourseFile | None:
    path = root / "course.toml"
    shown = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        problems.append(Problem(shown, "", f"the course file is not UTF-8 text ({err.reason} at byte {err.start})",
                                "save it as UTF-8"))
        return None
    except OSError:
        problems.append(Problem(shown, "", "the course file is missing",
                                "create it (see docs/authoring.md) or pass --content DIR"))
        return None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        problems.append(toml_problem(shown, err, 0, text))
        return None
    try:
        return CourseFile.model_validate(data)
    except ValidationError as err:
        problems += pydantic_problems(shown, err, lambda loc: key_line(text, loc))
        return None


def load_lesson(path: Path, problems: list[Problem], schema: type[Strict] = FrontMatter) -> Lesson | None:
    """A lesson (or, with `schema` PageMatter, a page) from its .md or .ipynb file."""
    shown = display_path(path)
    kind = "lesson" if schema is FrontMatter else "page"
    if not LESSON_ID.match(path.stem):
        problems.append(Problem(shown, "", f"{kind} id '{path.stem}' is not lowercase letters, digits and '-'",
                                "rename the file, e.g. 'vae-stable-diffusion.md'"))
    elif path.stem in RESERVED:
        problems.append(Problem(shown, "", f"{kind} id '{path.stem}' is reserved: {path.stem}.html is a page "
                                "of the site itself", "rename the file"))
    if path.suffix == ".ipynb":
        from unsmudge import notebook

        read = notebook.read(path, shown, problems)
        if read is None:
            return None
        (front, body, parts), body_line = read, 1
        where, shown = parts.front_where, parts.front_file or shown  # front matter problems name its file
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            problems.append(Problem(shown, "", f"cannot read the {kind} ({err})", "save it as UTF-8 text"))
            return None
        found = split_front_matter(text)
        if found is None:
            problems.append(Problem(shown, "line 1", "no front matter: the file must start with a '+++' line "
                                    "and the front matter must end with another '+++' line",
                                    "add the TOML front matter described in docs/authoring.md"))
            return None
        (front, body, body_line), parts = found, None
        where = "line {}".format
    try:
        data = tomllib.loads(front)
    except tomllib.TOMLDecodeError as err:
        problem = toml_problem(shown, err, 1, front)
        problems.append(Problem(shown, where(int(problem.where.split()[-1])), problem.message, problem.fix))
        return None
    try:
        meta = schema.model_validate(data)
    except ValidationError as err:
        for problem in pydantic_problems(shown, err, lambda loc: key_line(front, loc, 1)):
            line = re.match(r"line (\d+)", problem.where)
            place = where(int(line[1])) + problem.where[line.end():] if line else problem.where
            problems.append(Problem(shown, place, problem.message, problem.fix))
        return None
    return Lesson(path.stem, path, meta, body, body_line, front, parts)


def _documents(folder: Path, problems: list[Problem]) -> list[Path]:
    """The .md and .ipynb files of a folder, sorted; one id with both is a problem."""
    paths = sorted(p for p in folder.glob("*") if p.suffix in (".md", ".ipynb") and p.is_file())
    stems = [p.stem for p in paths]
    for stem in sorted({s for s in stems if stems.count(s) > 1}):
        problems.append(Problem(display_path(folder / f"{stem}.ipynb"), "", f"'{stem}' is both a markdown file "
                                "and a notebook", "keep one of the two"))
    return paths


def load_course(root: Path) -> Course:
    """Read and cross-check the course; raise ProblemsFound listing every problem found."""
    course, problems = read_course(root)
    if problems:
        raise ProblemsFound(problems)
    return course


def read_course(root: Path) -> tuple[Course | None, list[Problem]]:
    """The course as far as it could be read (None without a valid course.toml), and its problems;
    the build goes on to check the readable lessons' markdown, so all problems are reported at once."""
    root = Path(root)
    problems: list[Problem] = []
    config = _load_course_file(root, problems)
    lessons: dict[str, Lesson] = {}
    unreadable: set[str] = set()
    for path in _documents(root / "lessons", problems):
        lesson = load_lesson(path, problems)
        if lesson:
            lessons[lesson.id] = lesson
        else:
            unreadable.add(path.stem)
    pages = []
    for path in _documents(root / "pages", problems):
        page = load_lesson(path, problems, PageMatter)
        if page is None:
            unreadable.add(path.stem)
        elif page.id in lessons or page.id in unreadable:
            problems.append(Problem(display_path(page.path), "", f"page id '{page.id}' is also a lesson's: both "
                                    f"would be {page.id}.html", "rename one of the two files"))
        elif not page.meta.draft:
            pages.append(page)
    if config is None:
        return None, problems
    course_file = display_path(root / "course.toml")
    course_text = (root / "course.toml").read_text(encoding="utf-8")
    where_lessons = f"line {key_line(course_text, ('lessons',))}, key 'lessons'"

    # files and the course order agree
    ordered: list[Lesson] = []
    seen: set[str] = set()
    for lesson_id in config.lessons:
        if lesson_id in seen:
            problems.append(Problem(course_file, where_lessons, f"lesson '{lesson_id}' is listed twice",
                                    "keep one"))
            continue
        seen.add(lesson_id)
        if lesson_id not in lessons:
            if not (root / "lessons" / f"{lesson_id}.md").exists():
                problems.append(Problem(course_file, where_lessons, f"lesson '{lesson_id}' has no file "
                                        f"lessons/{lesson_id}.md", "create it or remove it from 'lessons'"))
        elif not lessons[lesson_id].meta.draft:
            ordered.append(lessons[lesson_id])
    for lesson in lessons.values():
        if lesson.id not in seen and not lesson.meta.draft:
            problems.append(Problem(display_path(lesson.path), "", "the lesson is not in course.toml's 'lessons'",
                                    f"add \"{lesson.id}\" to 'lessons' in course.toml, or set draft = true"))

    track_ids = [t.id for t in config.tracks]
    if len(set(track_ids)) != len(track_ids):
        problems.append(Problem(course_file, "key 'tracks'", "two tracks have the same id", "rename one"))
    position = {lesson.id: n for n, lesson in enumerate(ordered)}
    modules: dict[int, str] = {}
    for lesson in ordered:
        shown, meta = lesson.front_file, lesson.meta  # every problem here is in the front matter

        def line(*loc: str) -> str:  # only when a problem needs its line
            found = key_line(lesson.front, loc, 1)
            where = f"key '{'.'.join(loc)}'"
            return f"{lesson.front_where(found)}, {where}" if found else where

        if meta.track not in track_ids:
            problems.append(Problem(shown, line("track"), f"unknown track '{meta.track}'",
                                    f"use one of: {', '.join(track_ids)} (course.toml [[tracks]])"))
        if meta.module in modules:
            problems.append(Problem(shown, line("module"), f"module {meta.module} is also lesson "
                                    f"'{modules[meta.module]}'", "give each lesson its own module number"))
        modules.setdefault(meta.module, lesson.id)
        for prereq in meta.prerequisites:
            if prereq in unreadable:
                continue  # its own problem is reported
            if prereq not in lessons or lessons[prereq].meta.draft:
                problems.append(Problem(shown, line("prerequisites"), f"prerequisite '{prereq}' is not a lesson",
                                        f"use a lesson id (a file stem in lessons/): {', '.join(position)}"))
            elif position.get(prereq, -1) >= position[lesson.id]:
                problems.append(Problem(shown, line("prerequisites"), f"prerequisite '{prereq}' comes after "
                                        "this lesson in the course",
                                        "move it earlier in course.toml's 'lessons' or drop the prerequisite"))
        for target in meta.next or []:
            if target not in position and target not in unreadable:
                problems.append(Problem(shown, line("next"), f"'next' names '{target}', which is not a lesson",
                                        f"use a lesson id: {', '.join(position)}"))
        if meta.narration:
            for key in ("audio", "transcript"):
                rel = getattr(meta.narration, key)
                target = (root / rel).resolve()
                if not target.is_relative_to(root.resolve()) or not target.is_file():
                    problems.append(Problem(shown, line("narration", key), f"narration {key} file '{rel}' "
                                            "does not exist", "fix the path (relative to the content folder) "
                                            "or create the file"))
    return Course(config, ordered, unreadable, pages), problems
