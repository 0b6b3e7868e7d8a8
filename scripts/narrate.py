#!/usr/bin/env python3
"""Make a lesson's narration audio from its transcript, reproducibly.

    python scripts/narrate.py content/media/vae-stable-diffusion.txt
        -> content/media/vae-stable-diffusion.mp3
    python scripts/narrate.py            every transcript in content/media/*.txt
    python scripts/narrate.py --check    exits 1 if a committed .mp3 is not what its transcript makes today

Needs two Debian packages: `apt-get install -y espeak-ng lame` (tested with espeak-ng 1.51 and LAME 3.100,
Debian 12). espeak-ng speaks the text into a WAV (22,050 Hz, mono); LAME encodes it as a 32 kbit/s constant
bit-rate MP3, which every browser plays. Neither tool writes a date, a random serial number or a path into
its output, so the same transcript and tool versions give the same bytes (run it twice and compare).
Another version of either tool may change the sound, and so the bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

VOICE = "en-us"  # espeak-ng voice
SPEED = 165  # words per minute (espeak-ng's default 175 is a little fast for a lesson)
BITRATE = 32  # kbit/s, mono


def tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        sys.exit(f"narrate: '{name}' is not installed; run: apt-get install -y espeak-ng lame")
    return found


def narrate(transcript: Path, out: Path) -> None:
    espeak, lame = tool("espeak-ng"), tool("lame")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        mp3 = Path(tmp) / "speech.mp3"
        subprocess.run([espeak, "-v", VOICE, "-s", str(SPEED), "-f", str(transcript), "-w", str(wav)], check=True)
        # -m m: mono; -b: constant bit rate; --noreplaygain: no analysis tag; -q 2: slower, better encoding
        subprocess.run([lame, "--quiet", "-m", "m", "-b", str(BITRATE), "-q", "2", "--noreplaygain",
                        str(wav), str(mp3)], check=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(mp3), out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("transcripts", type=Path, nargs="*",
                        help="transcripts, .txt files (default: content/media/*.txt)")
    parser.add_argument("-o", "--out", type=Path, help="the audio file, for one transcript "
                        "(default: the transcript's name with .mp3)")
    parser.add_argument("--check", action="store_true", help="compare with the existing files instead of writing")
    args = parser.parse_args(argv)
    transcripts = args.transcripts or sorted(Path("content/media").glob("*.txt"))
    if not transcripts:
        parser.error("no transcripts given and none in content/media/")
    if args.out and len(transcripts) > 1:
        parser.error("--out needs exactly one transcript")
    stale = 0
    for transcript in transcripts:
        out = args.out or transcript.with_suffix(".mp3")
        if not args.check:
            narrate(transcript, out)
            digest = hashlib.sha256(out.read_bytes()).hexdigest()[:16]
            print(f"{out}: {out.stat().st_size:,} bytes, sha256 {digest}")
            continue
        with tempfile.TemporaryDirectory() as tmp:
            fresh = Path(tmp) / out.name
            narrate(transcript, fresh)
            if out.is_file() and fresh.read_bytes() == out.read_bytes():
                print(f"{out}: up to date")
                continue
        print(f"{out}: differs from what {transcript} makes now; run: python scripts/narrate.py {transcript}")
        stale += 1
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
