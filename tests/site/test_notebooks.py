"""Notebooks as lessons (stored outputs rendered at build time, untrusted HTML sanitised, oversize outputs
refused, a download link) and pages that are not lessons (linkable and checked, outside pager and tracks)."""

from __future__ import annotations

import base64
import re

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output, new_raw_cell

from tests.site.helpers import build, mini_course

PNG = b"\x89PNG\r\n\x1a\nnot really a picture"
FRONT = '+++\ntitle = "Perceptron"\nmodule = 3\ntrack = "t"\n+++'


def notebook(*cells, front: str | None = FRONT):
    book = new_notebook(metadata={"language_info": {"name": "python"}})
    book.cells = ([new_raw_cell(front)] if front else []) + list(cells)
    return book


def course(tmp_path, book, **files: str):
    content = mini_course(tmp_path, **files)
    toml = content / "course.toml"
    toml.write_text(toml.read_text().replace('lessons = ["one", "two"]', 'lessons = ["one", "two", "perceptron"]'))
    nbformat.write(book, str(content / "lessons" / "perceptron.ipynb"))
    return content


GOOD = notebook(
    new_markdown_cell("## The rule\n\nWeights move by $\\eta (y - \\hat y) x$; see [the start](one.md#start)."),
    new_code_cell("print('hi')\n1 + 1", outputs=[
        new_output("stream", name="stdout", text="hi \x1b[31mred\x1b[0m\n"),
        new_output("execute_result", data={"text/plain": "2"}, execution_count=1)]),
    new_code_cell("table", outputs=[new_output("display_data", data={
        "text/html": "<style>td{color:red}</style><table class='dataframe'><tr><td onclick='steal()'>7</td></tr>"
                     "</table><a href='javascript:alert(1)'>x</a><a href='https://example.org'>docs</a>",
        "text/plain": "table"})]),
    new_code_cell("plot()", outputs=[new_output("display_data", data={
        "image/png": base64.b64encode(PNG).decode(), "text/plain": "<Figure>"},
        metadata={"image/png": {"width": 320, "height": 240}})]),
    new_code_cell("slider", outputs=[new_output("display_data", data={
        "application/vnd.jupyter.widget-view+json": {"model_id": "abc", "version_major": 2, "version_minor": 0},
        "text/plain": "IntSlider(value=3)"})]),
    new_code_cell("show_tex()", outputs=[new_output("display_data", data={"text/latex": "$$\\sigma(z)$$"})]),
)


def test_a_notebook_lesson_renders_its_stored_outputs(tmp_path, capsys):
    content = course(tmp_path, GOOD)
    code, err = build(tmp_path, content, capsys)
    assert code == 0, err
    site = tmp_path / "site"
    page = (site / "perceptron.html").read_text()
    body = page.split('<div class="lesson-body">')[1].split("</article>")[0]
    assert '<h2 id="the-rule">' in body and '<a href="one.html#start">the start</a>' in body
    assert body.count("<math") == 2  # the markdown cell's formula and the text/latex output
    assert '<span class="nb">print</span>' in body  # highlighted code
    assert "hi red" in body and "\x1b" not in body  # ANSI colours stripped
    assert '<pre class="nb-result">2</pre>' in body and "IntSlider(value=3)" in body
    picture = re.search(r'<img src="(assets/outputs/[0-9a-f]{16}\.png)" alt="[^"]+" width="320" height="240"', body)
    assert picture and (site / picture[1]).read_bytes() == PNG
    assert '<a href="lessons/perceptron.ipynb" download>Download the notebook</a>' in page
    source = content / "lessons" / "perceptron.ipynb"
    assert (site / "lessons" / "perceptron.ipynb").read_bytes() == source.read_bytes()
    assert 'href="perceptron.html"' in (site / "two.html").read_text()  # in the pager like any lesson


def test_notebook_html_outputs_are_sanitised(tmp_path, capsys):
    code, err = build(tmp_path, course(tmp_path, GOOD), capsys)
    assert code == 0, err
    body = (tmp_path / "site" / "perceptron.html").read_text().split('<div class="lesson-body">')[1]
    assert "<table>" in body and "<td>7</td>" in body
    for gone in ("alert(", "steal()", "onclick", "<style", "color:red"):
        assert gone not in body
    assert '<a href="https://example.org" target="_blank" rel="noopener noreferrer">docs</a>' in body


@pytest.mark.parametrize("cells, expected", [
    ([new_code_cell("big", outputs=[new_output("stream", name="stdout", text="x" * 2_100_000)])],
     ["perceptron.ipynb: cell 2", "output 1 of the cell is 2.1 MB", "clear that output"]),
    ([new_code_cell("img", outputs=[new_output("display_data",
                                                data={"text/html": "<img src='https://a.example/p.png'>"})])],
     ["perceptron.ipynb: cell 2", "shows a picture from 'https://a.example/p.png'"]),
    ([new_markdown_cell("Intro.\n\nSee [nothing](nowhere.md).")],
     ["perceptron.ipynb: cell 2, line 3", "broken link 'nowhere.md'"]),
    ([new_markdown_cell("A bad formula: $\\frac{1}{$.")],
     ["perceptron.ipynb: cell 2, line 1", "cannot be typeset"]),
])
def test_notebook_mistakes_name_the_cell(tmp_path, capsys, cells, expected):
    code, err = build(tmp_path, course(tmp_path, notebook(*cells)), capsys)
    assert code == 1 and not (tmp_path / "site").exists(), err
    for text in expected:
        assert text in err


def test_front_matter_problems_name_the_cell_and_line(tmp_path, capsys):
    book = notebook(new_markdown_cell("Hi."), front='+++\ntitle = "Perceptron"\nmodule = 3\ntrack = "nope"\n+++')
    code, err = build(tmp_path, course(tmp_path, book), capsys)
    assert code == 1
    assert "perceptron.ipynb: cell 1, line 4, key 'track': unknown track 'nope'" in err


def test_a_notebook_without_front_matter_is_a_problem_and_a_toml_beside_it_is_its_front_matter(tmp_path, capsys):
    content = course(tmp_path, notebook(new_markdown_cell("Hi."), front=None))
    code, err = build(tmp_path, content, capsys)
    assert code == 1 and "perceptron.ipynb: cell 1: no front matter" in err
    (content / "lessons" / "perceptron.toml").write_text(FRONT.strip("+\n"))
    code, err = build(tmp_path, content, capsys)
    assert code == 0, err



def element(html: str, start: str) -> str:
    """The element that opens with `start` in `html`, up to its matching end tag (divs counted)."""
    begin = html.index(start)
    depth = 0
    for tag in re.finditer(r"<(/?)div\b[^>]*>", html[begin:]):
        depth += -1 if tag[1] else 1
        if depth == 0:
            return html[begin:begin + tag.end()]
    raise AssertionError(f"{start} is not closed")


def test_markdown_and_latex_outputs_stay_in_their_cell_in_order(tmp_path, capsys):
    book = notebook(new_code_cell("show()", outputs=[
        new_output("stream", name="stdout", text="before\n"),
        new_output("display_data", data={"text/latex": "$$\\frac{a}{b}$$"}),
        new_output("stream", name="stdout", text="between\n"),
        new_output("execute_result", data={"text/markdown": "Result: $\\sqrt{x}$, see [one](one.md#start)"},
                   execution_count=1)]), new_markdown_cell("After the cell."))
    code, err = build(tmp_path, course(tmp_path, book), capsys)
    assert code == 0, err
    body = (tmp_path / "site" / "perceptron.html").read_text().split('<div class="lesson-body">')[1]
    cell = element(body, '<div class="nb-cell">')
    assert "show" in element(cell, '<div class="nb-input">')
    outputs, rest = [], cell
    while '<div class="nb-output">' in rest:
        outputs.append(element(rest, '<div class="nb-output">'))
        rest = rest[rest.index(outputs[-1]) + len(outputs[-1]):]
    assert len(outputs) == 4, cell
    assert '<pre class="nb-stdout">before' in outputs[0] and "<mfrac>" in outputs[1]
    assert '<pre class="nb-stdout">between' in outputs[2]
    assert "Result: <math" in outputs[3] and "<msqrt>" in outputs[3]  # typeset
    assert '<a href="one.html#start">one</a>' in outputs[3]  # checked and rewritten like the lesson's links
    assert "After the cell." not in cell and "After the cell." in body
    assert body.count("nb-output") == 4 and "unsmudgecell" not in body


OUTPUT_MISTAKES = [
    (new_output("display_data", data={"text/latex": "$\\badmacro{x}$"}), "cannot be typeset"),
    (new_output("execute_result", data={"text/markdown": "See [nothing](nowhere.md)."}, execution_count=1),
     "broken link 'nowhere.md'"),
]


def test_a_notebooks_contents_cell_links_its_headings_by_jupyters_ids(tmp_path, capsys):
    """Jupyter's heading ids keep the case and turn spaces into '-'; a markdown lesson's links stay strict."""
    book = notebook(new_markdown_cell("- [Summary](#Summary)\n- [Steps](#The-main-steps-behind-PCA)\n"
                                      "- [Also](#the-main-steps-behind-pca)"),
                    new_markdown_cell("## The main steps behind PCA\n\nx"), new_markdown_cell("## Summary\n\ny"))
    content = course(tmp_path, book, **{"lessons/two.md": '+++\ntitle = "Two"\nmodule = 2\ntrack = "t"\n+++\n'
                                                          "[PCA](perceptron.ipynb#Summary) [x](#Nope)\n"})
    code, err = build(tmp_path, content, capsys)
    assert code == 1 and "two.md: line 6: broken anchor '#Nope'" in err and "perceptron" not in err, err
    (content / "lessons" / "two.md").write_text('+++\ntitle = "Two"\nmodule = 2\ntrack = "t"\n+++\n'
                                                 "[PCA](perceptron.ipynb#Summary)\n")
    code, err = build(tmp_path, content, capsys)
    assert code == 0, err
    page = (tmp_path / "site" / "perceptron.html").read_text()
    assert '<h2 id="summary"><span id="Summary"></span>Summary' in page
    assert '<h2 id="the-main-steps-behind-pca"><span id="The-main-steps-behind-PCA"></span>' in page
    assert 'href="perceptron.html#Summary"' in (tmp_path / "site" / "two.html").read_text()


def output_problem(tmp_path, capsys, output) -> tuple[str, str]:
    """(message, fix) of the one problem of a code cell `x` whose second output is `output`."""
    book = notebook(new_markdown_cell("Intro."), new_code_cell("x", outputs=[
        new_output("stream", name="stdout", text="hi\n"), output]))
    code, err = build(tmp_path, course(tmp_path, book), capsys)
    assert code == 1 and "1 problem found" in err, err
    place = "perceptron.ipynb: cell 3, output 2: "  # the cell has one line; the problem is in its output
    assert place in err, err
    message, fix = err.split(place)[1].split("\n")[:2]
    return message, fix


@pytest.mark.parametrize("output, expected", OUTPUT_MISTAKES)
def test_problems_in_an_output_name_the_cell_and_output(tmp_path, capsys, output, expected):
    message, _ = output_problem(tmp_path, capsys, output)
    assert expected in message


@pytest.mark.parametrize("output, expected", OUTPUT_MISTAKES)
def test_the_fix_for_a_problem_in_an_output_is_to_re_run_or_clear_it(tmp_path, capsys, output, expected):
    _, fix = output_problem(tmp_path, capsys, output)
    assert fix.startswith("    fix: the output is what the code gave when the notebook last ran")
    assert "re-run the notebook, or clear the output" in fix


HEAD_TWO = '+++\ntitle = "Two"\nmodule = 2\ntrack = "t"\n+++\n'
PAGE = '+++\ntitle = "Glossary"\nsubtitle = "Words of the course"\n+++\n## Latent\nThe small grid.\n'


def test_pages_are_linkable_checked_and_outside_pager_and_tracks(tmp_path, capsys):
    content = mini_course(tmp_path, **{
        "pages/glossary.md": PAGE,
        "pages/about.md": '+++\ntitle = "About"\n+++\nBack to [the start](../lessons/one.md#start).\n',
        "lessons/two.md": HEAD_TWO + "See [latent](../pages/glossary.md#latent).\n"})
    code, err = build(tmp_path, content, capsys)
    assert code == 0, err
    site = tmp_path / "site"
    assert 'href="glossary.html#latent"' in (site / "two.html").read_text()
    about = (site / "about.html").read_text()
    assert 'href="one.html#start"' in about and 'class="pager"' not in about
    index = (site / "index.html").read_text()
    lesson_list = index.split('<ol class="lesson-list">')[1].split("</ol>")[0]
    assert "glossary.html" not in lesson_list
    footer = index.split('<footer class="site-footer">')[1]
    assert footer.index('href="about.html"') < footer.index('href="glossary.html"')
    assert 'rel="next"' not in (site / "glossary.html").read_text()


@pytest.mark.parametrize("files, expected", [
    ({"lessons/two.md": '+++\ntitle = "Two"\nmodule = 2\ntrack = "t"\n+++\n[g](../pages/glossary.md#nope)\n'},
     "broken anchor '../pages/glossary.md#nope'"),
    ({"lessons/two.md": '+++\ntitle = "Two"\nmodule = 2\ntrack = "t"\n+++\n[g](../pages/glosary.md)\n'},
     "broken link '../pages/glosary.md': no page 'glosary'"),
    ({"pages/one.md": '+++\ntitle = "One again"\n+++\n'}, "page id 'one' is also a lesson's"),
    ({"pages/extra.md": '+++\ntitle = "E"\nmodule = 3\n+++\n'}, "unknown key 'module'"),
])
def test_page_mistakes_are_problems(tmp_path, capsys, files, expected):
    content = mini_course(tmp_path, **{"pages/glossary.md": PAGE, **files})
    code, err = build(tmp_path, content, capsys)
    assert code == 1 and expected in err


def test_pages_are_in_the_sitemap(tmp_path, capsys):
    content = mini_course(tmp_path, **{"pages/glossary.md": PAGE})
    code, err = build(tmp_path, content, capsys, "--base-url", "https://example.org/c/")
    assert code == 0, err
    assert "<loc>https://example.org/c/glossary.html</loc>" in (tmp_path / "site" / "sitemap.xml").read_text()


# what matplotlib's jshtml animation leaves in a notebook, in short: a CDN stylesheet, the frames in a script,
# an <img> the script fills, icons and radio buttons
ANIMATION = ('<link rel="stylesheet" href="https://cdnjs.cloudflare.com/ajax/libs/font-awesome/4.4.0/css/'
             'font-awesome.min.css">\n<script language="javascript">function Animation(frames) {}\n'
             'var frames = ["data:image/png;base64,iVBORw0KGgo="];</script>\n<div class="animation">\n'
             '  <img id="_anim_img7b">\n  <div class="anim-controls">\n'
             '    <button onclick="anim7b.slower()"><i class="fa fa-minus"></i></button>\n'
             '    <button onclick="anim7b.play_animation()"><i class="fa fa-play"></i></button>\n'
             '  </div>\n  <form class="anim-state">\n'
             '    <input type="radio" name="_anim_loop_select7b" id="_anim_radio1_7b" value="once">\n'
             '    <label for="_anim_radio1_7b">Once</label>\n'
             '    <input type="radio" name="_anim_loop_select7b" id="_anim_radio2_7b" value="loop" checked>\n'
             '    <label for="_anim_radio2_7b">Loop</label>\n  </form>\n</div>')


def test_html_outputs_that_need_a_script_show_their_static_form(tmp_path, capsys):
    """An animation, a Plotly or Bokeh figure: its text when that says something, its picture, or a note."""
    book = notebook(
        new_code_cell("animate()", outputs=[new_output("execute_result", execution_count=1, data={
            "text/html": ANIMATION, "text/plain": "<matplotlib.animation.FuncAnimation at 0x7ff8300d7bd0>"})]),
        new_code_cell("plotly()", outputs=[new_output("display_data", data={
            "text/html": '<div id="p1"></div><script src="https://cdn.plot.ly/plotly-2.js"></script>',
            "image/png": base64.b64encode(PNG).decode()})]),
        new_code_cell("bokeh()", outputs=[new_output("display_data", data={
            "text/html": '<div id="b1"></div>\n<SCRIPT type="text/javascript">Bokeh.embed()</SCRIPT>',
            "text/plain": "Figure(id='1001', title='Prices')"})]),
        new_code_cell("frame", outputs=[new_output("display_data", data={
            "text/html": "<table class='dataframe'><tr><td>7</td></tr></table><img id='x'><img src=''>",
            "text/plain": "frame"})]))
    code, err = build(tmp_path, course(tmp_path, book), capsys)
    assert code == 0 and "problem" not in err, err
    body = (tmp_path / "site" / "perceptron.html").read_text().split('<div class="lesson-body">')[1]
    body = body.split("</article>")[0]
    cells = [element(body[m.start():], '<div class="nb-cell">') for m in re.finditer('<div class="nb-cell">', body)]
    assert len(cells) == 4
    assert "run the notebook to see it" in cells[0]
    for gone in ("<img", "<i>", "<i ", "Once", "Loop", "FuncAnimation", "<input", "<form", "fontawesome"):
        assert gone not in cells[0], gone
    assert re.search(r'<img src="assets/outputs/[0-9a-f]{16}\.png"', cells[1]) and "plotly" not in cells[1][200:]
    assert "Figure(id=&#x27;1001&#x27;, title=&#x27;Prices&#x27;)" in cells[2] and "Bokeh.embed" not in cells[2]
    assert "<table>" in cells[3] and "<td>7</td>" in cells[3]  # a table needs no script: kept as it is
    for img in re.findall(r"<img\b[^>]*>", body):
        assert re.search(r'\ssrc="[^"]+"', img), img  # no picture without a source


def test_front_matter_beside_the_notebook_names_the_toml(tmp_path, capsys):
    content = course(tmp_path, notebook(new_markdown_cell("Hi."), front=None))
    toml = content / "lessons" / "perceptron.toml"
    toml.write_text('title = "Perceptron"\nmodule = 3\ntrack = "nope"\n')
    code, err = build(tmp_path, content, capsys)
    assert code == 1 and "perceptron.toml: line 3, key 'track': unknown track 'nope'" in err, err
    toml.write_text('title = "Perceptron"\nmodule = 3\ntrack = "t"\ncolour = "red"\n')
    code, err = build(tmp_path, content, capsys)
    assert code == 1 and "perceptron.toml: line 4, key 'colour'" in err, err
    toml.write_text('title = "Perceptron"\nmodule = 3\ntrack = t\n')
    code, err = build(tmp_path, content, capsys)
    assert code == 1 and "perceptron.toml: line 3: invalid TOML" in err and "perceptron.ipynb" not in err, err


@pytest.mark.parametrize("heading, shown", [
    ("# perceptron ", False), ("Perceptron\n==========", False), ("# The perceptron", True),
    ("## Perceptron", True)])
def test_a_first_heading_that_repeats_the_title_is_left_out(tmp_path, capsys, heading, shown):
    book = notebook(new_code_cell("x = 1"), new_markdown_cell(f"{heading}\n\nText.\n\n# Perceptron\n\nMore."))
    code, err = build(tmp_path, course(tmp_path, book), capsys)
    assert code == 0, err
    page = (tmp_path / "site" / "perceptron.html").read_text()
    body = page.split('<div class="lesson-body">')[1].split("</article>")[0]
    assert "Text." in body and "More." in body
    assert body.count("<h") - body.count("<hr") == (2 if shown else 1)  # a later heading is kept
