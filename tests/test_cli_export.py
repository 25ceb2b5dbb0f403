"""`hmi export` as a subprocess against a SQLite file the test fills with the historian
tables: raw and resampled CSV, times in every accepted form, and one-line errors."""

from __future__ import annotations

import csv
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert

from hmi.core.history import BAD, GOOD, UNCERTAIN
from hmi.runtime import DATABASE_FILE
from hmi.store.database import open_database
from hmi.store.schema.historian import historian_samples, historian_tags
from tests.test_cli import VALID_SITE, assert_no_crash, run_hmi

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC).timestamp()
ISO0 = "2026-03-02T08:00:00Z"


def fill(data: Path, samples: dict[str, list[tuple[float, float | str | None, int]]]) -> None:
    """A data folder whose database holds these samples (value None: BAD; str: text)."""
    data.mkdir(exist_ok=True)
    db = open_database(data / DATABASE_FILE)
    try:
        with db.engine.begin() as connection:
            for tag_id, (name, rows) in enumerate(samples.items(), start=1):
                connection.execute(insert(historian_tags).values(id=tag_id, name=name))
                connection.execute(insert(historian_samples), [
                    {"tag_id": tag_id, "t": t, "quality": q,
                     "value": v if isinstance(v, float) else None,
                     "text": v if isinstance(v, str) else None}
                    for t, v, q in rows
                ])
    finally:
        db.close()


@pytest.fixture
def site(tmp_path: Path) -> Path:
    path = tmp_path / "site.toml"
    path.write_text(VALID_SITE, encoding="utf-8")
    return path


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    fill(folder, {
        "Filler.Speed": [(T0 - 30, 99.0, GOOD), (T0, 120.0, GOOD), (T0 + 1.5, 121.25, UNCERTAIN),
                         (T0 + 2, None, BAD), (T0 + 4, 118.0, GOOD)],
        "Filler.State": [(T0 + 2, 3.0, GOOD), (T0 + 3, "running", GOOD)],
    })
    return folder


def export(tmp_path: Path, site: Path, data: Path, *args: str) -> tuple[int, str, list[list[str]]]:
    out = tmp_path / "out.csv"
    result = run_hmi("export", "--config", site, "--data", data, "--csv", out, *args,
                     cwd=tmp_path)
    assert_no_crash(result)
    rows = list(csv.reader(out.open(encoding="utf-8"))) if out.exists() else []
    return result.returncode, result.stderr, rows


def test_raw_export_one_row_per_time_with_units(tmp_path: Path, site: Path, data: Path) -> None:
    code, stderr, rows = export(tmp_path, site, data, "--tags", "Filler.Speed,Filler.State",
                                "--from", ISO0, "--to", "2026-03-02T08:00:10+00:00")
    assert code == 0, stderr
    assert rows == [
        ["time", "Filler.Speed [bpm] value", "Filler.Speed [bpm] quality",
         "Filler.State value", "Filler.State quality"],
        ["2026-03-02T08:00:00.000Z", "120", "GOOD", "", ""],
        ["2026-03-02T08:00:01.500Z", "121.25", "UNCERTAIN", "", ""],
        ["2026-03-02T08:00:02.000Z", "", "BAD", "3", "GOOD"],
        ["2026-03-02T08:00:03.000Z", "", "", "running", "GOOD"],
        ["2026-03-02T08:00:04.000Z", "118", "GOOD", "", ""],
    ]
    assert "wrote 5 rows of 2 tags" in stderr


def test_step_export_carries_the_last_value_and_quality(
    tmp_path: Path, site: Path, data: Path
) -> None:
    local_start = datetime.fromtimestamp(T0, UTC).astimezone().replace(tzinfo=None)
    code, stderr, rows = export(
        tmp_path, site, data, "--tags", "Filler.State,Filler.Speed", "--step", "1",
        "--from", local_start.isoformat(), "--to", "2026-03-02T09:00:06+01:00",
    )
    assert code == 0, stderr
    assert rows[0][1:] == ["Filler.State value", "Filler.State quality",
                           "Filler.Speed [bpm] value", "Filler.Speed [bpm] quality"]
    assert rows[1:] == [
        ["2026-03-02T08:00:00.000Z", "", "", "120", "GOOD"],
        ["2026-03-02T08:00:01.000Z", "", "", "120", "GOOD"],
        ["2026-03-02T08:00:02.000Z", "3", "GOOD", "", "BAD"],
        ["2026-03-02T08:00:03.000Z", "running", "GOOD", "", "BAD"],
        ["2026-03-02T08:00:04.000Z", "running", "GOOD", "118", "GOOD"],
        ["2026-03-02T08:00:05.000Z", "running", "GOOD", "118", "GOOD"],
    ]


def test_step_uses_the_sample_before_the_range(tmp_path: Path, site: Path, data: Path) -> None:
    code, stderr, rows = export(tmp_path, site, data, "--tags", "Filler.Speed", "--step", "1m",
                                "--from", "2026-03-02T07:59:00Z", "--to", "2026-03-02T08:01:00Z")
    assert code == 0, stderr
    assert rows[1:] == [["2026-03-02T07:59:00.000Z", "", ""],
                        ["2026-03-02T08:00:00.000Z", "120", "GOOD"]]


def test_relative_times(tmp_path: Path, site: Path) -> None:
    data = tmp_path / "recent"
    now = time.time()
    fill(data, {"Filler.Speed": [(now - 7200, 1.0, GOOD), (now - 1800, 2.0, GOOD)]})
    code, stderr, rows = export(tmp_path, site, data, "--tags", "Filler.Speed",
                                "--from", "-1h", "--to", "now")
    assert code == 0, stderr
    assert [row[1] for row in rows[1:]] == ["2"]
    code, stderr, rows = export(tmp_path, site, data, "--tags", "Filler.Speed",
                                "--from=now-1d", "--to", "+1h", "--step", "1h")
    assert code == 0, stderr
    assert len(rows) == 1 + 25


@pytest.mark.parametrize(("args", "message"), [
    (["--tags", "Filler.Sped", "--from", ISO0, "--to", "-0s"],
     "no history for tag 'Filler.Sped'; tags with history: Filler.Speed, Filler.State"),
    (["--tags", "Filler.Speed", "--from", ISO0, "--to", "2026-03-01"],
     "the range is reversed: --to 2026-03-01 is before --from"),
    (["--tags", "Filler.Speed", "--from", ISO0, "--to", ISO0], "the range is empty"),
    (["--tags", "Filler.Speed", "--from", "yesterday", "--to", "now"],
     "--from 'yesterday' is not a time; use ISO-8601"),
    (["--tags", "Filler.Speed", "--from", ISO0, "--to", "now", "--step", "0"],
     "--step '0' is not a step"),
    (["--tags", " , ", "--from", ISO0, "--to", "now"], "give at least one tag name"),
])
def test_errors_exit_2_with_one_line(
    tmp_path: Path, site: Path, data: Path, args: list[str], message: str
) -> None:
    code, stderr, rows = export(tmp_path, site, data, *args)
    assert code == 2
    assert stderr.count("\n") == 1, stderr
    assert stderr.startswith("hmi export: ")
    assert message in stderr
    assert rows == []
    assert not list(tmp_path.glob(".out.csv.*"))


def test_no_database_names_where_it_looked(tmp_path: Path, site: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code, stderr, _ = export(tmp_path, site, empty, "--tags", "Filler.Speed",
                             "--from", "-1h", "--to", "now")
    assert code == 2
    assert f"no database found at {empty / DATABASE_FILE}" in stderr
    assert not (empty / DATABASE_FILE).exists()  # looked, did not create one


def test_unwritable_out_is_refused(tmp_path: Path, site: Path, data: Path) -> None:
    for out, reason in ((tmp_path / "missing" / "out.csv", "No such file or directory"),
                        (tmp_path, "it is a folder")):
        result = run_hmi("export", "--config", site, "--data", data, "--csv", out,
                         "--tags", "Filler.Speed", "--from", ISO0, "--to", "now", cwd=tmp_path)
        assert result.returncode == 2
        assert f"hmi export: cannot write {out}: " in result.stderr
        assert reason in result.stderr
        assert result.stderr.count("\n") == 1
