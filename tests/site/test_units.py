"""Small pieces: front matter, key lines, diagrams, markdown features, assets, the starter, the CLI."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.commands import tree
from unsmudge import diagram
from unsmudge.cli import build_parser, main
from unsmudge.course import Lesson, split_front_matter
from unsmudge.problems import key_line
from unsmudge.markdown import LessonRenderer
from unsmudge.theme import Theme


def test_front_matter_is_split_with_the_body_line():
    assert split_front_matter("+++\na = 1\n+++\nbody\n") == ("a = 1", "body\n", 4)
    assert split_front_matter("---\na: 1\n---\n") is None
    assert split_front_matter("+++\na = 1\n") is None


def test_key_line_finds_nested_keys_after_their_table():
    text = 'title = "x"\naudio = "top"\n[narration]\naudio = "a"\n'
    assert key_line(text, ("title",)) == 1
    assert key_line(text, ("narration", "audio")) == 4
    assert key_line(text, ("narration", "audio"), 1) == 5
    assert key_line(text, ("missing",)) is None


def test_pipeline_diagram_is_inline_svg_with_classes_and_a_title():
    svg = diagram.render("# How it flows\nA -> B & C -> D\nE")
    assert svg.startswith('<figure class="diagram" tabindex="0"><svg ') and 'aria-label="How it flows"' in svg
    assert svg.count('class="diagram-box"') == 4 and svg.count('class="diagram-arrow"') == 2
    assert "B &amp; C" in svg and "style=" not in svg and "<script" not in svg
    assert diagram.parse("A->B\n\n C -> D ") == ("", [["A", "B"], ["C", "D"]])


def _convert(tmp_path, body, ids=("here", "other")):
    (tmp_path / "lessons").mkdir(exist_ok=True)
    (tmp_path / "media").mkdir(exist_ok=True)
    (tmp_path / "media" / "pic.png").write_bytes(b"png")
    lesson = Lesson("here", tmp_path / "lessons" / "here.md", None, body, 5)
    return LessonRenderer(tmp_path, set(ids)).convert(lesson)


def test_markdown_features_render_to_the_expected_html(tmp_path):
    body = """
## Intro

!!! warning "Careful"
    Body.

???+ note "Open"
    Shown.

=== "A"
    one

=== "B"
    two

```python
x = 1
```

Text[^n] with [other](other.md#part), [web](https://example.com) and ![p](../media/pic.png).

```demo
my-demo
```

[^n]: Note.
"""
    converted, problems = _convert(tmp_path, body)
    html = converted.html
    assert problems == []
    assert '<div class="admonition warning">' in html and '<details class="note" open>' in html
    assert 'class="tabbed-set tabbed-alternate"' in html
    assert '<div class="highlight"><pre tabindex="0"><span></span><code><span class="n">x</span>' in html
    assert 'href="other.html#part"' in html and 'src="media/pic.png"' in html
    assert re.search(r'<a href="https://example.com" rel="noopener" target="_blank">', html)
    assert 'id="fn:n"' in html and '<h2 id="intro">' in html
    assert converted.demos == ["my-demo"] and '<div data-unsmudge-demo="my-demo"></div>' in html
    assert ("other", "part", "other.md#part", "line 24") in converted.anchors
    assert converted.toc == [{"level": 2, "id": "intro", "name": "Intro"}]
    assert "Careful" in converted.text and "<" not in converted.text


def test_links_outside_the_content_folder_and_absolute_links_are_problems(tmp_path):
    _, problems = _convert(tmp_path, "[a](/abs.html) [b](../../secret.txt) [c](mailto:x@y.z)")
    messages = [p.message for p in problems]
    assert messages == ["link '/abs.html' is absolute", "'../../secret.txt' leaves the content folder"]


def test_assets_get_content_hashed_names_and_course_templates_override(tmp_path):
    (tmp_path / "static" / "css").mkdir(parents=True)
    (tmp_path / "static" / "css" / "site.css").write_text("body{}")
    theme = Theme(tmp_path)
    assert theme.asset("css/site.css") == "assets/css/site.7c98040a54.css"  # sha256(b"body{}")[:10]
    assert re.fullmatch(r"assets/js/site\.[0-9a-f]{10}\.js", theme.asset("js/site.js"))
    assert theme.asset("vendor/lunr.LICENSE.txt") == "assets/vendor/lunr.LICENSE.txt"
    assert theme.assets["css/site.css"].data == b"body{}"
    # a course's partial replaces the theme's, also where a theme template includes it
    (tmp_path / "partials").mkdir()
    (tmp_path / "partials" / "demo.html").write_text("the course's slider for {{ demo.id }}")
    assert Theme(tmp_path).render("partials/demo-slot.html", demo={"missing": False, "id": "d"}).strip() == (
        "the course's slider for d")


def test_a_part_of_the_theme_a_site_leaves_out_is_never_read(tmp_path, monkeypatch):
    """A site without a draw demo does not read, or hash, the live mode's 5 MB runtime in templates/live/."""
    from unsmudge.theme import LIVE, default_theme

    read = []
    real = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda path: read.append(path) or real(path))
    theme = Theme(tmp_path)
    theme.drop_assets(LIVE)
    files = {asset.url: asset.data for asset in theme.assets.values()}
    live = default_theme() / "live"
    assert not [path for path in read if path.is_relative_to(live)]
    assert files and not any(url.startswith("assets/live/") for url in files)
    assert any(path.is_relative_to(default_theme() / "static") for path in read)


def test_lunr_is_vendored_with_its_licence():
    vendor = Path(__file__).resolve().parents[2] / "templates" / "static" / "vendor"
    assert "lunr" in (vendor / "lunr.min.js").read_text()[:400]
    assert "MIT" in (vendor / "lunr.LICENSE.txt").read_text() or "Permission" in (vendor / "lunr.LICENSE.txt").read_text()


def test_new_refuses_a_folder_that_is_not_empty(tmp_path, capsys):
    """(What `new` writes is built in tests/site/test_starter.py.)"""
    assert main(["new", str(tmp_path / "course")]) == 0
    before = tree(tmp_path / "course")
    assert main(["new", str(tmp_path / "course")]) == 1
    assert "the folder exists and is not empty" in capsys.readouterr().err
    assert tree(tmp_path / "course") == before


def test_precompute_is_a_subcommand_whose_module_loads_only_when_asked(tmp_path):
    """In a fresh interpreter: the CLI and its other commands leave the diffusion stage unimported;
    `precompute` imports its command module (and still not torch: the arguments alone ask for no work)."""
    script = (
        "import sys\n"
        "from unsmudge.cli import main\n"
        "stage = lambda: sorted(m for m in sys.modules if m.startswith('unsmudge.precompute') or m == 'torch')\n"
        "code = main(['new', sys.argv[1]])\n"
        "print('after new:', stage())\n"
        "try:\n"
        "    main(['precompute', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('after precompute:', stage())\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "course")], capture_output=True,
                          text=True, env=dict(os.environ, HF_HUB_OFFLINE="1"), timeout=120)
    assert done.returncode == 0, done.stderr
    assert "after new: []\n" in done.stdout
    assert "after precompute: ['unsmudge.precompute', " in done.stdout
    assert "'unsmudge.precompute.command'" in done.stdout and "'torch'" not in done.stdout
    assert "--processes N" in done.stdout  # the subcommand's own options, from its module


def test_the_cli_hands_precompute_its_arguments(monkeypatch):
    calls = []

    class Fake:
        @staticmethod
        def add_arguments(parser):
            calls.append("add")
            parser.add_argument("--dtype", default="float32")

        @staticmethod
        def run(args):
            calls.append(args.dtype)
            return 0

    monkeypatch.setitem(sys.modules, "unsmudge.precompute.command", Fake)
    build_parser(["build"])
    assert calls == []
    assert main(["precompute", "--dtype", "float16"]) == 0
    assert calls == ["add", "float16"]


def test_build_flags_are_the_documented_contract():
    args = build_parser(["build"]).parse_args(["build", "--content", "c", "--frames", "f", "--out", "o",
                                               "--zip", "z.zip", "--base-url", "https://x.y/"])
    assert (args.content, args.frames, args.out, args.zip, args.base_url) == (
        Path("c"), Path("f"), Path("o"), Path("z.zip"), "https://x.y/")
    defaults = build_parser(["build"]).parse_args(["build"])
    assert (defaults.content, defaults.frames, defaults.out) == (Path("content"), Path("build"), Path("site"))


@pytest.mark.parametrize("url", ["ftp://x", "example.org"])
def test_base_url_must_be_http(tmp_path, capsys, url):
    from tests.site.helpers import build, mini_course

    content = mini_course(tmp_path)
    (content / "course.toml").write_text(f'base_url = "{url}"\n' + (content / "course.toml").read_text())
    code, err = build(tmp_path, content, capsys)
    assert code == 1 and "course.toml: line 1, key 'base_url'" in err


def test_search_index_is_a_classic_script_assigning_a_global(tmp_path, capsys):
    import json

    from tests.site.helpers import build, mini_course

    content = mini_course(tmp_path)
    assert build(tmp_path, content, capsys)[0] == 0
    [index] = (tmp_path / "site" / "assets").glob("search-index.*.js")
    text = index.read_text()
    assert text.startswith("window.unsmudgeSearchDocs=") and text.endswith(";\n")
    docs = json.loads(text[len("window.unsmudgeSearchDocs="):-2])
    assert [(d["id"], d["url"], d["title"]) for d in docs] == [("one", "one.html", "One"), ("two", "two.html", "Two")]
    assert docs[0]["headings"] == "Start" and "Hello." in docs[0]["text"]
    page = (tmp_path / "site" / "one.html").read_text()
    assert f'data-index="assets/{index.name}"' in page and 'data-lunr="assets/vendor/lunr.min.' in page


@pytest.mark.parametrize("rel", ["../escape.html", "a/../../escape.html", "/etc/passwd"])
def test_the_writer_refuses_paths_outside_the_output(tmp_path, rel):
    from unsmudge.problems import ProblemsFound
    from unsmudge.site import write_site

    with pytest.raises(ProblemsFound, match="refusing to write outside the output folder"):
        write_site({"index.html": b"ok", rel: b"evil"}, tmp_path / "site")
    assert not (tmp_path / "escape.html").exists() and not (tmp_path / "site").exists()


def test_the_quicker_inline_regexes_find_what_python_markdown_and_arithmatex_would(tmp_path):
    from tests.site.helpers import FIXTURE
    from unsmudge.markdown import INLINE_FORMULA, QUICKER_INLINE

    texts = ["a [link](b.md) and ![a picture](p.png), [ref][r] and [short] !\\[not a picture]",
             "`code` and ``two `ticks` `` and \\`escaped\\` and \\\\`after a backslash`",
             "$x^2$ and \\$5, \\\\$y$ and US$5, $$z$$ in a line, \\(a\\) and \\\\\\(b\\), $ 3 $ and $a_1 + b$",
             "[r]: https://example.org\n\n![x][r] [x]! [^1] [a]b] `unclosed and $unclosed",
             *(lesson.read_text().split("+++")[-1] for lesson in sorted((FIXTURE / "lessons").glob("*.md")))]
    quick, original = LessonRenderer(tmp_path, set()), LessonRenderer(tmp_path, set())
    for name, (theirs, ours) in QUICKER_INLINE.items():
        assert quick.md.inlinePatterns[name].compiled_re.pattern == ours
        original.md.inlinePatterns[name].compiled_re = re.compile(theirs, re.DOTALL | re.UNICODE)
    assert INLINE_FORMULA.startswith(r"(?=[\\$])")
    original.md.inlinePatterns["arithmatex-inline"].compiled_re = re.compile(
        INLINE_FORMULA.removeprefix(r"(?=[\\$])"), re.DOTALL | re.UNICODE)
    for n, text in enumerate(texts):
        lesson = Lesson(f"l{n}", tmp_path / "lessons" / f"l{n}.md", None, text, 1)
        assert quick.draft(lesson).html == original.draft(lesson).html


def test_a_toc_marker_is_replaced_where_one_is_written(tmp_path):
    renderer = LessonRenderer(tmp_path, set())
    body = "## One\n\n[TOC]\n\n## Two\n"
    with_marker = renderer.draft(Lesson("a", tmp_path / "lessons" / "a.md", None, body, 1)).html
    assert '<div class="toc">' in with_marker and "[TOC]" not in with_marker
    without = renderer.draft(Lesson("b", tmp_path / "lessons" / "b.md", None, "## One\n\n## Two\n", 1)).html
    assert '<div class="toc">' not in without and without.count("<h2") == 2
