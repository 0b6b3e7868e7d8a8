"""What the import could not carry over, or changed on the way: listed for the author, never fatal.

A mistake that stops the import is a Problem; a note is something the author should know about the
course that was written (an extension it does not have, a page left out, a key dropped).
"""

from __future__ import annotations


class Notes:
    def __init__(self) -> None:
        # kind -> (subject, detail) -> places; dicts keep the order things were found in
        self.kinds: dict[str, dict[tuple[str, str], list[str]]] = {}

    def add(self, kind: str, subject: str, detail: str, where: str = "") -> None:
        places = self.kinds.setdefault(kind, {}).setdefault((subject, detail), [])
        if where and where not in places:
            places.append(where)

    def count(self, kind: str) -> int:
        return len(self.kinds.get(kind, {}))

    def markdown(self) -> str:
        """A markdown list per kind; a thing found in many places is listed once, with its places."""
        out = []
        for kind, things in self.kinds.items():
            out.append(f"\n## {kind[0].upper()}{kind[1:]} ({len(things)})\n")
            for (subject, detail), places in things.items():
                shown = ", ".join(places[:3]) + (f" and {len(places) - 3} more" if len(places) > 3 else "")
                out.append(f"- `{subject}`: {detail}" + (f" ({shown})" if shown else ""))
        return "\n".join(out).lstrip("\n") + "\n" if out else ""
