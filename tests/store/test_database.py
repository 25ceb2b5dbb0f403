"""open_database: SQLite pragmas really set, and clear errors for bad paths."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hmi.store.database import StoreError, open_database, sqlite_pragma


def test_sqlite_is_wal_full_with_foreign_keys(tmp_path: Path) -> None:
    db = open_database(tmp_path / "hmi.sqlite")
    try:
        assert sqlite_pragma(db, "journal_mode") == "wal"
        assert sqlite_pragma(db, "synchronous") == 2  # FULL
        assert sqlite_pragma(db, "foreign_keys") == 1
        assert sqlite_pragma(db, "busy_timeout") == 5000
    finally:
        db.close()
    assert (tmp_path / "hmi.sqlite").exists()


def test_url_works_like_a_path(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'by-url.sqlite'}")
    try:
        assert db.location == str(tmp_path / "by-url.sqlite")
        assert sqlite_pragma(db, "journal_mode") == "wal"
    finally:
        db.close()


def test_missing_folder_names_it_and_says_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "hmi.sqlite"
    with pytest.raises(StoreError, match="does not exist; create it") as caught:
        open_database(path)
    assert str(tmp_path / "nowhere") in str(caught.value)


def test_a_file_that_is_not_a_database_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite"
    path.write_bytes(b"this is a text file, not SQLite " * 100)
    with pytest.raises(StoreError, match="not an HMI database") as caught:
        open_database(path)
    assert str(path) in str(caught.value)


def test_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="it is a folder"):
        open_database(tmp_path)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores modes")
def test_read_only_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(StoreError, match="read-only"):
            open_database(folder / "hmi.sqlite")
    finally:
        folder.chmod(0o755)
