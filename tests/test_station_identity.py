"""The station's identity for its outbox claims: the same after a restart, another for
another data folder (two stations never share one, whatever their host names and paths)."""

from __future__ import annotations

from pathlib import Path

from hmi.runtime import STATION_ID_FILE, station_identity


def test_the_identity_survives_a_restart_and_is_the_stations_own(tmp_path: Path) -> None:
    first = station_identity(tmp_path / "a")
    assert station_identity(tmp_path / "a") == first
    assert station_identity(tmp_path / "b") != first
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / STATION_ID_FILE).write_text("garbage\n")
    made = station_identity(tmp_path / "c")  # a damaged file: a new id, kept from now on
    assert made == station_identity(tmp_path / "c")
    assert len(made.rsplit(":", 1)[1]) == 32
