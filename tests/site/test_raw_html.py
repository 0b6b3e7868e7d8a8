"""Raw HTML is checked like markdown: src, href, poster and srcset are resolved, checked and rewritten; what
the page's CSP would block is a problem; everything else (image sizes included) is written as it was."""

from __future__ import annotations

import re

import pytest

from tests.site.helpers import build, mini_course

HEAD = '+++\ntitle = "Two"\nmodule = 2\ntrack = "t"\n+++\nFirst line.\n\n'


def two(tmp_path, body: str, **files: bytes):
    content = mini_course(tmp_path, **{"lessons/two.md": HEAD + body})
    for rel, data in files.items():
        (content / rel).parent.mkdir(parents=True, exist_ok=True)
        (content / rel).write_bytes(data)
    return content


def test_raw_html_paths_are_rewritten_like_markdown_and_sizes_survive(tmp_path, capsys):
    body = ('<p align="center"><img src="../media/net.png" width="400" height="120" alt="A net"></p>\n\n'
            'Inline <img src="../media/net.png" width=80> and <a href="one.md#start">the start</a>,\n'
            '<a href="https://example.org/x">the web</a>.\n\n'
            '<video controls poster="../media/poster.png"><source src="../media/clip.mp4" type="video/mp4"></video>\n\n'
            '<picture><source srcset="../media/net.png 1x, ../media/net@2x.png 2x">'
            '<img src="../media/net.png" alt="n"></picture>\n\n'
            '![sized](../media/net.png){ width=300 }\n')
    content = two(tmp_path, body, **{"media/net.png": b"png", "media/net@2x.png": b"png2", "media/poster.png": b"p",
                                     "media/clip.mp4": b"mp4"})
    code, err = build(tmp_path, content, capsys)
    assert code == 0, err
    page = (tmp_path / "site" / "two.html").read_text()
    assert '<p align="center"><img src="media/net.png" width="400" height="120" alt="A net" loading="lazy"></p>' in page
    assert '<img src="media/net.png" width="80" loading="lazy">' in page
    assert '<a href="one.html#start">the start</a>' in page
    assert '<a href="https://example.org/x" target="_blank" rel="noopener">the web</a>' in page
    assert 'poster="media/poster.png"' in page and '<source src="media/clip.mp4" type="video/mp4">' in page
    assert 'srcset="media/net.png 1x, media/net%402x.png 2x"' in page
    assert '<img alt="sized" loading="lazy" src="media/net.png" width="300">' in page
    assert (tmp_path / "site" / "media" / "net@2x.png").read_bytes() == b"png2"


@pytest.mark.parametrize("body, expected", [
    ('<img src="../media/missing.png" width="10">',
     ["line 8", "'../media/missing.png' is not a file in the content folder"]),
    ('<img src="https://example.org/x.png">', ["line 8", "would be loaded from another host"]),
    ('<a href="nowhere.md">x</a>', ["line 8", "broken link 'nowhere.md': no lesson 'nowhere'"]),
    ('<a href="one.md#nope">x</a>', ["line 8", "broken anchor 'one.md#nope'"]),
    ('<a href="one.html">x</a>', ["line 8", "names a page of the built site", "'one.md'"]),
    ('<video poster="../../outside.png"></video>', ["line 8", "leaves the content folder"]),
    ('<picture><source srcset="../media/a.png 1x, ../media/gone.png 2x"></picture>', ["line 8", "'../media/gone.png'"]),
    ('<p style="color: red">red</p>', ["line 8", "inline style on <p> is blocked", "width/height attributes"]),
    ('<button onclick="go()">go</button>', ["line 8", "event handler 'onclick'"]),
    ('<a href="javascript:alert(1)">x</a>', ["line 8", "is a script"]),
    ('<script>alert(1)</script>', ["line 8", "inline <script> is blocked"]),
    ('![x](../media/a.png){ style="width: 10px" }', ["line 8", "inline style on <img> is blocked"]),
    ('<div markdown onclick="go()">\n\nText.\n\n</div>', ["line 8", "event handler 'onclick' on <div>"]),
    # HTML is case-blind, and so are the checks
    ('<BUTTON ONCLICK="go()">go</BUTTON>', ["line 8", "event handler 'onclick'"]),
    ('Inline <IMG SRC="https://example.org/x.png">.', ["line 8", "would be loaded from another host"]),
    ('<A HREF="JavaScript:alert(1)">x</A>', ["line 8", "is a script"]),
])
def test_raw_html_mistakes_are_problems_with_their_line(tmp_path, capsys, body, expected):
    content = two(tmp_path, body + "\n", **{"media/a.png": b"a"})
    code, err = build(tmp_path, content, capsys)
    assert code == 1 and not (tmp_path / "site").exists(), err
    for text in ["lessons/two.md: " + expected[0]] + expected[1:]:
        assert text in err


def test_an_aligned_markdown_table_is_not_an_inline_style(tmp_path, capsys):
    content = two(tmp_path, "| a | b |\n|:-:|--:|\n| 1 | 2 |\n")
    code, err = build(tmp_path, content, capsys)
    assert code == 0, err
    page = (tmp_path / "site" / "two.html").read_text()
    assert '<th align="center">a</th>' in page and '<td align="right">2</td>' in page and "style=" not in page


def test_a_style_element_is_refused_with_the_course_stylesheet_that_every_page_links(tmp_path, capsys):
    content = mini_course(tmp_path, **{"lessons/two.md": HEAD + '<style>p { color: red }</style>\n'})
    code, err = build(tmp_path, content, capsys)
    assert code == 1 and "templates/static/css/extra.css" in err
    (content / "lessons" / "two.md").write_text(HEAD + '<p class="red">Red.</p>\n')
    code, err = build(tmp_path, content, capsys)
    assert code == 0 and "extra" not in (tmp_path / "site" / "two.html").read_text()  # none: no link
    (content / "templates" / "static" / "css").mkdir(parents=True)
    (content / "templates" / "static" / "css" / "extra.css").write_text("p.red { color: red }\n")
    code, err = build(tmp_path, content, capsys)
    assert code == 0, err
    for page in ("index.html", "one.html", "two.html", "404.html"):
        links = re.findall(r'<link rel="stylesheet" href="([^"]+)"', (tmp_path / "site" / page).read_text())
        assert links[-1].startswith("assets/css/extra.") and (tmp_path / "site" / links[-1]).read_text() == \
            "p.red { color: red }\n"


def test_an_iframe_of_another_host_is_refused_with_a_link_as_the_fix(tmp_path, capsys):
    content = mini_course(tmp_path, **{"lessons/two.md": HEAD + '<iframe src="https://www.youtube.com/embed/xyz">'
                                                               '</iframe>\n'})
    code, err = build(tmp_path, content, capsys)
    assert code == 1 and "an <iframe> of another host ('https://www.youtube.com/embed/xyz')" in err
    assert "fix: link to it instead" in err and "1 problem found" in err
