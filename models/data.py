"""The training set: Noto Color Emoji rendered at 64 px, captioned with Unicode names and CLDR keywords.

Sources, both Debian packages (so any machine with our registries can rebuild the set):
- `fonts-noto-color-emoji` (OFL-1.1): the pictures. Colour bitmaps exist only at size 109.
- `unicode-cldr-core` (Unicode licence): English annotations, i.e. the short name ("red heart") and the
  keywords people search with ("love", "heart"), which teach the model how learners ask.
The plain lowercase Unicode name ("heavy black heart") is always the first caption of each emoji.
"""

from __future__ import annotations

import json
import re
import unicodedata
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFont

FONT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
CLDR = Path("/usr/share/unicode/cldr/common/annotations/en.xml")
BITMAP_SIZE = 109  # the only size Noto Color Emoji has bitmaps for
SIZE = 64
COMMON = 6  # a keyword of more emoji than this is dropped
MISSING = [
    f"{path} is missing: install the Debian package {package} (apt-get install -y {package})"
    for path, package in ((FONT, "fonts-noto-color-emoji"), (CLDR, "unicode-cldr-core"))
]


@dataclass
class Emoji:
    char: str
    name: str  # lowercase Unicode name: "dog face"
    captions: list[str]  # name first, then CLDR short name and keywords, deduplicated


def cldr_annotations() -> dict[str, tuple[str, list[str]]]:
    """char -> (tts short name, keywords) from CLDR's English annotations."""
    found: dict[str, tuple[str, list[str]]] = {}
    for node in ET.parse(CLDR).getroot().iter("annotation"):
        char, text = node.get("cp"), (node.text or "").strip()
        tts, keywords = found.get(char, ("", []))
        if node.get("type") == "tts":
            tts = text
        else:
            keywords = [k.strip() for k in text.split("|") if k.strip()]
        found[char] = (tts, keywords)
    return found


def render(char: str, font: ImageFont.FreeTypeFont) -> Image.Image | None:
    """The emoji cropped to its ink, padded square on white, resized to SIZE; None if the font lacks it."""
    canvas = Image.new("RGBA", (BITMAP_SIZE * 2, BITMAP_SIZE * 2), (255, 255, 255, 0))
    ImageDraw.Draw(canvas).text((BITMAP_SIZE // 2, BITMAP_SIZE // 2), char, font=font, embedded_color=True)
    box = canvas.getchannel("A").getbbox()
    if box is None:
        return None
    glyph = canvas.crop(box)
    side = max(glyph.size)
    square = Image.new("RGBA", (side, side), (255, 255, 255, 255))
    square.alpha_composite(glyph, ((side - glyph.width) // 2, (side - glyph.height) // 2))
    return square.convert("RGB").resize((SIZE, SIZE), Image.Resampling.LANCZOS)


def captions_for(name: str, tts: str, keywords: list[str]) -> list[str]:
    """Name first, then the ways people ask: the short name, 'a …', and each keyword."""
    phrases = [name, tts, *keywords]
    phrases += [f"a {p}" for p in (tts, name) if p and not p.startswith(("a ", "an "))]
    seen, out = set(), []
    for phrase in phrases:
        phrase = re.sub(r"\s+", " ", phrase.lower()).strip()
        if phrase and phrase not in seen:
            seen.add(phrase)
            out.append(phrase)
    return out


def collect() -> tuple[list[Emoji], np.ndarray]:
    """All single-codepoint emoji the font draws in colour, with captions and 64 px RGB pictures."""
    problems = [m for m, p in zip(MISSING, (FONT, CLDR)) if not p.exists()]
    if problems:
        raise SystemExit("\n".join(problems))
    font = ImageFont.truetype(str(FONT), BITMAP_SIZE)
    tofu = render("\U000E0000", font)  # an unassigned codepoint draws the font's "missing" glyph
    found, pictures = [], []
    for char, (tts, keywords) in sorted(cldr_annotations().items()):
        if len(char) != 1 or not tts or unicodedata.category(char) == "Sk":  # skin tone modifiers
            continue
        name = unicodedata.name(char, "").lower()
        picture = render(char, font) if name else None
        if picture is None or (tofu is not None and not ImageChops.difference(picture, tofu).getbbox()):
            continue
        if np.asarray(picture).std() < 8:  # blank or monochrome-white glyphs teach nothing
            continue
        found.append((char, name, tts, keywords))
        pictures.append(np.asarray(picture))
    # Keywords shared by many emoji ("face", "geometric") name no one picture: leave them out.
    counts = Counter(k for *_, keywords in found for k in set(keywords))
    emoji = [Emoji(char, name, captions_for(name, tts, [k for k in keywords if counts[k] <= COMMON]))
             for char, name, tts, keywords in found]
    return emoji, np.stack(pictures)


def save(folder: Path) -> None:
    emoji, pictures = collect()
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "pictures.npy", pictures)
    (folder / "emoji.json").write_text(
        json.dumps([e.__dict__ for e in emoji], ensure_ascii=False, indent=0), encoding="utf-8")


def load(folder: Path) -> tuple[list[Emoji], np.ndarray]:
    entries = json.loads((folder / "emoji.json").read_text(encoding="utf-8"))
    return [Emoji(**e) for e in entries], np.load(folder / "pictures.npy")


def write_captions(model: Path) -> None:
    """The captions the model learned, one list (lowercase, sorted, each once), as `captions.json` in the
    model's folder: the live mode's export ships them so the page can tell what the model can draw."""
    captions = sorted({" ".join(c.lower().split()) for e in collect()[0] for c in e.captions} - {""})
    (model / "captions.json").write_text(json.dumps(captions, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")


if __name__ == "__main__":
    target = Path(__file__).parent / ".data"
    save(target)
    write_captions(Path(__file__).parent / "emoji64")
    emoji, pictures = load(target)
    print(f"{len(emoji)} emoji, {sum(len(e.captions) for e in emoji)} captions, pictures {pictures.shape} -> {target}")
