"""Near misses explained: a link that almost names something that exists gets a fix naming it, written as the
link should be written from where it is."""

from __future__ import annotations

import pytest

from tests.site.helpers import build, mini_course

HEAD = '+++\ntitle = "Two"\nmodule = 2\ntrack = "t"\n+++\n'
LESSON_ONE = '+++\ntitle = "One"\nmodule = 1\ntrack = "t"\n+++\n## Start\nHello.\n\n## Later, the end!\n'


def fix_for(tmp_path, capsys, body: str, files: dict[str, bytes] = {}, where: str = "lessons/two.md") -> str:
    """The fix printed for the one problem of `body` written at `where`."""
    text = HEAD + body if where == "lessons/two.md" else '+++\ntitle = "About"\n+++\n' + body
    content = mini_course(tmp_path, **{"lessons/one.md": LESSON_ONE, where: text})
    for rel, data in files.items():
        (content / rel).parent.mkdir(parents=True, exist_ok=True)
        (content / rel).write_bytes(data)
    code, err = build(tmp_path, content, capsys)
    assert code == 1 and "1 problem found" in err, err
    return err.split("fix: ", 1)[1].split("\n")[0]


@pytest.mark.parametrize("link, meant", [
    ("one.md#Start", "one.md#start"),  # case
    ("one.md#later_the_end", "one.md#later-the-end"),  # punctuation
    ("one.md#Later,-the-end!", "one.md#later-the-end"),
    ("#Notes", "#notes"),  # in the same lesson
])
def test_a_fragment_differing_in_case_or_punctuation_names_the_heading(tmp_path, capsys, link, meant):
    assert fix_for(tmp_path, capsys, f"## Notes\nSee [it]({link}).\n").startswith(f"did you mean '{meant}'?")


def test_a_fragment_near_nothing_lists_the_headings(tmp_path, capsys):
    assert fix_for(tmp_path, capsys, "See [it](one.md#middle).\n") == "use one of its heading ids: start, later-the-end"


@pytest.mark.parametrize("link, fix", [
    ("page-o.md", "did you mean '../pages/page-one.md'?"),  # a typo
    ("attention.md", "did you mean '../pages/additive-attention.md' or '../pages/dot-product-attention.md'?"),
    ("missing-page.md", "link to an existing page's file in pages/"),  # one shared word is not near
])
def test_a_page_id_near_others_names_them_and_only_them(tmp_path, capsys, link, fix):
    pages = {f"pages/{name}.md": b'+++\ntitle = "X"\n+++\nx\n'
             for name in ("page-one", "additive-attention", "dot-product-attention", "first-page")}
    assert fix_for(tmp_path, capsys, f"See [it](../pages/{link}).\n", pages) == fix


def test_a_notebook_link_in_another_spelling_names_the_notebook(tmp_path, capsys):
    """Jupyter courses name files '05.06-Linear-Regression.ipynb'; the lesson's id is '05-06-linear-regression'."""
    import nbformat
    from nbformat.v4 import new_notebook, new_raw_cell

    book = nbformat.writes(new_notebook(cells=[new_raw_cell('+++\ntitle = "Regression"\n+++')])).encode()
    fix = fix_for(tmp_path, capsys, "See [it](../pages/05.06-Linear-Regression.ipynb).\n",
                  {"pages/05-06-linear-regression.ipynb": book})
    assert fix == "did you mean '../pages/05-06-linear-regression.ipynb'?"


@pytest.mark.parametrize("link", ["../03-One/README.md", "../2024-one/readme.md", "../One/index.md", "../03_one/",
                                  "../one-/", "../ones/"])
def test_a_link_to_a_folder_or_its_readme_names_the_lesson(tmp_path, capsys, link):
    assert fix_for(tmp_path, capsys, f"See [one]({link}).\n").startswith("did you mean 'one.md'?")


def test_a_link_to_an_existing_folder_names_the_lesson_from_a_page(tmp_path, capsys):
    fix = fix_for(tmp_path, capsys, "See [one](../one/).\n", {"one/notes.txt": b"n"}, where="pages/about.md")
    assert fix.startswith("did you mean '../lessons/one.md'?")


@pytest.mark.parametrize("link", ["../zebra/README.md", "../nex/README.md"])  # 'nex' is too far from 'one'
def test_a_folder_near_no_lesson_says_how_to_link(tmp_path, capsys, link):
    assert fix_for(tmp_path, capsys, f"See [x]({link}).\n") == "link to an existing lesson's file in lessons/"


def test_a_folder_of_files_near_no_lesson_says_check_the_path(tmp_path, capsys):
    assert fix_for(tmp_path, capsys, "See [code](../code/).\n", {"code/train.py": b"x"}).startswith("check the path")


@pytest.mark.parametrize("written, found, meant", [
    ("../media/net.png", "media/figures/net.png", "../media/figures/net.png"),  # moved to another folder
    ("net.png", "media/net.png", "../media/net.png"),
    ("../media/net.png", "media/Net.PNG", "../media/Net.PNG"),  # the case differs (works on macOS, not on Pages)
])
def test_a_picture_found_elsewhere_under_its_name_is_suggested(tmp_path, capsys, written, found, meant):
    assert fix_for(tmp_path, capsys, f"![A net]({written})\n", {found: b"png"}) == f"did you mean '{meant}'?"


def test_every_file_of_that_name_is_suggested_but_not_hidden_ones(tmp_path, capsys):
    files = {"media/a/net.png": b"1", "media/b/net.png": b"2", ".cache/net.png": b"3"}
    fix = fix_for(tmp_path, capsys, "[data](../media/net.png)\n", files)
    assert fix == "did you mean '../media/a/net.png' or '../media/b/net.png'?"


def test_a_picture_found_nowhere_gets_the_general_advice(tmp_path, capsys):
    assert fix_for(tmp_path, capsys, "![A net](../media/net.png)\n") == \
        "check the path: it is relative to the lesson's file, e.g. '../media/picture.png'"


def test_a_link_to_no_file_gets_advice_for_links_a_placeholder_included(tmp_path, capsys):
    assert fix_for(tmp_path, capsys, "[Code](TODO)\n") == ("check the path: it is relative to the lesson's file, "
                                                           "e.g. '../code/train.py'; or remove a link whose target "
                                                           "is still to come")


def test_footnote_links_the_markdown_makes_are_not_broken_anchors(tmp_path, capsys):
    """A footnote never cited gets no back-link (it would point at no reference), and ids written with '&'
    are found as links name them."""
    body = "Cited[^a&b] once.\n\n[^a&b]: Cited.\n[^unused]: Never cited.\n"
    content = mini_course(tmp_path, **{"lessons/one.md": LESSON_ONE, "lessons/two.md": HEAD + body})
    code, err = build(tmp_path, content, capsys)
    assert code == 0, err
    page = (tmp_path / "site" / "two.html").read_text()
    assert 'href="#fnref:a&amp;b"' in page and 'id="fnref:a&amp;b"' in page and 'href="#fn:a&amp;b"' in page
    assert 'id="fn:unused"' in page and "fnref:unused" not in page
    assert "<p>Never cited.&#160;</p>" in page
