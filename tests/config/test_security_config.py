"""The [security] section: lockout, idle lock, password length, per-role permission
overrides and signature meanings from the site file, SecuritySettings() by default, and
every mistake named at file:line with what is allowed."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from hmi.config import ConfigError, load_site, parse_site
from hmi.core.security import (
    DEFAULT_PERMISSIONS,
    Action,
    PasswordRules,
    PermissionMap,
    Role,
    SecuritySettings,
)
from tests.config.minimal_site import BASE, errors_of, with_section

ROLES = "operator, shift_lead, maintenance, engineer, admin"
ACTIONS = (
    "ack_alarm, shelve_alarm, alarm_out_of_service, confirm_event, edit_confirmed_event, "
    "write_setpoint, retry_mes, view_audit, manage_users, edit_config"
)
QUOTED_ACTIONS = ", ".join(repr(a) for a in ACTIONS.split(", "))
KEYS = (
    "idle_lock_minutes, lockout_attempts, lockout_minutes, min_password_length, "
    "permissions, signatures"
)


def with_security(*lines: str) -> str:
    return with_section("security", *lines)


# -- values reach the site ----------------------------------------------------------------

def test_security_section_values_reach_the_site():
    text = with_security(
        "lockout_attempts = 3",
        "lockout_minutes = 30",
        "idle_lock_minutes = 2.5",
        "min_password_length = 12",
        "",
        "[security.permissions]",
        'operator = ["ack_alarm", "confirm_event", "shelve_alarm"]',
        'maintenance = ["ack_alarm"]',
        "",
        "[security.signatures]",
        'confirm_event = "confirmed production quantity"',
        'edit_confirmed_event = "corrected a confirmed production quantity"',
        'write_setpoint = "changed a set-point"',
    )
    security = parse_site(text, "site.toml").security
    assert (security.lockout_attempts, security.lockout_minutes) == (3, 30.0)
    assert isinstance(security.lockout_attempts, int)
    assert security.idle_lock_minutes == 2.5
    assert security.password == PasswordRules(min_length=12)
    assert isinstance(security.password.min_length, int)

    permissions = security.permissions
    assert permissions.allows(Role.OPERATOR, Action.SHELVE_ALARM)  # granted by the override
    assert permissions.allows(Role.OPERATOR, Action.CONFIRM_EVENT)
    assert not permissions.allows(Role.OPERATOR, Action.WRITE_SETPOINT)
    assert permissions.allows(Role.MAINTENANCE, Action.ACK_ALARM)
    # the override replaces the defaults whole: maintenance lost shelving and set-points
    assert not permissions.allows(Role.MAINTENANCE, Action.SHELVE_ALARM)
    assert not permissions.allows(Role.MAINTENANCE, Action.WRITE_SETPOINT)
    assert permissions.roles_for(Action.WRITE_SETPOINT) == (Role.ENGINEER, Role.ADMIN)
    # roles not listed keep their defaults
    for role in (Role.SHIFT_LEAD, Role.ENGINEER, Role.ADMIN):
        assert permissions.grants[role] == DEFAULT_PERMISSIONS[role]

    assert security.meaning(Action.CONFIRM_EVENT) == "confirmed production quantity"
    assert security.meaning(Action.EDIT_CONFIRMED_EVENT) == (
        "corrected a confirmed production quantity"
    )
    assert security.meaning(Action.WRITE_SETPOINT) == "changed a set-point"
    assert security.meaning(Action.ACK_ALARM) is None
    assert set(security.signed) == {
        Action.CONFIRM_EVENT, Action.EDIT_CONFIRMED_EVENT, Action.WRITE_SETPOINT
    }


def test_permission_override_can_take_every_action_from_a_role():
    text = with_security("[security.permissions]", "operator = []")
    permissions = parse_site(text).security.permissions
    assert not any(permissions.allows(Role.OPERATOR, action) for action in Action)
    assert Role.OPERATOR not in permissions.roles_for(Action.ACK_ALARM)


def test_admin_override_keeping_manage_users_is_accepted():
    text = with_security("[security.permissions]", 'admin = ["manage_users", "view_audit"]')
    permissions = parse_site(text).security.permissions
    assert permissions.allows(Role.ADMIN, Action.MANAGE_USERS)
    assert permissions.allows(Role.ADMIN, Action.VIEW_AUDIT)
    assert not permissions.allows(Role.ADMIN, Action.WRITE_SETPOINT)


def test_inline_tables_and_dotted_keys_work_as_well():
    text = with_security(
        'permissions = { engineer = ["ack_alarm"] }',
        'signatures.retry_mes = "resent a rejected transaction"',
    )
    security = parse_site(text).security
    assert security.permissions.grants[Role.ENGINEER] == {Action.ACK_ALARM}
    assert security.meaning(Action.RETRY_MES) == "resent a rejected transaction"


def test_sub_tables_without_the_security_header_are_enough():
    text = BASE + '\n[security.signatures]\nconfirm_event = "confirmed production quantity"\n'
    security = parse_site(text).security
    assert security.signed == {Action.CONFIRM_EVENT: "confirmed production quantity"}
    assert security.permissions == PermissionMap()
    assert security.lockout_attempts == SecuritySettings().lockout_attempts


def test_meaning_is_trimmed_and_may_be_200_characters_of_any_script():
    long = "x" * 200
    text = with_security(
        "[security.signatures]",
        'confirm_event = "  confirmed production quantity  "',
        f'write_setpoint = "{long}"',
        'ack_alarm = "Störung quittiert — 报警已确认"',
    )
    security = parse_site(text).security
    assert security.meaning(Action.CONFIRM_EVENT) == "confirmed production quantity"
    assert security.meaning(Action.WRITE_SETPOINT) == long
    assert security.meaning(Action.ACK_ALARM) == "Störung quittiert — 报警已确认"


def test_bounds_themselves_are_allowed():
    low = parse_site(with_security(
        "lockout_attempts = 1", "lockout_minutes = 1", "idle_lock_minutes = 0",
        "min_password_length = 8",
    )).security
    assert (low.lockout_attempts, low.lockout_minutes, low.idle_lock_minutes) == (1, 1.0, 0.0)
    assert low.password.min_length == 8
    high = parse_site(with_security(
        "lockout_attempts = 100", "lockout_minutes = 1440", "idle_lock_minutes = 480",
        "min_password_length = 128",
    )).security
    assert (high.lockout_attempts, high.lockout_minutes) == (100, 1440.0)
    assert (high.idle_lock_minutes, high.password.min_length) == (480.0, 128)


# -- defaults -----------------------------------------------------------------------------

def test_absent_section_gives_the_defaults():
    security = parse_site(BASE, "site.toml").security
    assert security == SecuritySettings()
    assert (security.lockout_attempts, security.lockout_minutes) == (5, 15.0)
    assert security.idle_lock_minutes == 10.0
    assert security.password == PasswordRules()
    assert dict(security.permissions.grants) == dict(DEFAULT_PERMISSIONS)
    assert security.signed == {}


def test_empty_section_and_absent_keys_keep_the_defaults():
    assert parse_site(with_security()).security == SecuritySettings()
    empty_tables = with_security("[security.permissions]", "[security.signatures]")
    assert parse_site(empty_tables).security == SecuritySettings()
    only_idle = parse_site(with_security("idle_lock_minutes = 0")).security
    assert only_idle == SecuritySettings(idle_lock_minutes=0.0)


# -- mistakes -----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        # numbers
        (
            ["lockout_attempts = 0"],
            "site.toml:17: lockout_attempts = 0 is out of range; allowed a whole number 1..100",
        ),
        (
            ["lockout_minutes = 15", "lockout_attempts = 2.5"],
            "site.toml:18: lockout_attempts = 2.5 is out of range; allowed a whole number 1..100",
        ),
        (
            ["lockout_attempts = 101"],
            "site.toml:17: lockout_attempts = 101 is out of range; allowed a whole number 1..100",
        ),
        (
            ["lockout_minutes = 0"],
            "site.toml:17: lockout_minutes = 0 is out of range; allowed a number 1..1440",
        ),
        (
            ['lockout_minutes = "15"'],
            "site.toml:17: lockout_minutes = '15' is out of range; allowed a number 1..1440",
        ),
        (
            ["idle_lock_minutes = -1"],
            "site.toml:17: idle_lock_minutes = -1 is out of range; allowed a number 0..480",
        ),
        (
            ["idle_lock_minutes = 481"],
            "site.toml:17: idle_lock_minutes = 481 is out of range; allowed a number 0..480",
        ),
        (
            ["idle_lock_minutes = false"],
            "site.toml:17: idle_lock_minutes = False is out of range; allowed a number 0..480",
        ),
        (
            ["min_password_length = 6"],
            "site.toml:17: min_password_length = 6 is out of range; "
            "allowed a whole number 8..128",
        ),
        (
            ["min_password_length = 200"],
            "site.toml:17: min_password_length = 200 is out of range; "
            "allowed a whole number 8..128",
        ),
        # unknown key
        (
            ["lockout_attempts = 5", "password_min_length = 12"],
            f"site.toml:18: unknown key 'password_min_length' in [security]; allowed: {KEYS}",
        ),
        # permissions
        (
            ["[security.permissions]", 'operator = ["ack_alarm"]', 'supervisor = ["ack_alarm"]'],
            f"site.toml:19: unknown role 'supervisor' in [security.permissions]; "
            f"allowed: {ROLES}",
        ),
        (
            ["[security.permissions]", 'operator = ["ack_alarm", "ack_alarms"]'],
            "site.toml:18: security.permissions.operator: unknown action 'ack_alarms'; "
            f"allowed: {QUOTED_ACTIONS}",
        ),
        (
            ["[security.permissions]", 'operator = "ack_alarm"'],
            "site.toml:18: security.permissions.operator = 'ack_alarm' must be a list of "
            'action names in quotes, e.g. operator = ["ack_alarm", "confirm_event"]',
        ),
        (
            ["[security.permissions]", "maintenance = [1, 2]"],
            "site.toml:18: security.permissions.maintenance = [1, 2] must be a list of "
            'action names in quotes, e.g. maintenance = ["ack_alarm", "confirm_event"]',
        ),
        (
            ["[security.permissions]", 'shift_lead = ["ack_alarm", "view_audit", "ack_alarm"]'],
            "site.toml:18: security.permissions.shift_lead lists 'ack_alarm' twice: "
            "name each action once",
        ),
        (
            ["[security.permissions]", 'admin = ["view_audit", "edit_config"]'],
            "site.toml:18: security.permissions.admin leaves out 'manage_users': without it "
            "nobody could ever manage users (or give the right back); "
            'add "manage_users" to the list',
        ),
        (
            ["[security.permissions]", "admin = []"],
            "site.toml:18: security.permissions.admin leaves out 'manage_users': without it "
            "nobody could ever manage users (or give the right back); "
            'add "manage_users" to the list',
        ),
        (
            # a misspelt manage_users is reported once, as the unknown action it is
            ["[security.permissions]", 'admin = ["view_audit", "manage_user"]'],
            "site.toml:18: security.permissions.admin: unknown action 'manage_user'; "
            f"allowed: {QUOTED_ACTIONS}",
        ),
        (
            ["permissions = 5"],
            "site.toml:17: [security.permissions] must be a table",
        ),
        # signatures
        (
            ["[security.signatures]", 'confirm = "confirmed production quantity"'],
            f"site.toml:18: unknown action 'confirm' in [security.signatures]; "
            f"allowed: {ACTIONS}",
        ),
        (
            ["[security.signatures]", "confirm_event = true"],
            "site.toml:18: security.signatures.confirm_event = True must be the meaning of "
            "the signature as text in quotes, "
            'e.g. confirm_event = "confirmed production quantity"',
        ),
        (
            ["[security.signatures]", 'ack_alarm = "ok"', 'write_setpoint = "   "'],
            "site.toml:19: security.signatures.write_setpoint is empty: say what the "
            'signature means, e.g. write_setpoint = "confirmed production quantity"',
        ),
        (
            ["[security.signatures]", f'confirm_event = "{"x" * 201}"'],
            "site.toml:18: security.signatures.confirm_event is 201 characters long; at most "
            "200 are allowed: say what the signature means in a short phrase",
        ),
        (
            ["[security.signatures]", r'confirm_event = "confirmed\tquantity\u0007"'],
            "site.toml:18: security.signatures.confirm_event holds control characters "
            "(U+0007, U+0009); write the meaning without them",
        ),
        (
            ["[security.signatures]", r'confirm_event = "confirmed\u200bquantity"'],
            "site.toml:18: security.signatures.confirm_event holds control characters "
            "(U+200B); write the meaning without them",
        ),
        (
            ["signatures = []"],
            "site.toml:17: [security.signatures] must be a table",
        ),
    ],
)
def test_security_mistake_gives_one_error_at_its_line(lines: list[str], expected: str):
    assert errors_of(with_security(*lines)) == [expected]


def test_security_not_a_table_is_named():
    text = "security = 5\n" + BASE
    assert errors_of(text) == ["site.toml:1: [security] must be a table"]


def test_every_security_mistake_reported_at_once():
    text = with_security(
        "lockout_attempts = 0",                                     # 17
        "lockout_minutes = 2000",                                   # 18
        "idle_lock_minutes = -5",                                   # 19
        "min_password_length = 4",                                  # 20
        "lockout = 1",                                              # 21
        "",                                                         # 22
        "[security.permissions]",                                   # 23
        'operator = "ack_alarm"',                                   # 24
        'shift_lead = ["ack_alarm", "ack_alarm"]',                  # 25
        'maintenance = ["write_setpoints"]',                        # 26
        'admin = ["view_audit"]',                                   # 27
        'guest = ["ack_alarm"]',                                    # 28
        "",                                                         # 29
        "[security.signatures]",                                    # 30
        'confirm_event = ""',                                       # 31
        'sign_everything = "yes"',                                  # 32
        f'write_setpoint = "{"y" * 300}"',                          # 33
    )
    assert errors_of(text) == [
        f"site.toml:21: unknown key 'lockout' in [security]; allowed: {KEYS}",
        "site.toml:17: lockout_attempts = 0 is out of range; allowed a whole number 1..100",
        "site.toml:18: lockout_minutes = 2000 is out of range; allowed a number 1..1440",
        "site.toml:19: idle_lock_minutes = -5 is out of range; allowed a number 0..480",
        "site.toml:20: min_password_length = 4 is out of range; allowed a whole number 8..128",
        "site.toml:24: security.permissions.operator = 'ack_alarm' must be a list of action "
        'names in quotes, e.g. operator = ["ack_alarm", "confirm_event"]',
        "site.toml:25: security.permissions.shift_lead lists 'ack_alarm' twice: "
        "name each action once",
        "site.toml:26: security.permissions.maintenance: unknown action 'write_setpoints'; "
        f"allowed: {QUOTED_ACTIONS}",
        "site.toml:27: security.permissions.admin leaves out 'manage_users': without it "
        "nobody could ever manage users (or give the right back); "
        'add "manage_users" to the list',
        f"site.toml:28: unknown role 'guest' in [security.permissions]; allowed: {ROLES}",
        "site.toml:31: security.signatures.confirm_event is empty: say what the signature "
        'means, e.g. confirm_event = "confirmed production quantity"',
        f"site.toml:32: unknown action 'sign_everything' in [security.signatures]; "
        f"allowed: {ACTIONS}",
        "site.toml:33: security.signatures.write_setpoint is 300 characters long; at most "
        "200 are allowed: say what the signature means in a short phrase",
    ]


def test_security_errors_join_the_other_sections_errors():
    text = with_security("lockout_attempts = 0", "[historian]", "heartbeat = 0")
    assert errors_of(text) == [
        "site.toml:19: heartbeat = 0 is out of range; allowed a number 1..3600",
        "site.toml:17: lockout_attempts = 0 is out of range; allowed a whole number 1..100",
    ]


def test_site_file_on_disk_names_itself_in_security_errors(tmp_path: Path):
    good = tmp_path / "line1.toml"
    good.write_text(with_security("[security.permissions]", 'operator = ["ack_alarm"]'), "utf-8")
    assert load_site(good).security.permissions.grants[Role.OPERATOR] == {Action.ACK_ALARM}
    bad = tmp_path / "line2.toml"
    bad.write_text(with_security("[security.permissions]", 'admin = ["edit_config"]'), "utf-8")
    with pytest.raises(ConfigError) as caught:
        load_site(bad)
    (issue,) = caught.value.issues
    assert str(issue).startswith(f"{bad}:18: security.permissions.admin leaves out ")


# -- the demo documents the section -------------------------------------------------------

def _demo_text() -> str:
    return resources.files("hmi.resources").joinpath("config/demo.toml").read_text("utf-8")


def test_demo_config_asks_a_signature_for_confirming_production_and_setting_alarms_aside():
    security = parse_site(_demo_text(), "demo.toml").security
    assert security.signed == {
        Action.CONFIRM_EVENT: "confirmed production quantity",
        Action.SHELVE_ALARM: "shelved an alarm, with the reason given",
        Action.ALARM_OUT_OF_SERVICE:
            "took an alarm out of service (or back), with the reason given"}
    # everything else is commented out: the defaults
    assert security == SecuritySettings(signed=security.signed)


def test_demo_config_documents_the_defaults_in_its_commented_security_block():
    text = _demo_text()
    block = text.split("# [security]\n", 1)[1].split("\n\n", 1)[0]
    lines = [line.removeprefix("#").removeprefix(" ") for line in block.splitlines()]
    numbers = lines[: lines.index("")]
    keys = [k.split(" =")[0] for k in numbers]
    assert keys == ["lockout_attempts", "lockout_minutes", "idle_lock_minutes",
                    "min_password_length"]
    # uncommented, the block (numbers and the permission lists) gives exactly the defaults
    site = parse_site(with_security(*lines)).security
    assert site == SecuritySettings()
    assert {line.split(" =")[0] for line in lines if "= [" in line} == {r.value for r in Role}
    commented = text.split("[security.signatures]\n", 1)[1].split("\n\n", 1)[0]
    meanings = [line.removeprefix("# ") for line in commented.splitlines()]
    signed = parse_site(with_security("[security.signatures]", *meanings)).security.signed
    assert set(signed) == {Action.CONFIRM_EVENT, Action.SHELVE_ALARM,
                           Action.ALARM_OUT_OF_SERVICE, Action.EDIT_CONFIRMED_EVENT,
                           Action.WRITE_SETPOINT}
