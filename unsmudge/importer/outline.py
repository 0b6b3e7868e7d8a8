"""From the source's navigation to the course's tracks and lessons.

Top-level sections become tracks; pages outside any section, taken in runs, become tracks: a page alone
is titled as itself, a run of several after the course when it opens the course, else "Lessons" (never
after whichever page comes first, which would label the others wrongly). Deeper sections are flattened
into their track, and their titles become the lessons' kicker. A section's index page gives its track a
description (its first paragraph) and stays a lesson unless that paragraph is all it holds. Lesson ids
come from file names (a folder's name for its index page), made unique with the folder path when two
pages share one.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from unsmudge.course import RESERVED
from unsmudge.importer import markup
from unsmudge.importer.links import Resolver
from unsmudge.importer.nav import LinkEntry, PageEntry, SectionEntry, dirname_to_title
from unsmudge.importer.notes import Notes
from unsmudge.importer.pages import SourcePage, is_index, read_page
from unsmudge.importer.yaml_file import text_value
from unsmudge.problems import Problem, ProblemsFound, display_path

OTHER_PAGES = "Other pages"
LOOSE_PAGES = "Lessons"  # the title of a track of pages outside any section, after the first
CARRIED_KEYS = ("title", "description")
# what the usual front matter keys of MkDocs and Material did, for the notes
KEY_ROLES = {
    "hide": "hid the navigation, table of contents or footer of the page",
    "tags": "listed the page under tags (Material's tags plugin)",
    "template": "rendered the page with another template",
    "icon": "showed an icon beside the page in the navigation",
    "status": "marked the page 'new' or 'deprecated' in the navigation",
    "search": "excluded the page from search or boosted it",
    "comments": "showed a comment system under the page",
    "authors": "named the page's authors",
    "date": "dated the page",
    "subtitle": "showed a subtitle in the navigation",
}


@dataclass
class Source:
    """What an importer read: the course's facts, its navigation, and every page of the source."""
    root: Path
    shown: str  # the file or folder problems about the whole source name
    title: str
    nav: list  # PageEntry, SectionEntry, LinkEntry
    pages: list[PurePosixPath]  # every page, in folder order; those off the nav are handled here
    notes: Notes
    description: str = ""
    base_url: str = ""
    language: str = ""
    # GitHub-flavoured markdown: `\(` is a parenthesis and ```math a formula (markup.github_math), and
    # pages off the nav that nothing links to are the repository's, not the course's (left out, no drafts)
    github: bool = False
    directory_urls: bool = False  # MkDocs served page a/b.md as a/b/ (see links.Resolver)
    notebook_pages: tuple[str, ...] = ()  # suffixes of the files a plugin served as pages (see links.Resolver)
    source_url: str = ""  # where the source is published, for links to what the course does not carry
    check_icons: bool = False  # pymdownx.emoji was on: its check and close icons are written as ✓ and ✗

    def resolver(self) -> Resolver:
        return Resolver(self.root, self.pages, self.directory_urls, self.notebook_pages)


@dataclass
class Lesson:
    page: SourcePage
    title: str
    subtitle: str = ""
    kicker: str = ""
    id: str = ""
    track: str = ""  # the track's id
    draft: bool = False


@dataclass
class Track:
    title: str
    description: str = ""
    lessons: list[Lesson] = field(default_factory=list)
    id: str = ""


@dataclass
class Outline:
    source: Source
    tracks: list[Track]
    drafts: list[Lesson]
    # each source page that is a lesson, and each index page kept only as a track description, mapped to
    # the lesson a link to it now leads to
    lesson_of: dict[PurePosixPath, Lesson]

    @property
    def lessons(self) -> list[Lesson]:
        return [lesson for track in self.tracks for lesson in track.lessons] + self.drafts


def plan(source: Source) -> Outline:
    return _Planner(source).outline()


def slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


class _Planner:
    def __init__(self, source: Source):
        self.source, self.notes = source, source.notes
        self.read: dict[PurePosixPath, SourcePage] = {}
        self.placed: dict[PurePosixPath, Lesson] = {}
        self.leads_to: dict[PurePosixPath, list[Lesson]] = {}  # index pages dropped: their section's lessons

    def outline(self) -> Outline:
        problems: list[Problem] = []
        for rel in self.source.pages:  # every page's problems at once, before any is placed
            try:
                self.read[rel] = read_page(self.source.root, rel)
            except ProblemsFound as err:
                problems += err.problems
        if problems:
            raise ProblemsFound(problems)
        tracks: list[Track] = []
        loose: Track | None = None
        runs: list[Track] = []  # the tracks of pages outside any section
        for entry in self.source.nav:
            if isinstance(entry, SectionEntry):
                tracks.append(self._section_track(entry))
                loose = None
            elif isinstance(entry, PageEntry):
                if loose is None:
                    loose = Track("")
                    tracks.append(loose)
                    runs.append(loose)
                self._add(entry, loose, ())
            else:
                self._link(entry)
        for run in runs:
            self._name_run(run, opens=run is tracks[0])
        for track in tracks:
            if not track.lessons:
                self.notes.add("sections left out", track.title or "(untitled)", "has no page")
        tracks = [track for track in tracks if track.lessons]
        if not tracks:
            raise ProblemsFound([Problem(self.source.shown, "", "found no page to import",
                                         "point the import at the folder that holds the markdown pages")])
        drafts = self._off_nav(tracks)
        _name(tracks, drafts)
        lesson_of = dict(self.placed)
        for rel, lessons in self.leads_to.items():
            if lessons:
                lesson_of[rel] = lessons[0]
        return Outline(self.source, tracks, drafts, lesson_of)

    def _name_run(self, run: Track, opens: bool) -> None:
        """A page alone is a track of its own, titled as the page; several are titled neutrally, not after
        whichever page comes first: after the course when they open it, else LOOSE_PAGES."""
        if len(run.lessons) < 2:
            run.title = run.lessons[0].title if run.lessons else ""
            return
        run.title = (self.source.title if opens else "") or LOOSE_PAGES
        first, last = run.lessons[0].page.rel.as_posix(), run.lessons[-1].page.rel.as_posix()
        self.notes.add("tracks of pages outside any section", run.title,
                       f"the {len(run.lessons)} pages outside any section from `{first}` to `{last}`, in the "
                       "nav's order; rename the track in course.toml, or give them sections in the source")

    def _section_track(self, section: SectionEntry) -> Track:
        track = Track(section.title)
        children = list(section.children)
        index = children.pop(0) if children and isinstance(children[0], PageEntry) and is_index(children[0].rel) \
            else None
        for child in children:
            self._add(child, track, ())
        if index:
            page = self.read[index.rel]
            track.description = page.lead
            if page.only_lead and track.lessons:  # made for the nav: the description keeps all it says
                self.leads_to[index.rel] = track.lessons
                self.notes.add("index pages that became track descriptions", index.rel.as_posix(),
                               f"links to it lead to the first lesson of '{track.title}'")
            else:
                lesson = self._lesson(index, ())
                if lesson:
                    track.lessons.insert(0, lesson)
        return track

    def _add(self, entry, track: Track, trail: tuple[str, ...]) -> None:
        if isinstance(entry, LinkEntry):
            self._link(entry)
        elif isinstance(entry, PageEntry):
            lesson = self._lesson(entry, trail)
            if lesson:
                track.lessons.append(lesson)
        else:  # a deeper section: flattened into the track, its title on its lessons
            first, empty_index = len(track.lessons), None
            for child in entry.children:
                if isinstance(child, PageEntry) and is_index(child.rel):  # the section's own page
                    page = self.read[child.rel]
                    if page.only_lead and not page.lead:
                        empty_index = child.rel
                    else:
                        self._add(child, track, trail)
                else:
                    self._add(child, track, trail + (entry.title,))
            if empty_index:
                self.leads_to[empty_index] = track.lessons[first:]

    def _lesson(self, entry: PageEntry, trail: tuple[str, ...]) -> Lesson | None:
        page = self.read[entry.rel]
        if entry.rel in self.placed:
            self.notes.add("nav entries left out", entry.rel.as_posix(), "is listed twice: kept where it comes first")
            return None
        lesson = Lesson(page, self._title(page, entry.title), text_value(page.meta.get("description")),
                        " / ".join(trail))
        self.placed[entry.rel] = lesson
        shown = display_path(self.source.root / entry.rel)
        for key in page.meta:
            if key not in CARRIED_KEYS:
                self.notes.add("front matter not carried", str(key),
                               KEY_ROLES.get(str(key), "is not a key of unsmudge's front matter"), shown)
        return lesson

    def _title(self, page: SourcePage, nav_title: str) -> str:
        """What the learner saw as the page's heading: its own title heading, else what MkDocs shows."""
        if page.title_id:
            return page.heading
        written = nav_title or text_value(page.meta.get("title")) or page.heading
        if written:
            return written
        if is_index(page.rel):
            return dirname_to_title(page.rel.parent.name) if page.rel.parent.name else self.source.title
        return dirname_to_title(page.rel.stem)

    def _link(self, entry: LinkEntry) -> None:
        self.notes.add("nav entries left out", entry.url, f"an external link ('{entry.title}') in the navigation")

    def _off_nav(self, tracks: list[Track]) -> list[Lesson]:
        """Pages the nav leaves out: published in a last track when a published page links to them,
        otherwise kept as drafts (or left out, when the source says they are no part of the course)."""
        resolver = self.source.resolver()
        waiting = dict.fromkeys(p for p in self.source.pages if p not in self.placed and p not in self.leads_to)
        other = Track(OTHER_PAGES)
        queue = [lesson for track in tracks for lesson in track.lessons]
        while queue and waiting:
            lesson = queue.pop(0)
            for destination in markup.destinations(lesson.page.body):
                target = resolver.target(destination.value, lesson.page.rel)
                if target and target.kind == "page" and target.rel in waiting:
                    del waiting[target.rel]
                    found = self._lesson(PageEntry(target.rel), ())
                    other.lessons.append(found)
                    queue.append(found)
                    self.notes.add("pages not in the navigation", target.rel.as_posix(),
                                   f"published in the last track, '{OTHER_PAGES}': a page links to it")
        if other.lessons:
            tracks.append(other)
        drafts = []
        for rel in waiting:
            if self.source.github:
                self.notes.add("pages not in the navigation", rel.as_posix(), "left out: no published page links to it")
                continue
            found = self._lesson(PageEntry(rel), ())
            found.draft = True
            drafts.append(found)
            self.notes.add("pages not in the navigation", rel.as_posix(), "kept as a draft (not published): no "
                           "published page links to it")
        return drafts


def _name(tracks: list[Track], drafts: list[Lesson]) -> None:
    """Track ids from titles; lesson ids from file names, with the folders when two would clash."""
    taken: set[str] = set()
    for track in tracks:
        track.id = _unique(slug(track.title) or "track", taken)
        for lesson in track.lessons:
            lesson.track = track.id
    for lesson in drafts:
        lesson.track = tracks[-1].id
    lessons = [lesson for track in tracks for lesson in track.lessons] + drafts
    short = [_short_id(lesson) for lesson in lessons]
    clashes = Counter(short)
    taken = set(RESERVED)
    for lesson, name in zip(lessons, short):
        if clashes[name] > 1:
            rel = lesson.page.rel
            parts = rel.parent.parts if is_index(rel) else (*rel.parent.parts, rel.stem)
            name = slug("-".join(parts)) or name
        lesson.id = _unique(name, taken)


def _short_id(lesson: Lesson) -> str:
    rel = lesson.page.rel
    if is_index(rel):
        return slug(rel.parent.name if rel.parent.parts else lesson.title) or "introduction"
    return slug(rel.stem) or "page"


def _unique(name: str, taken: set[str]) -> str:
    candidate, number = name, 2
    while candidate in taken:
        candidate, number = f"{name}-{number}", number + 1
    taken.add(candidate)
    return candidate
