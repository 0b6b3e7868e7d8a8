"""The markdown structure the import reads: destinations outside code, title headings, lead paragraphs."""

from __future__ import annotations

import pytest

from unsmudge.importer import markup


def found(text: str) -> list[str]:
    return [d.value for d in markup.destinations(text)]


def test_destinations_outside_code():
    text = """[a](a.md) `[b](b.md)` ``[c](c.md) ` still code``
<!-- [d](d.md) -->
````markdown
```
[e](e.md)
```
[f](f.md)
````
~~~
[g](g.md)
~~~
    ```python
    [h](h.md)
    ```
![i](<i i.png> "title") [j](j(1).md)
[k]: <k.md>
[^1]: not a definition
<a href="l.md">l</a> <img alt='x' src='m.png'> [n](CUDA Notes 8.1.md "spaces")
"""
    assert found(text) == ["a.md", "i i.png", "j(1).md", "k.md", "l.md", "m.png", "CUDA Notes 8.1.md"]


def test_a_stray_backtick_does_not_hide_the_next_paragraphs():
    text = "A stray ` backtick.\n\n[a](a.md) and `code`\n\nAnd ` another [b](b.md)\n"
    assert found(text) == ["a.md", "b.md"]


def test_rewrite_keeps_everything_else_byte_for_byte():
    text = "x [a](a.md) y ![b](<b c.png>) `[a](a.md)` z\n"
    assert markup.rewrite(text, lambda d: d.value.upper()) == "x [a](A.MD) y ![b](<B C.PNG>) `[a](a.md)` z\n"
    assert markup.rewrite(text, lambda d: None) == text


@pytest.mark.parametrize("text, heading", [
    ("# The **VAE** {#vae .big}\n\ntext", (1, "The VAE", "vae")),
    ("Intro\n=====\n\ntext", (1, "Intro", "intro")),
    ("```bash\n# comment\n```\n## Real one ##\n", (2, "Real one", "real-one")),
    ("#!python print(1)\n# After", (1, "After", "after")),
    ("- item\n---\n# Title", (1, "Title", "title")),  # a list item over a rule is not a heading
    ("Just text.", None),
])
def test_first_heading(text, heading):
    found_heading = markup.first_heading(text)
    assert (found_heading and (found_heading.level, found_heading.text, found_heading.id)) == heading


@pytest.mark.parametrize("text, lead", [
    ("\nA [linked](x.md) *first* paragraph\non two lines.\n\nMore.", "A linked first paragraph on two lines."),
    ("The loss $L$ falls.\n\nMore.", ""),  # math would show as raw TeX in a description
    ("- a list\n- of points", ""),
    ("!!! note\n    callout", ""),
    ("![only](a.png)\n\ntext", ""),
    ("<p align=center>banner</p>", ""),
])
def test_lead_paragraph(text, lead):
    assert markup.lead(text)[0] == lead


@pytest.mark.parametrize("text, expected", [
    # a centred formula in raw HTML: GitHub shows it, so the build must read the element's markdown
    ('<p align="center">\n    $x = \\frac{a}{b}$\n</p>\n',
     '<p align="center" markdown="1">\n    $x = \\frac{a}{b}$\n</p>\n'),
    ("<div>\n<p>$x$</p>\n<img src='a.png'>\n</div>\n",
     "<div markdown=\"1\">\n<p markdown=\"1\">$x$</p>\n<img src='a.png'>\n</div>\n"),
    ("<br>\n<p>$x$</p>\n<p>none</p>\n", '<br>\n<p markdown="1">$x$</p>\n<p>none</p>\n'),  # <br> closes nothing
    ("<p>costs $5</p>\n", "<p>costs $5</p>\n"),  # no formula: raw HTML stays as written
    ("`<p>$x$</p>`\n", "`<p>$x$</p>`\n"),  # code
    ('<p markdown="span">$x$</p>\n', '<p markdown="span">$x$</p>\n'),
])
def test_formulas_in_raw_html_blocks_are_read_as_markdown(text, expected):
    assert markup.github_math(text) == expected
