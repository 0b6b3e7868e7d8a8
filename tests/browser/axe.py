"""axe-core (vendored: vendor/axe.min.js) over built pages: the serious and critical violations, one line each.

The site's Content-Security-Policy rightly forbids scripts it did not ship, so the pages are opened in a
context with `bypass_csp=True`, only here, to inject axe.
"""

from __future__ import annotations

from pathlib import Path

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
# a demo is checked as a learner sees it: the slider once ready, not the filmstrip shown before
DEMOS_READY = "() => [...document.querySelectorAll('[data-demo]')].every(d => d.dataset.state === 'ready')"


def serious_violations(browser, root: str, paths: list[str], scheme: str, width: int = 1280) -> list[str]:
    """Open each of `paths` under `root` in `scheme` ("light" or "dark") at `width` px and run axe."""
    context = browser.new_context(bypass_csp=True, color_scheme=scheme, viewport={"width": width, "height": 900})
    page = context.new_page()
    found = []
    try:
        for path in paths:
            page.goto(root + path)
            page.wait_for_function(DEMOS_READY)
            page.add_script_tag(path=str(AXE))
            result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
            found += [f"{path} ({scheme}, {width} px): {v['id']} [{v['impact']}] {v['help']}: "
                      f"{[', '.join(node['target']) for node in v['nodes'][:5]]}"
                      for v in result["violations"] if v["impact"] in ("serious", "critical")]
    finally:
        context.close()
    return found
