"""[alarming] positions: the operator positions the alarm report counts per, each
watching areas; an area listed twice, an area no alarm has, a bad value: file:line."""

from __future__ import annotations

from hmi.config import parse_site
from tests.config.minimal_site import BASE, errors_of

ALARMS = "".join(
    f'\n[[alarms]]\nname = "{name}"\ntag = "Speed"\ntype = "bad_quality"\narea = "{area}"\n'
    for name, area in (("A", "Filling"), ("B", "Packing"), ("C", "Utilities")))


def line_of(text: str, needle: str) -> int:
    return next(k for k, line in enumerate(text.splitlines(), 1) if needle in line)


def test_positions_reach_the_settings_in_their_order():
    text = BASE + ALARMS + '\n[alarming]\npositions = { "Filling console" = ["Filling"], ' \
        '"Back desk" = ["Utilities", "Packing"] }\n'
    assert parse_site(text).alarm_settings.positions == (
        ("Filling console", ("Filling",)), ("Back desk", ("Utilities", "Packing")))
    table = BASE + ALARMS + '\n[alarming.positions]\n"Filling console" = ["Filling"]\n'
    assert parse_site(table).alarm_settings.positions == (("Filling console", ("Filling",)),)
    assert parse_site(BASE + ALARMS).alarm_settings.positions == ()


def test_an_area_listed_twice_or_unknown_is_refused_at_its_line():
    text = BASE + ALARMS + '\n[alarming.positions]\n"Filling console" = ["Filling"]\n' \
        '"Packing console" = ["Packing", "Filling"]\n"Spare" = ["Filing"]\n'
    assert errors_of(text) == [
        f"site.toml:{line_of(text, 'Packing console')}: alarming.positions: area 'Filling' "
        "is listed twice (by 'Filling console' and 'Packing console'); give each area one "
        "position",
        f"site.toml:{line_of(text, 'Spare')}: alarming.positions: position 'Spare': no alarm "
        "has area 'Filing'; areas in use: 'Filling', 'Packing', 'Utilities'",
    ]


def test_bad_values_say_what_to_write():
    text = BASE + ALARMS + '\n[alarming]\npositions = ["Filling"]\n'
    assert errors_of(text) == [
        f"site.toml:{line_of(text, 'positions')}: alarming.positions must name operator "
        'positions and the areas each watches, e.g. positions = { "Filling console" = '
        '["Filling"] }']
    text = BASE + ALARMS + '\n[alarming]\npositions = { "Desk" = "Filling", ' \
        '"(no position)" = ["Packing"] }\nfloods = 1\n'
    line = line_of(text, "positions")
    assert errors_of(text) == [
        f"site.toml:{line + 1}: unknown key 'floods' in [alarming]; allowed: "
        "ack_comment_required, max_shelve_minutes, positions",
        f"site.toml:{line}: alarming.positions: position 'Desk' needs a list of the areas "
        'it watches, e.g. positions = { "Filling console" = ["Filling"] }',
        f"site.toml:{line}: alarming.positions: '(no position)' cannot name a position",
    ]
