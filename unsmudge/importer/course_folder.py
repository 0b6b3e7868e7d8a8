"""Writing the course folder: course.toml, lessons/<id>.md with TOML front matter, the files the lessons
refer to under media/, and import-report.md. Everything is made in memory first, then written into a
staging folder and swapped in (`unsmudge.site.write_site`), so a failed import leaves nothing behind."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from unsmudge.importer import markup
from unsmudge.importer.links import Resolver, media_file, written_link
from unsmudge.importer.markup import Destination
from unsmudge.importer.outline import Lesson, Outline
from unsmudge.problems import Problem, ProblemsFound, display_path

REPORT = "import-report.md"


def check_target(out: Path, source_root: Path, force: bool) -> None:
    """Refuse an output folder that holds the source or the current folder, an existing course unless
    `force`, and any other existing folder (replacing it could lose work)."""
    shown, resolved = display_path(out), out.resolve()
    for name, folder in (("source", source_root), ("current", Path.cwd())):
        if resolved == folder.resolve() or folder.resolve().is_relative_to(resolved):
            raise ProblemsFound([Problem(shown, "", f"the output folder holds the {name} folder, and an import "
                                         "replaces its output folder", "pass --out a folder of its own")])
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        if not (out / "course.toml").is_file():
            raise ProblemsFound([Problem(shown, "", "the output folder exists and is not a course, so replacing "
                                         "it could lose work", "remove it, or pass --out a new folder")])
        if not force:
            raise ProblemsFound([Problem(shown, "", "the output folder already holds a course",
                                         "pass --force to replace it, or --out another folder")])


def course_files(outline: Outline) -> dict[str, bytes | Path]:
    """Every file of the course folder: site path -> bytes, or the source file to copy."""
    source = outline.source
    resolver = source.resolver()
    files: dict[str, bytes | Path] = {"course.toml": course_toml(outline).encode()}
    media: dict[str, Path] = {}
    for module, lesson in enumerate(outline.lessons, 1):
        body = _body(lesson, outline, resolver, media)
        files[f"lessons/{lesson.id}.md"] = (front_matter(lesson, module) + body).encode()
    files.update(sorted(media.items()))
    return files


def _body(lesson: Lesson, outline: Outline, resolver: Resolver, media: dict[str, Path]) -> str:
    page, source = lesson.page, outline.source
    shown = display_path(source.root / page.rel)

    def change(destination: Destination) -> str | None:
        if destination.value.startswith("#"):  # within the page
            return f"#{page.anchor(destination.value[1:])}"
        target = resolver.target(destination.value, page.rel)
        if target is None:
            return None
        if target.kind == "file":
            media[media_file(target.rel)] = source.root / target.rel
        if target.kind == "folder" and not source.source_url:
            source.notes.add("links to folders without a page", target.rel.as_posix() + "/",
                             "kept as written, so the build reports them: pass --source-url to link to where "
                             "the source is published", shown)
        if target.kind != "page":
            return written_link(target, None, source.source_url)
        leads_to = outline.lesson_of.get(target.rel)
        if leads_to is None:
            return None
        fragment = target.fragment
        if leads_to.page.rel == target.rel:
            fragment = leads_to.page.anchor(fragment)
            if fragment == leads_to.page.title_id:
                fragment = ""  # the title heading is the top of the lesson page
        return written_link(replace(target, fragment=fragment), leads_to.id, source.source_url)

    return markup.rewrite(_fitted(page.body, source, shown), change).strip("\n") + "\n"


def _fitted(text: str, source, shown: str) -> str:
    """The page's text without what the site cannot have (noted), and with GitHub's math as ours."""
    text, remote = markup.without_remote_images(text)
    if remote:
        source.notes.add("raw HTML and images the site cannot have", "![alt](https://...)",
                         "replaced by their alt text: a course loads nothing from another host (download them "
                         "into the source to keep them)", shown)
    text, styles = markup.without_inline_styles(text)
    if styles:
        source.notes.add("raw HTML and images the site cannot have", 'style="..."',
                         "dropped: the site's Content-Security-Policy forbids inline styles", shown)
    if source.check_icons:  # noted with the extension (mkdocs._emoji_uses)
        text = markup.with_check_icons(text)[0]
    return markup.github_math(text) if source.github else text


def front_matter(lesson: Lesson, module: int) -> str:
    lines = ["+++", f"title = {toml_string(lesson.title)}", f"module = {module}",
             f"track = {toml_string(lesson.track)}"]
    if lesson.kicker:
        lines.append(f"kicker = {toml_string(lesson.kicker)}")
    if lesson.subtitle:
        lines.append(f"subtitle = {toml_string(lesson.subtitle)}")
    if lesson.draft:
        lines.append("draft = true")
    return "\n".join(lines + ["+++", "", ""])


def course_toml(outline: Outline) -> str:
    source = outline.source
    lines = [f"# written by `unsmudge import`; what could not be carried over is in {REPORT}",
             f"title = {toml_string(source.title)}"]
    for key, value in (("description", source.description), ("base_url", source.base_url),
                       ("language", source.language)):
        if value:
            lines.append(f"{key} = {toml_string(value)}")
    published = [lesson.id for track in outline.tracks for lesson in track.lessons]
    lines += ["lessons = ["] + [f"  {toml_string(i)}," for i in published] + ["]"]
    for track in outline.tracks:
        lines += ["", "[[tracks]]", f"id = {toml_string(track.id)}", f"title = {toml_string(track.title)}"]
        if track.description:
            lines.append(f"description = {toml_string(track.description)}")
    return "\n".join(lines) + "\n"


def toml_string(text: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's, except that TOML also forbids a raw DEL."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def report(outline: Outline, kind: str, out: Path, files: dict) -> str:
    """What was imported, and the notes: what could not be carried over."""
    lessons = sum(len(track.lessons) for track in outline.tracks)
    copied = sum(1 for rel in files if rel.startswith("media/"))
    drafts = f" and {len(outline.drafts)} draft(s)" if outline.drafts else ""
    return (f"# Import report\n\nImported {lessons} lessons in {len(outline.tracks)} tracks{drafts} from the "
            f"{kind} `{outline.source.shown}`, and {copied} files they refer to into media/.\n"
            f"Build it with `unsmudge build --content {display_path(out)}`.\n\n" + outline.source.notes.markdown())
