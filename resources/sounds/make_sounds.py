"""Writes the alarm sounds (one per priority) next to this file: run it to make them
again. Each is a short phrase the horn repeats until the alarm is acknowledged or
silenced; the more urgent, the faster and higher, so the priority is heard, not only
seen. 16 kHz mono 16-bit WAV (every platform player reads it)."""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

RATE = 16_000
# priority: (tone Hz, second tone Hz or 0, beep s, gap s, beeps, pause after s)
PHRASES = {
    "critical": (1400, 1000, 0.12, 0.04, 6, 0.25),
    "high": (1100, 0, 0.18, 0.12, 3, 0.5),
    "medium": (880, 0, 0.25, 0.2, 2, 0.9),
    "low": (660, 0, 0.35, 0.0, 1, 1.6),
}


def phrase(tone: float, second: float, beep: float, gap: float, beeps: int,
           pause: float) -> bytes:
    frames = bytearray()
    for k in range(beeps):
        hz = second if second and k % 2 else tone
        n = int(beep * RATE)
        for i in range(n):
            fade = min(1.0, i / 80, (n - i) / 80)  # no clicks at the edges
            sample = 0.6 * fade * math.sin(2 * math.pi * hz * i / RATE)
            frames += struct.pack("<h", int(sample * 32767))
        frames += b"\0\0" * int(gap * RATE)
    frames += b"\0\0" * int(pause * RATE)
    return bytes(frames)


def main() -> None:
    here = Path(__file__).parent
    for name, args in PHRASES.items():
        with wave.open(str(here / f"alarm-{name}.wav"), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(RATE)
            out.writeframes(phrase(*args))


if __name__ == "__main__":
    main()
