"""The search index, built at build time and shipped as a classic script (works from file://).

The script assigns `window.unsmudgeSearchDocs`; `static/js/site.js` loads it and lunr (vendored) only
when the reader first uses the search box, and builds the lunr index in the browser then: a serialised
lunr index would need Node at build time and is larger than the documents it indexes.
"""

from __future__ import annotations

import json

MAX_TEXT = 20_000  # characters of body text per lesson: enough to find it, bounded for huge lessons


def search_script(entries: list[dict]) -> bytes:
    docs = [{"id": e["id"], "url": e["url"], "title": e["title"], "kicker": e["kicker"],
             "subtitle": e["subtitle"], "headings": " ".join(e["headings"]), "text": e["text"][:MAX_TEXT]}
            for e in entries]
    body = json.dumps(docs, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return f"window.unsmudgeSearchDocs={body};\n".encode()
