"""The ```pipeline fence: rows of boxes joined by arrows, drawn as inline SVG at build time.

No layout engine and no script in the browser: each line is one row, boxes are sized from their text
(a fixed average glyph width is close enough for the system sans-serif), and colours come from CSS
classes so light and dark themes both apply.
"""

from __future__ import annotations

from html import escape

FONT = 14  # px, matched by .diagram text in the theme's CSS
GLYPH = 7.6  # average glyph width at FONT px
PAD_X, BOX_H, GAP, ROW_GAP, MARGIN = 12, 36, 34, 22, 2


def parse(source: str) -> tuple[str, list[list[str]]]:
    """(title, rows of box labels) from the fence's text."""
    title, rows = "", []
    for line in source.splitlines():
        line = line.strip()
        if line.startswith("#"):
            title = line.lstrip("#").strip()
        elif line:
            rows.append([box.strip() for box in line.split("->") if box.strip()])
    return title, rows


def render(source: str) -> str:
    """The diagram as an inline SVG figure; ValueError when the fence draws nothing."""
    title, rows = parse(source)
    if not rows:
        raise ValueError("the pipeline diagram is empty")
    label = title or " → ".join(" → ".join(row) for row in rows)
    shapes, width = [], 0
    for r, row in enumerate(rows):
        x, y = MARGIN, MARGIN + r * (BOX_H + ROW_GAP)
        for b, text in enumerate(row):
            w = round(len(text) * GLYPH + 2 * PAD_X)
            if b:
                x1, x2, mid = x - GAP + 3, x - 4, y + BOX_H / 2
                shapes.append(f'<path class="diagram-arrow" d="M{x1} {mid:g}H{x2}m-6 -5l6 5l-6 5"/>')
            shapes.append(f'<rect class="diagram-box" x="{x}" y="{y}" width="{w}" height="{BOX_H}" rx="6"/>')
            shapes.append(f'<text x="{x + w / 2:g}" y="{y + BOX_H / 2:g}">{escape(text)}</text>')
            x += w + GAP
        width = max(width, x - GAP + MARGIN)
    height = 2 * MARGIN + len(rows) * BOX_H + (len(rows) - 1) * ROW_GAP
    # tabindex: on a narrow screen the figure scrolls sideways, and keyboard users must reach it
    return (f'<figure class="diagram" tabindex="0"><svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
            f'role="img" aria-label="{escape(label)}"><title>{escape(label)}</title>'
            + "".join(shapes) + "</svg></figure>")
