"""Browser tests: the built site in real headless Chromium.

Needs Debian's `chromium` (`make test` installs it; another binary via UNSMUDGE_CHROMIUM=/path) and
Playwright for Python (`pip install playwright`; its own browser download is not used). Pillow draws the
fake frames. Run alone with `pytest tests/browser`.
"""
