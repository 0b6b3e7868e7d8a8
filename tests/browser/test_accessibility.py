"""axe-core on every page of the fixture course (the index, a lesson with every markdown feature, one with two
demos, the 404 page...), light and dark, on a phone and on a desktop."""

from __future__ import annotations

import pytest

from .axe import serious_violations


@pytest.mark.parametrize("origin", ["http"], indirect=True)
@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [360, 1280])
def test_no_serious_or_critical_violations(browser, built_site, origin, scheme, width):
    pages = sorted(p.relative_to(built_site).as_posix() for p in built_site.rglob("*.html"))
    assert {"index.html", "404.html", "slider-lesson.html"} <= set(pages), pages
    found = serious_violations(browser, origin, pages, scheme, width)
    assert found == [], "\n".join(found)
