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


def test_check_and_close_icons_become_characters_and_other_shortcodes_are_reported_by_line(tmp_path, capsys):
    from tests.importer.helpers import body, run_import
    from tests.site.helpers import write_tree

    source = write_tree(tmp_path / "source", """
-- mkdocs.yml --
site_name: Icons
markdown_extensions:
  - attr_list
  - pymdownx.emoji
-- docs/init.md --
# Initializers

| Initialization | Preserves variance |
|:--------------:|:------------------:|
| `Random` |  :material-close: {.red-cross}  |
| `Xavier` | :material-check: {.green-check} |
| `Kaiming` | :octicons-check-16: |

Both :fontawesome-solid-check:{ .green } and :fontawesome-solid-xmark: here, `:material-check:` not.
-- docs/other.md --
# Other

A :smile: and :material-rocket-launch: stay as written.
""")
    code, report, err = run_import(capsys, "mkdocs", source, tmp_path / "content")
    assert code == 0, err
    init = body(tmp_path / "content", "init")
    assert "|  ✗ {.red-cross}  |" in init and "| ✓ {.green-check} |" in init and "| `Kaiming` | ✓ |" in init
    assert "Both ✓ and ✗ here, `:material-check:` not." in init  # an attribute list right after one styled it
    assert "A :smile: and :material-rocket-launch: stay" in body(tmp_path / "content", "other")
    emoji = next(line for line in report.split("\n") if line.startswith("- `pymdownx.emoji`"))
    assert "used in 2 pages" in emoji
    assert "; 5 check and close icons written as ✓ and ✗ (" in emoji
    assert "source/docs/init.md: lines 5-7, 9)" in emoji  # not line 4, the table's |:---:|
    assert "; 2 other shortcodes show as text (" in emoji and "source/docs/other.md: line 3)" in emoji
