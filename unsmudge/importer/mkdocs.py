"""An MkDocs (or Material for MkDocs) project: `mkdocs.yml`, its docs folder and its navigation.

The navigation comes from, in this order: the awesome-nav plugin's `.nav.yml` files (the plugin replaces
`nav` when it is on), `nav` in mkdocs.yml, awesome-pages' `.pages` files, and the folders themselves.
The markdown extensions and plugins the build does not have are noted with what each did and, where
its syntax shows, how many pages use it.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from unsmudge.importer import markup, yaml_file
from unsmudge.importer.nav import ROOT, FolderNav, Group, LinkEntry, Ref
from unsmudge.importer.nav_files import AWESOME_NAV, AWESOME_PAGES, DEFAULT_FILE, URL, folder_rules
from unsmudge.importer.notes import Notes
from unsmudge.importer.outline import Source
from unsmudge.importer.pages import find_pages, ignored
from unsmudge.importer.yaml_file import text_value
from unsmudge.problems import Problem, ProblemsFound, display_path

CONFIG_NAMES = ("mkdocs.yml", "mkdocs.yaml")
DEFAULT_EXCLUDED = (".*", "/templates/")  # MkDocs leaves these out of the docs

# bundles and their parts; extensions the build has under another name
BUNDLES = {
    "extra": ("abbr", "attr_list", "def_list", "fenced_code", "footnotes", "md_in_html", "tables"),
    "pymdownx.extra": ("pymdownx.betterem", "pymdownx.superfences", "footnotes", "attr_list", "def_list",
                       "tables", "abbr", "md_in_html"),
}
SAME_AS = {"codehilite": "pymdownx.highlight", "fenced_code": "pymdownx.superfences"}
IMPORTED = {"meta"}  # front matter: the import reads it
EMOJI = "pymdownx.emoji"

# what each extension did in the source, and the syntax that shows a page uses it
EXTENSIONS = {
    "abbr": ("abbreviations explained on hover (*[HTML]: ...)", r"^\*\[[^\]]+\]:"),
    "def_list": ("definition lists (a term, then ': its definition')", r"^:[ \t]{1,3}\S"),
    "sane_lists": ("stricter list parsing", None),
    "smarty": ("typographic quotes and dashes", None),
    "nl2br": ("line breaks kept as written", None),
    "wikilinks": ("[[Wiki links]]", r"\[\[[^\]]+\]\]"),
    "pymdownx.arithmatex": ("math ($...$, $$...$$, \\(...\\)) typeset by MathJax or KaTeX",
                            r"\$\$|\\\(|\\\[|(?<![\\$\w])\$(?=\S)[^$\n]+(?<=\S)\$(?!\w)"),
    "pymdownx.betterem": ("smarter bold and italic with * and _", None),
    "pymdownx.blocks.admonition": ("/// admonition blocks", r"^[ \t]*/// admonition"),
    "pymdownx.blocks.caption": ("figure and table captions (/// caption)", r"^[ \t]*/// (?:figure-|table-)?caption"),
    "pymdownx.blocks.details": ("/// details blocks", r"^[ \t]*/// details"),
    "pymdownx.blocks.tab": ("/// tab blocks", r"^[ \t]*/// tab"),
    "pymdownx.blocks.html": ("/// html blocks", r"^[ \t]*/// html"),
    "pymdownx.caret": ("^^inserted^^ text and ^superscript^", r"\^\^[^^\n]+\^\^"),
    "pymdownx.critic": ("CriticMarkup edits ({++ ++}, {-- --})", r"\{\+\+|\{--|\{~~"),
    EMOJI: ("emoji and icons from :shortcodes:", markup.SHORTCODE.pattern),
    "pymdownx.escapeall": ("backslash escapes of any character", None),
    "pymdownx.inlinehilite": ("highlighted inline code (`#!python x`)", r"`#!\w+"),
    "pymdownx.keys": ("keyboard keys (++ctrl+c++)", r"\+\+[\w-]+(?:\+[\w-]+)*\+\+"),
    "pymdownx.magiclink": ("bare URLs, @user and #123 shorthand turned into links", None),
    "pymdownx.mark": ("==highlighted== text", r"==[^=\s][^=\n]*=="),
    "pymdownx.progressbar": ("progress bars ([=50%])", r"\[=\d+%"),
    "pymdownx.saneheaders": ("headings only with a space after #", None),
    "pymdownx.smartsymbols": ("(c), -->, 1/2 shown as symbols", None),
    "pymdownx.snippets": ("text included from other files (--8<--)", r"--8<--"),
    "pymdownx.striphtml": ("comments stripped from the HTML", None),
    "pymdownx.tasklist": ("task lists with checkboxes (- [x])", r"^[ \t]*[-*+][ \t]+\[[ xX]\][ \t]"),
    "pymdownx.tilde": ("~~strikethrough~~ and ~subscript~", r"~~[^~\n]+~~"),
    "mdx_truly_sane_lists": ("lists indented by two spaces", None),
    "markdown_include.include": ("text included from other files ({!file!})", r"\{!.+?!\}"),
    "material.extensions.emoji": ("Material's icon set for :shortcodes:", None),
}
PLUGINS = {  # what each did; None: unsmudge does it too, or the import used it
    "search": None, "offline": None, "privacy": None, "section-index": None,
    AWESOME_NAV: None, AWESOME_PAGES: None,
    "tags": "pages listed by tag",
    "blog": "a blog: posts, archive, categories",
    "social": "social preview cards for each page",
    "minify": "minified HTML, CSS and JavaScript",
    "optimize": "compressed images",
    "info": "bug-report bundles",
    "meta": "front matter shared by a folder's pages (.meta.yml)",
    "projects": "several projects built into one site",
    "typeset": "formatted headings kept in the navigation",
    "group": "plugins switched on in groups",
    "git-revision-date-localized": "each page's last change date, from git",
    "git-committers": "each page's contributors, from git",
    "git-authors": "each page's authors, from git",
    "mkdocs-jupyter": "Jupyter notebooks as pages (a link to one goes to the notebook's file, copied into media/)",
    "mknotebooks": "Jupyter notebooks as pages (a link to one goes to the notebook's file, copied into media/)",
    "macros": "Jinja variables and macros in pages ({{ ... }})",
    "literate-nav": "the navigation written as a markdown list (SUMMARY.md)",
    "glightbox": "images opening in a lightbox",
    "mermaid2": "Mermaid diagrams",
    "bibtex": "citations from a BibTeX file",
    "redirects": "redirects from old page addresses",
    "i18n": "the site in several languages",
    "static-i18n": "the site in several languages",
    "include-markdown": "text included from other files",
    "mkdocstrings": "API reference generated from source code",
    "autorefs": "links to headings by their title ([title][])",
    "exclude": "files left out of the site",
    "table-reader": "tables read from CSV and Excel files",
    "drawio": "draw.io diagrams",
    "rss": "an RSS feed",
}
USES = {"macros": r"\{\{.+?\}\}|\{%.+?%\}", "mermaid2": r"^[ \t]*```mermaid"}


def read_project(path: Path, skip: Path | None = None) -> Source:
    """The project whose mkdocs.yml is `path` or is in the folder `path`."""
    config_path = path if path.is_file() else next((path / n for n in CONFIG_NAMES if (path / n).is_file()), None)
    if config_path is None:
        raise ProblemsFound([Problem(display_path(path), "", "no mkdocs.yml here",
                                     "pass the folder that holds mkdocs.yml, or import a plain markdown tree "
                                     "with `unsmudge import markdown`")])
    config, text, shown = _settings(config_path)
    docs = config_path.parent / str(config.get("docs_dir") or "docs")
    if not docs.is_dir():
        raise ProblemsFound([Problem(shown, yaml_file.line_of(text, "docs_dir"),
                                     f"the docs folder '{display_path(docs)}' does not exist",
                                     "set docs_dir to the folder that holds the pages")])
    notes = Notes()
    patterns = [*DEFAULT_EXCLUDED, *_lines(config.get("exclude_docs")), *_lines(config.get("draft_docs"))]
    skip = skip.resolve() if skip else None
    pages = find_pages(docs, lambda rel: any(ignored(rel, p) for p in patterns)
                       or (skip is not None and (docs / rel).resolve() == skip))
    plugins = _named(config.get("plugins", ["search"]))
    nav = _nav(config, plugins, docs, pages, notes, shown, text)
    written = [(docs / rel).read_text(encoding="utf-8", errors="replace") for rel in pages]
    # each page as named in notes, as written, and with code masked
    bodies = [(display_path(docs / rel), body, markup.mask(body)) for rel, body in zip(pages, written)]
    where = lambda needle: yaml_file.place(shown, text, needle)  # noqa: E731
    _note_extensions(config, bodies, notes, where)
    _note_plugins(plugins, bodies, notes, where)
    _note_theme(config, notes, where)
    theme = config.get("theme") if isinstance(config.get("theme"), dict) else {}
    base_url = config.get("site_url") if isinstance(config.get("site_url"), str) else ""
    if base_url and not re.match(r"^https?://[^/]+", base_url):
        notes.add("settings not carried", "site_url", f"'{base_url}' is not an http(s) address", shown)
        base_url = ""
    return Source(docs, shown, text_value(config.get("site_name")) or config_path.parent.resolve().name, nav, pages,
                  notes, text_value(config.get("site_description")), base_url, text_value(theme.get("language")),
                  directory_urls=config.get("use_directory_urls", True) is not False,
                  notebook_pages=_notebook_pages(plugins), check_icons=EMOJI in _extension_names(config))


def _settings(path: Path) -> tuple[dict, str, str]:
    """(settings, text, name as shown) of an mkdocs.yml, with INHERIT followed: the parent's settings
    overridden key by key (nested ones merged)."""
    config, text, shown = yaml_file.read(path)
    if not isinstance(config, dict):
        raise ProblemsFound([Problem(shown, "line 1", "expected 'key: value' settings", "see MkDocs' documentation")])
    parent_name = config.pop("INHERIT", None)
    if not parent_name:
        return config, text, shown
    parent = path.parent / str(parent_name)
    if not parent.is_file():
        raise ProblemsFound([Problem(shown, yaml_file.line_of(text, "INHERIT"),
                                     f"INHERIT names '{parent_name}', which does not exist", "fix the path")])
    return _merge(_settings(parent)[0], config), text, shown


def _merge(base: dict, over: dict) -> dict:
    merged = dict(base)
    for key, value in over.items():
        merged[key] = _merge(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) \
            else value
    return merged


def _notebook_pages(plugins: dict) -> tuple[str, ...]:
    """The suffixes of the files a notebook plugin served as pages: mkdocs-jupyter's `include` (by default
    `*.py` and `*.ipynb`), mknotebooks' `.ipynb`."""
    suffixes = [".ipynb"] if "mknotebooks" in plugins else []
    if "mkdocs-jupyter" in plugins:
        options = plugins["mkdocs-jupyter"] if isinstance(plugins["mkdocs-jupyter"], dict) else {}
        include = options.get("include") or ["*.py", "*.ipynb"]
        suffixes += [suffix for suffix in (".ipynb", ".py") if any(str(p).endswith(suffix) for p in include)]
    return tuple(dict.fromkeys(suffixes))


def _named(value) -> dict[str, object]:
    """Plugins or extensions as `name -> options`, from a list of names and one-key maps, or a map."""
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    named: dict[str, object] = {}
    for item in value or []:
        if isinstance(item, dict):
            named.update({str(k): v for k, v in item.items()})
        else:
            named[str(item)] = None
    return named


def _nav(config: dict, plugins: dict, docs: Path, pages: list[PurePosixPath], notes: Notes, shown: str,
         text: str) -> list:
    names = {name.removeprefix("material/"): options for name, options in plugins.items()}
    for plugin in (AWESOME_NAV, AWESOME_PAGES):
        options = names.get(plugin)
        filename = options.get("filename", DEFAULT_FILE[plugin]) if isinstance(options, dict) else DEFAULT_FILE[plugin]
        if plugin in names and (plugin == AWESOME_NAV or not config.get("nav")):
            return FolderNav(pages, notes, folder_rules(docs, plugin, filename, notes)).folder()
    if config.get("nav"):
        return FolderNav(pages, notes).resolve(_nav_items(config["nav"], shown, text), ROOT)
    return FolderNav(pages, notes).folder()


def _nav_items(written, shown: str, text: str) -> list:
    if not isinstance(written, list):
        raise ProblemsFound([Problem(shown, yaml_file.line_of(text, "nav:"), "'nav' must be a list",
                                     "write one '- Title: page.md' per line")])
    items: list = []
    for entry in written:
        title, value = (next(iter(entry.items())) if isinstance(entry, dict) and len(entry) == 1 else ("", entry))
        if isinstance(value, list):
            items.append(Group(str(title), _nav_items(value, shown, text)))
        elif isinstance(value, str) and URL.match(value):
            items.append(LinkEntry(str(title) or value, value))
        elif isinstance(value, str):
            items.append(Ref(value, str(title), yaml_file.place(shown, text, value)))
        elif value is None and title:
            items.append(Group(str(title), []))
        else:
            raise ProblemsFound([Problem(shown, yaml_file.line_of(text, str(title or entry)),
                                         f"cannot read the nav entry '{title or entry}'",
                                         "write 'page.md', 'Title: page.md' or 'Title:' with a list below")])
    return items


def carried_extensions() -> set[str]:
    """The markdown extensions the build's converter has, by module name ('attr_list', 'pymdownx.tabbed')."""
    from unsmudge.markdown import LessonRenderer

    md = LessonRenderer(Path("."), set()).md
    registries = (md.preprocessors, md.parser.blockprocessors, md.treeprocessors, md.inlinePatterns,
                  md.postprocessors)
    modules = {type(p).__module__ for registry in registries for p in registry}
    modules |= {type(e).__module__ for e in md.registeredExtensions}
    return {m.removeprefix("markdown.extensions.") for m in modules}


def _extension_names(config: dict) -> list[str]:
    """The markdown extensions mkdocs.yml turns on, bundles opened up."""
    names = []
    for name in _named(config.get("markdown_extensions")):
        name = name.removeprefix("markdown.extensions.")
        names += BUNDLES.get(name, (name,))
    return list(dict.fromkeys(names))


def _note_extensions(config: dict, bodies: list[tuple[str, str, str]], notes: Notes, where) -> None:
    carried = carried_extensions()
    written = _named(config.get("markdown_extensions"))
    for name in _extension_names(config):
        if name in IMPORTED or SAME_AS.get(name, name) in carried:
            continue
        role, syntax = EXTENSIONS.get(name, ("a markdown extension the import does not know", None))
        uses = _emoji_uses(bodies) if name == EMOJI else _uses(syntax, bodies)
        notes.add("markdown extensions not carried", name, role + uses, where(name))
    options = {k.removeprefix("markdown.extensions."): v for k, v in written.items()}
    toc = options.get("toc") if isinstance(options.get("toc"), dict) else {}
    if toc.get("slugify"):
        notes.add("markdown extensions not carried", "toc: slugify",
                  f"heading ids were made by {toc['slugify']}; the build makes its own, so a link to a heading "
                  "whose id differs is reported by the build", where("slugify"))
    fences = options.get("pymdownx.superfences") if isinstance(options.get("pymdownx.superfences"), dict) else {}
    for fence in fences.get("custom_fences") or []:
        if isinstance(fence, dict) and fence.get("name"):
            syntax = rf"^[ \t]*(```|~~~)[ \t]*{re.escape(str(fence['name']))}\b"
            notes.add("markdown extensions not carried", f"custom fence '{fence['name']}'",
                      "rendered those fences specially; they show as code" + _uses(syntax, bodies, code=True),
                      where(f"name: {fence['name']}"))


def _note_plugins(plugins: dict, bodies: list[tuple[str, str, str]], notes: Notes, where) -> None:
    for name in plugins:
        plain_name = name.removeprefix("material/")
        role = PLUGINS.get(plain_name, "a plugin the import does not know")
        if role:
            notes.add("plugins not carried", name, role + _uses(USES.get(plain_name), bodies), where(name))


def _note_theme(config: dict, notes: Notes, where) -> None:
    for key in ("extra_css", "extra_javascript"):
        for item in config.get(key) or []:
            file = item.get("path") if isinstance(item, dict) else item
            notes.add("theme files not carried", f"{key}: {file}", "the course uses unsmudge's theme; "
                      "restyle it with templates/ (docs/authoring.md)", where(str(file)))
    theme = config.get("theme") if isinstance(config.get("theme"), dict) else {}
    if theme.get("custom_dir"):
        notes.add("theme files not carried", f"theme.custom_dir: {theme['custom_dir']}",
                  "template overrides for the MkDocs theme", where("custom_dir"))


def _uses(syntax: str | None, bodies: list[tuple[str, str, str]], code: bool = False) -> str:
    """How many pages show the syntax, and where: looked for outside code, unless it is a kind of code fence."""
    if not syntax:
        return ""
    found = _found(re.compile(syntax, re.M), bodies, code)
    if not found:
        return "; no page uses it"
    return f"; used in {_count(len(found), 'page')} ({_places(found)})"


def _emoji_uses(bodies: list[tuple[str, str, str]]) -> str:
    """Where pages use :shortcodes:, the check and close icons (written as ✓ and ✗, see
    course_folder) apart from the others, which show as written."""
    icons = _found(markup.ICON, bodies)
    others = _found(markup.SHORTCODE, bodies, skip=markup.ICON)
    pages = {shown for shown, _ in icons + others}
    if not pages:
        return "; no page uses it"
    uses = f"; used in {_count(len(pages), 'page')}"
    if icons:
        uses += f"; {_count(_total(icons), 'check and close icon')} written as ✓ and ✗ ({_places(icons)})"
    if others:
        uses += f"; {_count(_total(others), 'other shortcode')} show{'s' if _total(others) == 1 else ''} " \
                f"as text ({_places(others)}): replace them with characters or images"
    return uses


def _found(pattern: re.Pattern, bodies: list[tuple[str, str, str]], code: bool = False,
           skip: re.Pattern | None = None) -> list[tuple[str, list[int]]]:
    """(page, the line of each match) for each page where `pattern` matches (outside code unless `code`),
    leaving out matches that start where `skip` matches."""
    found = []
    for shown, written, masked in bodies:
        text = written if code else masked
        skipped = {m.start() for m in skip.finditer(text)} if skip else set()
        lines = [text.count("\n", 0, m.start()) + 1 for m in pattern.finditer(text) if m.start() not in skipped]
        if lines:
            found.append((shown, lines))
    return found


def _total(found: list[tuple[str, list[int]]]) -> int:
    return sum(len(lines) for _, lines in found)


def _count(number: int, thing: str) -> str:
    return f"{number} {thing}{'s' if number != 1 else ''}"


def _places(found: list[tuple[str, list[int]]], most: int = 5) -> str:
    """'a.md: lines 3-5, 9; b.md: line 2', at most `most` pages and as many line ranges each."""
    shown = []
    for page, lines in found[:most]:
        ranges: list[list[int]] = []
        for line in sorted(set(lines)):
            if ranges and line == ranges[-1][1] + 1:
                ranges[-1][1] = line
            else:
                ranges.append([line, line])
        written = [f"{a}-{b}" if b > a else str(a) for a, b in ranges]
        more = f" and {len(written) - most} more" if len(written) > most else ""
        shown.append(f"{page}: line{'s' if len(set(lines)) > 1 else ''} {', '.join(written[:most])}{more}")
    more = f"; and {len(found) - most} more pages" if len(found) > most else ""
    return "; ".join(shown) + more


def _lines(value) -> list[str]:
    if isinstance(value, str):
        return value.splitlines()
    return [str(v) for v in value] if isinstance(value, list) else []
