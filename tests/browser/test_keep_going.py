"""A site written by `unsmudge build --keep-going` in Chromium from file://: what is broken shows as words
(a "broken link" mark, a picture's alt text, a demo placeholder saying what to run), no request fails, the
header leads to the list of problems, and no page has a serious or critical axe violation in either theme."""

from __future__ import annotations

import pytest

from tests.commands import build_in_subprocess
from tests.site.helpers import write_tree

from .axe import serious_violations
from .conftest import Watch

COURSE = """
-- course.toml --
title = "Broken in places"
lessons = ["one", "two"]
[[tracks]]
id = "t"
title = "Track"
-- lessons/one.md --
+++
title = "One"
module = 1
track = "t"
+++
## Dropout
See [the second lesson](two.md), [a lesson that is gone](gone.md) and <a href="nowhere.md">a raw link</a>.

![A small network](../media/net.png)

<img src="../media/lost.png" alt="A lost picture" width="200" height="100">
-- lessons/two.md --
+++
title = "Two"
module = 2
track = "t"
prerequisites = ["one"]
+++
Back to [dropout](one.md#Dropout).

```demo
ghost
```

```demo
later
```
-- demos/later.toml --
title = "A demo not computed yet"
prompts = ["a cat"]
"""
PAGES = ["index.html", "one.html", "two.html", "problems.html"]


@pytest.fixture(scope="module")
def kept_site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("keep-going")
    content = write_tree(tmp / "content", COURSE)
    result = build_in_subprocess(content, tmp / "frames", tmp / "site", "--keep-going")
    assert result.returncode == 1 and "7 problems found; the site was written" in result.stderr, result.stderr
    return tmp / "site"


def test_what_is_broken_shows_as_words_and_nothing_fails_to_load(browser, kept_site):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    watch = Watch(page, kept_site.as_uri() + "/")
    try:
        lesson = watch.goto("one.html")
        assert lesson.get_by_role("link", name="the second lesson").is_visible()
        for text in ("broken link a lesson that is gone", "broken link a raw link",
                     "missing picture A small network", "missing picture A lost picture"):
            assert lesson.get_by_text(text, exact=True).is_visible(), text
        assert lesson.get_by_role("link", name="a lesson that is gone").count() == 0  # text, not a link
        two = watch.goto("two.html")
        assert two.get_by_text("The demo ghost cannot be shown").is_visible()
        assert two.get_by_text("the frames for this demo are not computed yet").is_visible()
        two.get_by_role("link", name="Built with 7 problems: see the list").click()
        assert page.url.endswith("/problems.html")
        assert page.get_by_role("heading", name="Problems in this build").is_visible()
        assert page.get_by_text("did you mean 'one.md#dropout'?").is_visible()
        watch.assert_clean()
    finally:
        context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_serious_or_critical_violations(browser, kept_site, scheme):
    found = serious_violations(browser, kept_site.as_uri() + "/", PAGES, scheme)
    assert found == [], "\n".join(found)
