"""The embedded default model (emoji64/) and the recipe that trains it (`python -m models.train`)."""

from pathlib import Path

EMBEDDED_MODEL = Path(__file__).parent / "emoji64"
