"""Where the order comes from: mkdocs.yml's nav, the plugins' nav files, the folders; and lesson ids."""

from __future__ import annotations

from tests.importer.helpers import build, course, front_matter, run_import, tracks
from tests.site.helpers import write_tree


def imported(tmp_path, capsys, text: str, kind: str = "mkdocs", *extra: str) -> tuple:
    source = write_tree(tmp_path / "source", text)
    code, report, err = run_import(capsys, kind, source, tmp_path / "content", *extra)
    assert code == 0, err
    return tmp_path / "content", report


def test_awesome_pages_files_when_mkdocs_yml_has_no_nav(tmp_path, capsys):
    content, report = imported(tmp_path, capsys, """
-- mkdocs.yml --
site_name: Stats
plugins:
  - search
  - awesome-pages
-- docs/.pages --
nav:
  - start.md
  - ...
  - Reference: https://example.org/ref
-- docs/start.md --
# Start
-- docs/b-tests/.pages --
title: Hypothesis tests
order: desc
-- docs/b-tests/t-test.md --
# t-test
-- docs/b-tests/chi-square.md --
# Chi-square
-- docs/a-means/.pages --
nav:
  - median.md
  - ... | glob=mean-*.md
-- docs/a-means/mean-arithmetic.md --
# Arithmetic mean
-- docs/a-means/median.md --
# Median
-- docs/a-means/mode.md --
# Mode
""")
    # '...' is the rest in natural order; 'order: desc' reverses a folder; what nothing matches is left out
    assert tracks(content) == [("start", ["start"]), ("a-means", ["median", "mean-arithmetic"]),
                               ("hypothesis-tests", ["t-test", "chi-square"])]
    assert "`a-means/mode.md`: kept as a draft" in report
    assert "`https://example.org/ref`" in report


def test_awesome_nav_globs_and_sort(tmp_path, capsys):
    content, report = imported(tmp_path, capsys, """
-- mkdocs.yml --
site_name: Nets
nav:
  - ignored.md
plugins:
  - awesome-nav
-- docs/.nav.yml --
sort:
  direction: desc
nav:
  - glob: "layers/*"
  - "*"
-- docs/layers/dense.md --
# Dense
-- docs/layers/conv.md --
# Conv
-- docs/loss.md --
# Loss
-- docs/ignored.md --
# Listed only in mkdocs.yml, which awesome-nav replaces
""")
    # 'layers/*' flattens the folder into the root; the plugin's nav replaces mkdocs.yml's; pages outside
    # any section that open the course are a track named after it
    assert tracks(content) == [("nets", ["dense", "conv", "loss", "ignored"])]


def test_folders_without_a_nav(tmp_path, capsys):
    content, _ = imported(tmp_path, capsys, """
-- mkdocs.yml --
site_name: Course
-- docs/index.md --
# Welcome

Everything in order.
-- docs/10-late/index.md --
# Late
-- docs/10-late/page.md --
# Page
-- docs/2-early/intro.md --
# Intro
-- docs/2-early/deep/more.md --
# More
-- docs/zeta.md --
# Zeta
""")
    # index first, then pages, then folders as sections, naturally sorted ("2-" before "10-")
    assert tracks(content) == [("course", ["welcome", "zeta"]), ("2-early", ["intro", "more"]),
                               ("10-late", ["page"])]
    assert front_matter(content, "more")["kicker"] == "Deep"
    assert course(content)["tracks"][1]["title"] == "2 early"  # as MkDocs titles a folder


def test_ids_are_unique_and_valid(tmp_path, capsys):
    content, _ = imported(tmp_path, capsys, """
-- mkdocs.yml --
site_name: Ids
nav:
  - A:
    - a/intro.md
    - a/Setup Guide.md
  - B:
    - b/intro.md
    - b/404.md
    - b/índex_ünïcode.md
-- docs/a/intro.md --
# A intro
-- docs/a/Setup Guide.md --
# Setup
-- docs/b/intro.md --
# B intro

Read [the other intro](../a/intro.md) and [setup](<../a/Setup Guide.md>).
-- docs/b/404.md --
# Not found
-- docs/b/índex_ünïcode.md --
# Unicode
""")
    assert course(content)["lessons"] == ["a-intro", "setup-guide", "b-intro", "404-2", "index-unicode"]
    assert "[the other intro](a-intro.md) and [setup](<setup-guide.md>)" in \
        (content / "lessons/b-intro.md").read_text(encoding="utf-8")
    assert build(capsys, content, tmp_path / "site")[0] == 0


def test_inherit_exclude_docs_and_a_nav_entry_without_a_file(tmp_path, capsys):
    content, report = imported(tmp_path, capsys, """
-- base.yml --
site_name: Base name
site_description: From the parent file.
theme:
  name: material
  language: fr
-- mkdocs.yml --
INHERIT: base.yml
site_name: Child name
exclude_docs: |
  drafts/
  *.tmp.md
nav:
  - one.md
  - gone.md
-- docs/one.md --
# One
-- docs/drafts/two.md --
# Two
-- docs/three.tmp.md --
# Three
""")
    data = course(content)
    assert (data["title"], data["description"], data["language"]) == ("Child name", "From the parent file.", "fr")
    assert data["lessons"] == ["one"] and sorted(p.name for p in (content / "lessons").iterdir()) == ["one.md"]
    assert "`gone.md`: names no markdown page or folder of the source" in report and "mkdocs.yml: line 8" in report


def test_markdown_tree_of_loose_pages(tmp_path, capsys):
    content, _ = imported(tmp_path, capsys, """
-- notes.md --
Some notes with no heading at all.
-- Getting_Started.md --
## Install

Run the installer.
""", "markdown")
    data = course(content)
    assert data["title"] == "Source"  # no README: the folder's name
    # titles: the first heading (kept, it is no title heading), else the file name
    assert [front_matter(content, i)["title"] for i in data["lessons"]] == ["Install", "Notes"]
    assert "## Install" in (content / "lessons/getting-started.md").read_text(encoding="utf-8")


def test_links_as_mkdocs_and_github_readers_followed_them(tmp_path, capsys):
    content, report = imported(tmp_path, capsys, """
-- mkdocs.yml --
site_name: Links
nav:
  - Trees:
    - trees/index.md
    - trees/forest.md
  - code/index.md
  - Extra:
    - extra/index.md
-- docs/extra/index.md --
A section of one index page that holds only a paragraph.
-- docs/trees/index.md --
Only a pointer to [the forest](forest.md).
-- docs/trees/forest.md --
# Random forests

![written from the page's address](../assets/vote.png) and ![from the file](assets/vote.png)
[A folder of data](../data/), [a notebook](../notebooks/trees), [the code](../../code/),
[Setup Notes](Setup Notes.md "spaces, as Python-Markdown allows"), [back](#random-forests)
[![Open in Colab](https://colab.research.google.com/badge.svg)](https://colab.research.google.com/x)
<img src="https://example.org/logo.png" alt="Example logo">
<p align="center" style="color: red"><img src=".hidden/tree.png" alt="from a hidden folder"></p>
-- docs/trees/.hidden/tree.png --
png
-- docs/trees/assets/vote.png --
png
-- docs/trees/data/train.csv --
a,b
-- docs/trees/notebooks/trees.py --
# a notebook page of mkdocs-jupyter
-- docs/trees/Setup Notes.md --
# Setup
-- docs/code/index.md --
# Code
""", "mkdocs", "--source-url", "https://github.com/you/links/tree/main/docs")
    forest = (content / "lessons/forest.md").read_text(encoding="utf-8")
    # MkDocs serves trees/forest.md as trees/forest/: a path that names nothing from the file is read
    # from there, as the browser did
    assert "![written from the page's address](../media/trees/assets/vote.png)" in forest
    assert "![from the file](../media/trees/assets/vote.png)" in forest
    assert "[A folder of data](https://github.com/you/links/tree/main/docs/trees/data)" in forest
    assert "[a notebook](../notebooks/trees)" in forest  # not a page the import carries: the build says so
    assert "[the code](code.md)" in forest and "[Setup Notes](setup-notes.md " in forest
    assert "[back](#random-forests)" in forest
    # images from another host become their alt text; a link around one stays
    assert "[Open in Colab](https://colab.research.google.com/x)" in forest and "Example logo" in forest
    # the site's Content-Security-Policy forbids inline styles; the build serves no hidden file
    assert '<p align="center"><img src="../media/trees/_hidden/tree.png"' in forest
    assert "`![alt](https://...)`: replaced by their alt text" in report and '`style="..."`: dropped' in report
    # an index page of only a paragraph describes its track, unless the track would be empty without it
    assert tracks(content) == [("trees", ["forest"]), ("code", ["code"]), ("extra", ["extra"]),
                               ("other-pages", ["setup-notes"])]
    assert course(content)["tracks"][0]["description"] == "Only a pointer to the forest."


def test_github_anchors_and_folder_links_in_a_markdown_tree(tmp_path, capsys):
    content, report = imported(tmp_path, capsys, """
-- README.md --
# Course

See [setup: step 1 / 2](guide/setup.md#step-1--2), the [homework folder](homework/), [code](code/),
and [step one](#step-one), [as cased](#Step-One).

## Step one

- ```bash
  # a fence in a list item, with a [link](nowhere.md) in it
  ```
- [Guide](guide/)

The bias \\( $w_0$ \\) (GitHub shows the brackets) and a display formula:

```math
\\hat{y} = w_0 + w^T x
```
-- guide/setup.md --
# Setup

## Step 1 / 2
-- homework/week-1.md --
# Week 1
-- homework/week-2.md --
# Week 2
-- code/train.py --
print("train")
""", "markdown")
    readme = (content / "lessons/course.md").read_text(encoding="utf-8")
    # GitHub's heading ids (punctuation dropped, each space a hyphen) become the build's
    assert "[setup: step 1 / 2](setup.md#step-1-2)" in readme
    assert "[step one](#step-one), [as cased](#step-one)" in readme  # GitHub finds an anchor in any case
    # a folder without an index page stands for its first page; one without pages is noted
    assert "[homework folder](week-1.md)" in readme and "[Guide](setup.md)" in readme
    assert "[code](code/)" in readme and "`code/`: kept as written" in report
    assert "[link](nowhere.md)" in readme
    # GitHub's math: `\\(` is an escaped bracket there, not a formula; a ```math fence is a formula
    assert "The bias &#40; $w_0$ &#41;" in readme and "$$\n\\hat{y} = w_0 + w^T x\n$$" in readme
    assert build(capsys, content, tmp_path / "site")[1].count("broken") == 0


def test_a_folder_is_titled_by_its_readme_heading_not_its_front_matter(tmp_path, capsys):
    content, _ = imported(tmp_path, capsys, """
-- part-1/README.md --
---
title: Front matter title
---
# Part one

What this part is about.
-- part-1/lesson.md --
# A lesson
""", "markdown")
    assert course(content)["tracks"] == [{"id": "part-one", "title": "Part one", "description":
                                          "What this part is about."}]


def test_a_link_to_a_notebook_page_of_mkdocs_jupyter_goes_to_the_notebook_file(tmp_path, capsys):
    """mkdocs-jupyter served notebooks/trees.py as the page notebooks/trees/: the course links the file."""
    content, report = imported(tmp_path, capsys, """
-- mkdocs.yml --
site_name: Notebooks
plugins:
  - mkdocs-jupyter:
      include: ["*.py"]
-- docs/trees/forest.md --
# Random forests

[The notebook](../../notebooks/trees/#a-heading), [another](../../notebooks/grid), [a file](../notes/)
-- docs/notebooks/trees.py --
# # Trees
-- docs/notebooks/grid.ipynb --
{}
-- docs/notes.ipynb --
{}
""")
    forest = (content / "lessons/forest.md").read_text(encoding="utf-8")
    assert "[The notebook](../media/notebooks/trees.py#a-heading)" in forest
    assert "[another](../../notebooks/grid)" in forest  # include names only *.py: not a page of the source
    assert "[a file](../notes/)" in forest
    assert (content / "media/notebooks/trees.py").read_text() == "# # Trees\n"
    assert "a link to one goes to the notebook's file" in report
    code, err = build(capsys, content, tmp_path / "site")
    assert code == 1 and "notebooks/grid" in err and "trees.py" not in err and "notes" in err


def test_the_notebook_plugins_pages():
    from unsmudge.importer.mkdocs import _notebook_pages

    assert _notebook_pages({"mkdocs-jupyter": None}) == (".ipynb", ".py")  # its default include
    assert _notebook_pages({"mkdocs-jupyter": {"include": ["*.ipynb"]}, "search": None}) == (".ipynb",)
    assert _notebook_pages({"mknotebooks": {}}) == (".ipynb",) and _notebook_pages({"search": None}) == ()


def test_loose_top_level_pages_share_a_neutral_track(tmp_path, capsys):
    """A run of pages outside any section is a track named neutrally, not after its first page (before,
    RNN and LSTM showed the track label 'Regularization'); a page alone keeps a track of its own."""
    content, report = imported(tmp_path, capsys, """
-- mkdocs.yml --
site_name: ML Notes
plugins:
  - awesome-nav
-- docs/.nav.yml --
nav:
  - index.md
  - Basics: basics
  - initializers.md
  - models
  - regularization.md
  - rnn.md
  - lstm.md
  - papers
-- docs/index.md --
# Home
-- docs/basics/algebra.md --
# Algebra
-- docs/initializers.md --
# Weight initializers
-- docs/models/resnet.md --
# ResNet
-- docs/regularization.md --
# Regularization
-- docs/rnn.md --
# RNN
-- docs/lstm.md --
# LSTM
-- docs/papers/bert.md --
# BERT
""")
    assert tracks(content) == [("home", ["home"]), ("basics", ["algebra"]),
                               ("weight-initializers", ["initializers"]), ("models", ["resnet"]),
                               ("lessons", ["regularization", "rnn", "lstm"]), ("papers", ["bert"])]
    assert front_matter(content, "rnn")["track"] == "lessons"
    assert course(content)["tracks"][4]["title"] == "Lessons"
    assert "`Lessons`: the 3 pages outside any section from `regularization.md` to `lstm.md`" in report


def test_loose_pages_that_open_the_course_are_a_track_named_after_the_course(tmp_path, capsys):
    content, report = imported(tmp_path, capsys, """
-- mkdocs.yml --
site_name: ML Notes
nav:
  - Home: index.md
  - setup.md
  - Models:
    - models/resnet.md
-- docs/index.md --
# Welcome
-- docs/setup.md --
# Setup
-- docs/models/resnet.md --
# ResNet
""")
    assert tracks(content) == [("ml-notes", ["welcome", "setup"]), ("models", ["resnet"])]
    assert course(content)["tracks"][0]["title"] == "ML Notes"
    assert "`ML Notes`: the 2 pages outside any section from `index.md` to `setup.md`" in report


def test_a_nav_entry_in_another_case_finds_its_page_and_keeps_its_place(tmp_path, capsys):
    """`gpt.md` in the nav, `GPT.md` on disk: MkDocs on a case-insensitive file system found it."""
    content, report = imported(tmp_path, capsys, """
-- mkdocs.yml --
site_name: Papers
plugins:
  - awesome-nav
-- docs/.nav.yml --
nav:
  - NLP: nlp
-- docs/nlp/.nav.yml --
nav:
  - bert.md
  - gpt.md
  - t5.md
  - Vision: VISION
  - "*"
-- docs/nlp/bert.md --
# BERT
-- docs/nlp/GPT.md --
# GPT
-- docs/nlp/t5.md --
# T5
-- docs/nlp/vision/vit.md --
# ViT
-- docs/nlp/zeta.md --
# Zeta
""")
    assert tracks(content) == [("nlp", ["bert", "gpt", "t5", "vit", "zeta"])]
    assert front_matter(content, "vit")["kicker"] == "Vision"
    assert "names no markdown page" not in report
    assert "`gpt.md`: taken as `nlp/GPT.md`, whose name differs only in case" in report
    assert "`VISION`: taken as `nlp/vision`, whose name differs only in case" in report
