"""The [historian] section: retention and heartbeat from the site file, today's values by
default, and every mistake named at file:line with what is allowed."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from hmi.config import ConfigError, load_site, parse_site
from hmi.core.site import HistorianSettings
from tests.config.minimal_site import BASE, errors_of, with_section


def with_historian(*lines: str) -> str:
    return with_section("historian", *lines)


def test_historian_section_values_reach_the_site():
    text = with_historian("raw_days = 30", "rollup_days = 730", "heartbeat = 15.5")
    site = parse_site(text, "site.toml")
    assert site.historian == HistorianSettings(raw_days=30, rollup_days=730, heartbeat=15.5)
    assert isinstance(site.historian.raw_days, int)
    assert isinstance(site.historian.rollup_days, int)
    with pytest.raises(AttributeError):
        site.historian.raw_days = 1  # type: ignore[misc]


def test_bounds_themselves_are_allowed():
    low = parse_site(with_historian("raw_days = 1", "rollup_days = 1", "heartbeat = 1"))
    assert low.historian == HistorianSettings(1, 1, 1.0)
    high = parse_site(with_historian("raw_days = 3650", "rollup_days = 7300", "heartbeat = 3600"))
    assert high.historian == HistorianSettings(3650, 7300, 3600.0)


def test_absent_section_gives_todays_defaults():
    site = parse_site(BASE, "site.toml")
    assert site.historian == HistorianSettings()
    assert (site.historian.raw_days, site.historian.rollup_days) == (90, 3 * 365)
    assert site.historian.heartbeat == 60.0


def test_empty_section_and_absent_keys_keep_the_defaults():
    assert parse_site(with_historian()).historian == HistorianSettings(90, 1095, 60.0)
    only_heartbeat = parse_site(with_historian("heartbeat = 5")).historian
    assert only_heartbeat == HistorianSettings(90, 1095, 5.0)
    only_raw = parse_site(with_historian("raw_days = 365")).historian
    assert only_raw == HistorianSettings(365, 1095, 60.0)


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (
            ["raw_days = -5"],
            "site.toml:17: raw_days = -5 is out of range; allowed a whole number 1..3650",
        ),
        (
            ["raw_days = 0"],
            "site.toml:17: raw_days = 0 is out of range; allowed a whole number 1..3650",
        ),
        (
            ["heartbeat = 1", "raw_days = 4000", "rollup_days = 7000"],
            "site.toml:18: raw_days = 4000 is out of range; allowed a whole number 1..3650",
        ),
        (
            ['raw_days = "90"'],
            "site.toml:17: raw_days = '90' is out of range; allowed a whole number 1..3650",
        ),
        (
            ["raw_days = 7.5"],
            "site.toml:17: raw_days = 7.5 is out of range; allowed a whole number 1..3650",
        ),
        (
            ["rollup_days = 8000"],
            "site.toml:17: rollup_days = 8000 is out of range; allowed a whole number 1..7300",
        ),
        (
            ["rollup_days = -1"],
            "site.toml:17: rollup_days = -1 is out of range; allowed a whole number 1..7300",
        ),
        (
            ["heartbeat = 0.5"],
            "site.toml:17: heartbeat = 0.5 is out of range; allowed a number 1..3600",
        ),
        (
            ["heartbeat = -60"],
            "site.toml:17: heartbeat = -60 is out of range; allowed a number 1..3600",
        ),
        (
            ["raw_days = 90", "heartbeat = 7200"],
            "site.toml:18: heartbeat = 7200 is out of range; allowed a number 1..3600",
        ),
        (
            ["heartbeat = true"],
            "site.toml:17: heartbeat = True is out of range; allowed a number 1..3600",
        ),
        (
            ["raw_days = 90", "retention_days = 30"],
            "site.toml:18: unknown key 'retention_days' in [historian]; "
            "allowed: heartbeat, raw_days, rollup_days",
        ),
        (
            ["raw_days = 90", "rollup_days = 30"],
            "site.toml:18: historian.rollup_days = 30 is shorter than historian.raw_days = 90; "
            "roll-ups are kept at least as long as raw samples: allowed rollup_days >= raw_days",
        ),
        (
            # rollup_days absent: its default (3 years) is shorter; pointed at raw_days
            ["heartbeat = 60", "raw_days = 2000"],
            "site.toml:18: historian.rollup_days = 1095 (the default) is shorter than "
            "historian.raw_days = 2000; roll-ups are kept at least as long as raw samples: "
            "allowed rollup_days >= raw_days",
        ),
        (
            # an invalid raw_days is reported once, not compared with rollup_days as well
            ["raw_days = 5000", "rollup_days = 100"],
            "site.toml:17: raw_days = 5000 is out of range; allowed a whole number 1..3650",
        ),
    ],
)
def test_historian_mistake_gives_one_error_at_its_line(lines: list[str], expected: str):
    assert errors_of(with_historian(*lines)) == [expected]


def test_historian_not_a_table_is_named():
    text = "historian = 90\n" + BASE
    assert errors_of(text) == ["site.toml:1: [historian] must be a table"]


def test_every_historian_mistake_reported_at_once():
    text = with_historian("raw_days = 0", "rollup_days = 99999", "heartbeat = 0", "keep = 1")
    errors = errors_of(text)
    assert errors == [
        "site.toml:20: unknown key 'keep' in [historian]; "
        "allowed: heartbeat, raw_days, rollup_days",
        "site.toml:17: raw_days = 0 is out of range; allowed a whole number 1..3650",
        "site.toml:18: rollup_days = 99999 is out of range; allowed a whole number 1..7300",
        "site.toml:19: heartbeat = 0 is out of range; allowed a number 1..3600",
    ]


def test_historian_errors_join_the_other_sections_errors():
    text = with_historian("heartbeat = 0").replace('type = "float32"', 'type = "real"')
    errors = errors_of(text)
    assert len(errors) == 2
    assert errors[0].startswith("site.toml:14: unknown data type 'real'")
    assert errors[1] == "site.toml:17: heartbeat = 0 is out of range; allowed a number 1..3600"


def test_site_file_on_disk_names_itself_in_historian_errors(tmp_path: Path):
    good = tmp_path / "line1.toml"
    good.write_text(with_historian("raw_days = 14", "rollup_days = 365"), "utf-8")
    assert load_site(good).historian == HistorianSettings(14, 365, 60.0)
    bad = tmp_path / "line2.toml"
    bad.write_text(with_historian("raw_days = 14", "rollup_days = 7"), "utf-8")
    with pytest.raises(ConfigError) as caught:
        load_site(bad)
    (issue,) = caught.value.issues
    assert str(issue).startswith(f"{bad}:18: historian.rollup_days = 7 is shorter than ")


def test_demo_config_documents_the_defaults_in_its_commented_historian_block():
    text = resources.files("hmi.resources").joinpath("config/demo.toml").read_text("utf-8")
    assert parse_site(text, "demo.toml").historian == HistorianSettings()  # commented out
    block = text.split("# [historian]\n", 1)[1].split("\n\n", 1)[0]
    keys = [line.removeprefix("# ") for line in block.splitlines()]
    assert [k.split(" =")[0] for k in keys] == ["raw_days", "rollup_days", "heartbeat"]
    assert parse_site(with_historian(*keys)).historian == HistorianSettings()
