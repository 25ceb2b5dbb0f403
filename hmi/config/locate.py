"""Line numbers for TOML keys, which tomllib does not report.

A light scan of the text that knows tables, arrays of tables and ``key =`` lines; enough
to point an error at ``file:line`` for the flat, hand-written files a site uses.
"""

from __future__ import annotations

import re

_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_\-]+)\s*=""")

Path = tuple[str | int, ...]  # a key path: ("tags", 3, "address")


class LineIndex:
    """Maps a key path such as ``("tags", 3, "address")`` to its 1-based line."""

    def __init__(self, text: str) -> None:
        self._lines: dict[Path, int] = {}
        self._array_counts: dict[tuple[str, ...], int] = {}
        table: Path = ()
        for number, line in enumerate(text.splitlines(), start=1):
            header = _HEADER.match(line)
            if header:
                names = tuple(p.strip().strip("\"'") for p in header.group(2).split("."))
                if header.group(1) == "[[":
                    index = self._array_counts.get(names, 0)
                    self._array_counts[names] = index + 1
                    table = (*names, index)
                else:
                    table = names
                self._lines.setdefault(table, number)
                continue
            key = _KEY.match(line)
            if key:
                self._lines.setdefault((*table, key.group(1).strip("\"'")), number)

    def line(self, path: Path) -> int:
        """The line of the path, or of its nearest enclosing table; 1 if unknown."""
        probe = tuple(path)
        while probe:
            if probe in self._lines:
                return self._lines[probe]
            probe = probe[:-1]
        return 1
