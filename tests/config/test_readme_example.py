"""The README's site example is a valid site: the README stays true."""

import re
from pathlib import Path

from hmi.config import parse_site
from hmi.core.security import DEFAULT_PERMISSIONS, Action, PasswordRules, Role
from hmi.core.site import AlarmSettings, HistorianSettings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_site_example_is_valid():
    (example,) = re.findall(r"```toml\n(.*?)```", README.read_text("utf-8"), re.S)
    site = parse_site(example, "README.md")
    assert {d.kind.value for d in site.devices} == {"modbus_tcp", "modbus_rtu", "opcua"}
    assert site.tag("Tank.Level").scaling is not None
    assert site.production_rules
    assert site.historian == HistorianSettings()  # the README shows the defaults
    assert [alarm.name for alarm in site.alarms] == ["Tank.Level.Low", "filler.Comm"]
    assert site.alarms[0].suppress_when == "not Filler.Running"
    assert site.alarms[1].device == "filler"
    assert site.alarm_settings == AlarmSettings()  # the defaults, as shown

    security = site.security  # the numbers shown are the defaults
    assert (security.lockout_attempts, security.lockout_minutes) == (5, 15.0)
    assert security.idle_lock_minutes == 10.0
    assert security.password == PasswordRules(min_length=10)
    grants = security.permissions.grants  # the roles shown are listed with their defaults
    assert grants[Role.OPERATOR] == {Action.ACK_ALARM, Action.CONFIRM_EVENT}
    assert grants[Role.MAINTENANCE] == {
        Action.ACK_ALARM, Action.SHELVE_ALARM, Action.ALARM_OUT_OF_SERVICE,
        Action.WRITE_SETPOINT,
    }
    assert dict(grants) == dict(DEFAULT_PERMISSIONS)
    assert not security.permissions.allows(Role.OPERATOR, Action.WRITE_SETPOINT)
    assert dict(security.signed) == {
        Action.CONFIRM_EVENT: "confirmed production quantity",
        Action.EDIT_CONFIRMED_EVENT: "corrected a confirmed production quantity",
        Action.WRITE_SETPOINT: "changed a set-point",
    }
    assert security.meaning(Action.ACK_ALARM) is None
