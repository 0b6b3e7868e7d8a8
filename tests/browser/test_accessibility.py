"""axe-core (vendored, tests/browser/vendor/axe.min.js) on the index, a lesson with every markdown feature and
one with two demos, light and dark.

The site's Content-Security-Policy rightly forbids scripts it did not ship, so these pages are opened
in a context with `bypass_csp=True`, only here, to inject axe.
"""

from __future__ import annotations

from pathlib import Path

import pytest

AXE = Path(__file__).parent / "vendor" / "axe.min.js"


@pytest.mark.parametrize("origin", ["http"], indirect=True)
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_serious_or_critical_violations(browser, origin, scheme):
    context = browser.new_context(bypass_csp=True, color_scheme=scheme, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    found = []
    try:
        for path in ["index.html", "first-steps.html", "slider-lesson.html"]:
            page.goto(origin + path)
            if path == "slider-lesson.html":  # check the slider as a learner sees it, not the filmstrip
                page.wait_for_selector('#demo-fixture-demo[data-state="ready"]')
            page.add_script_tag(path=str(AXE))
            result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
            for violation in result["violations"]:
                if violation["impact"] in ("serious", "critical"):
                    targets = [", ".join(node["target"]) for node in violation["nodes"][:5]]
                    found.append(f"{path} ({scheme}): {violation['id']} [{violation['impact']}] "
                                 f"{violation['help']}: {targets}")
    finally:
        context.close()
    assert found == [], "\n".join(found)
