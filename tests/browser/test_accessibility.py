"""axe-core on the index, a lesson with every markdown feature and one with two demos, light and dark."""

from __future__ import annotations

import pytest

from .axe import serious_violations


@pytest.mark.parametrize("origin", ["http"], indirect=True)
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_serious_or_critical_violations(browser, origin, scheme):
    found = serious_violations(browser, origin, ["index.html", "first-steps.html", "slider-lesson.html"], scheme)
    assert found == [], "\n".join(found)
