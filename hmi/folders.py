"""Where a station keeps its files: the data folder (database, OPC UA certificates).

Light on purpose (no database or device code): every command that takes `--data DIR`
finds its folder here, the app and `hmi run` alike.
"""

from __future__ import annotations

from pathlib import Path

DATABASE_FILE = "hmi.sqlite3"
PKI_FOLDER = "pki"  # OPC UA certificates: own/, trusted/, rejected/


def user_data_dir() -> Path:
    """The user data folder `hmi run` uses when no --data is given."""
    import platformdirs  # noqa: PLC0415 (only when --data is not given)

    return Path(platformdirs.user_data_dir("hmi", appauthor=False))


def data_dir(given: Path | None) -> Path:
    """``--data DIR`` if given, else the user data folder."""
    return given if given is not None else user_data_dir()
