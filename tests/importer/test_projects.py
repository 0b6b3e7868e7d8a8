"""Real-shaped projects written for these tests, imported with one command each and built strictly:
lessons and their order, track descriptions, front matter, links and images that resolve in the site."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.commands import tree
from tests.importer.helpers import PROJECTS, body, build, course, front_matter, local_references, run_import, tracks


def imported_and_built(tmp_path, capsys, kind: str, name: str, *extra: str) -> tuple[Path, Path, str]:
    content, site = tmp_path / "content", tmp_path / "site"
    code, report, err = run_import(capsys, kind, PROJECTS / name, content, *extra)
    assert code == 0, err
    code, err = build(capsys, content, site)
    assert code == 0, err
    return content, site, report


def assert_every_reference_resolves(site: Path) -> None:
    """Links, images and raw-HTML sources of every lesson page name a file of the site, and a link's
    fragment an id of its page (the build checks markdown links; raw HTML it leaves as written)."""
    pages = {p.name: p.read_text(encoding="utf-8") for p in site.glob("*.html")}
    for name, page in pages.items():
        for ref in local_references(page):
            path, _, fragment = ref.partition("#")
            path = unquote(path.split("?")[0])
            assert (site / path).is_file(), f"{name} refers to {ref}, which is not in the site"
            if fragment and path.endswith(".html"):
                assert f'id="{fragment}"' in pages[path], f"{name} links to {ref}: no such id"


def assert_no_raw_tex(site: Path) -> None:
    """Every formula is typeset: no TeX delimiter is left in the text a learner reads."""
    for page in site.glob("*.html"):
        text = re.sub(r"<(script|style|code|pre|math)\b.*?</\1>|<[^>]+>", " ",
                      page.read_text(encoding="utf-8"), flags=re.S)
        assert not re.search(r"\$\$|\\\(|\\\[|\$[^$\s][^$]*\$", text), f"raw TeX in {page.name}"


def test_mkdocs_with_nav(tmp_path, capsys):
    content, site, report = imported_and_built(tmp_path, capsys, "mkdocs", "mkdocs-nav")
    config = course(content)
    assert config["title"] == "Deep Learning Notes"
    assert config["description"] == "Notes on neural networks, from regression to convolutions."
    assert config["base_url"] == "https://example.org/dl-notes/"
    # the nav's order; a loose page is a track of its own; the page off the nav that is linked comes last
    assert tracks(content) == [
        ("deep-learning-notes", ["deep-learning-notes"]),
        ("basics", ["linear-regression", "gradient-descent"]),
        ("neural-networks", ["nets", "mlp", "convolutions"]),
        ("other-pages", ["about"]),
    ]
    # an index page holding only a paragraph describes its track; one with more is a lesson too
    described = {t["id"]: t.get("description", "") for t in config["tracks"]}
    assert described["basics"] == "The first steps: fitting a line, and the method that fits nearly everything else."
    assert described["neural-networks"] == "Layers of linear maps with a non-linearity between them."
    # YAML front matter and the title heading become ours; a nested section's title is the kicker
    assert front_matter(content, "linear-regression") == {
        "title": "Linear regression", "module": 2, "track": "basics", "subtitle": "Fitting a line by least squares"}
    assert front_matter(content, "convolutions")["kicker"] == "Convolutional networks"
    assert front_matter(content, "gradient-descent")["title"] == "Gradient descent"  # the H1, not the nav's "Descent"
    assert not re.search(r"^# ", body(content, "linear-regression"), re.M)  # the lesson page shows the title
    # a page off the nav that nothing links to is kept as a draft
    assert front_matter(content, "scratch")["draft"] is True
    # markdown the build shares with Material is kept as written, math and captions too
    source = body(content, "linear-regression")
    for kept in ('!!! tip "Closed form"', '=== "NumPy"', "$$\nL(w, b)", "/// caption", "<figure markdown>"):
        assert kept in source
    assert "[not a link](nowhere.md)" in source  # a link inside code is not rewritten
    # links: to lessons (the title heading's anchor is the page itself), images into media/
    assert "[multilayer perceptron](mlp.md#training)" in source
    assert "[start](deep-learning-notes.md)" in source
    assert "(../media/basics/figures/loss%20curve.png)" in source
    assert (content / "media/basics/figures/loss curve.png").read_bytes() == \
        (PROJECTS / "mkdocs-nav/docs/basics/figures/loss curve.png").read_bytes()
    assert '<img src="../media/nets/cnn/kernel.png"' in body(content, "convolutions")  # raw HTML: the same rules
    assert_every_reference_resolves(site)
    assert "<math" in (site / "linear-regression.html").read_text(encoding="utf-8")
    assert_no_raw_tex(site)
    # what is not carried over is listed, with what it did
    for listed in ("pymdownx.emoji", "pymdownx.blocks.caption", "custom fence 'mermaid'", "`tags`: pages listed",
                   "extra_javascript: javascripts/mathjax.js", "`https://www.mkdocs.org`", "`hide`"):
        assert listed in report
    assert "pymdownx.tabbed" not in report and "`admonition`" not in report  # the build has those
    assert (content / "import-report.md").read_text(encoding="utf-8") == report


def test_mkdocs_with_the_awesome_nav_plugin(tmp_path, capsys):
    content, site, report = imported_and_built(tmp_path, capsys, "mkdocs", "mkdocs-awesome-nav")
    # .nav.yml files: the root's order, a folder's title from its own file, a title given by the parent,
    # "*" for the folders left, natural order inside a folder without a file ("2-" before "10-")
    assert tracks(content) == [
        ("welcome", ["intro"]),
        ("02-probability", ["2-distributions", "10-sampling", "bayes"]),
        ("algebra-first", ["vectors", "matrices"]),
        ("03-extras", ["notes"]),
        ("other-pages", ["eigen"]),  # left out of 01-linear-algebra/.nav.yml, linked from matrices
    ]
    assert front_matter(content, "intro")["title"] == "Welcome"  # from YAML front matter
    assert course(content)["tracks"][1]["description"] == "Counting what could happen, and how often."
    # a link to the index page that became a description leads to its track's first lesson
    assert "[section](2-distributions.md)" in body(content, "bayes")
    assert "[eigenvectors](eigen.md#eigenvectors)" in body(content, "matrices")
    assert (content / "media/02-probability/assets/coin.png").is_file()
    assert_every_reference_resolves(site)
    assert_no_raw_tex(site)
    assert "pymdownx.mark" in report and "used in 1 page" in report
    assert "`https://mml-book.github.io/`" in report


def test_markdown_tree(tmp_path, capsys):
    content, site, report = imported_and_built(tmp_path, capsys, "markdown", "markdown-tree",
                                               "--exclude", "translations")
    config = course(content)
    assert config["title"] == "Machine Learning for Everyone"  # the root README's heading
    assert config["description"].startswith("A twelve-lesson course")
    assert tracks(content) == [
        ("machine-learning-for-everyone", ["machine-learning-for-everyone"]),
        ("introduction-to-machine-learning", ["1-what-is-ml", "assignment", "2-history"]),
        ("regression", ["2-regression", "1-linear"]),
        ("other-pages", ["license"]),  # a repository file a lesson links to
    ]
    titles = {lesson: front_matter(content, lesson)["title"] for lesson in config["lessons"]}
    assert titles["1-what-is-ml"] == "What is machine learning?"  # the first heading, after a banner
    assert titles["assignment"] == "Assignment: spot the learning"
    assert front_matter(content, "assignment")["kicker"] == "What is machine learning?"
    assert not (content / "lessons/contributing.md").exists()  # nothing links to it
    assert not any("aprendizaje" in p.read_text(encoding="utf-8").lower() for p in (content / "lessons").iterdir())
    # folder links and README links lead to the lesson; code keeps its '# comment'
    index = body(content, "machine-learning-for-everyone")
    assert "[A short history](2-history.md)" in index and "[Linear regression](1-linear.md)" in index
    assert "# not a heading: a shell comment" in body(content, "1-what-is-ml")
    assert "[the notebook](../media/2-Regression/1-linear/notebook.ipynb)" in body(content, "1-linear")
    assert (content / "media/1-Introduction/1-what-is-ml/images/banner.png").is_file()
    assert_every_reference_resolves(site)
    assert_no_raw_tex(site)
    assert "CONTRIBUTING.md" in report


def test_a_formula_in_raw_html_of_a_markdown_tree_is_typeset(tmp_path, capsys):
    """GitHub shows `<p align="center">$x$</p>` as a centred formula: so does the imported course."""
    source = tmp_path / "source"
    (source / "01-intro").mkdir(parents=True)
    (source / "README.md").write_text("# A course\n\n- [Intro](01-intro/)\n")
    (source / "01-intro" / "README.md").write_text(
        "# Intro\n\nThe rate:\n\n<p align=\"center\">\n    $FPR = \\large \\frac{FP}{TN + FP}$\n</p>\n\n"
        "<div align=\"center\">\n<p>$\\sigma(z)$ and *this*</p>\n</div>\n")
    content, site = tmp_path / "content", tmp_path / "site"
    code, _, err = run_import(capsys, "markdown", source, content)
    assert code == 0, err
    code, err = build(capsys, content, site)
    assert code == 0, err
    page = (site / "01-intro.html").read_text(encoding="utf-8")
    assert page.count("<math") == 2 and '<p align="center">' in page and "<em>this</em>" in page
    assert_no_raw_tex(site)

def test_the_same_source_gives_the_same_bytes(tmp_path, capsys):
    for n in (1, 2):
        code, _, err = run_import(capsys, "mkdocs", PROJECTS / "mkdocs-nav", tmp_path / f"c{n}")
        assert code == 0, err
    first, second = tree(tmp_path / "c1"), tree(tmp_path / "c2")
    second["import-report.md"] = second["import-report.md"].replace(b"c2`", b"c1`")
    assert first == second


@pytest.mark.parametrize("name", ["mkdocs-nav", "mkdocs-awesome-nav", "markdown-tree"])
def test_the_source_is_not_written_to(tmp_path, capsys, name):
    before = tree(PROJECTS / name)
    kind = "markdown" if name == "markdown-tree" else "mkdocs"
    assert run_import(capsys, kind, PROJECTS / name, tmp_path / "content")[0] == 0
    assert tree(PROJECTS / name) == before
