"""Site configuration: valid files load; every kind of mistake names file:line and the fix."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from hmi.config import ConfigError, load_site, parse_site
from hmi.core.datatypes import DataType
from hmi.core.site import DeviceKind, ModbusAddress, OpcUaAddress, RegisterTable

GOOD = """\
[site]
name = "Test line"

[[devices]]
name = "plc1"
kind = "modbus_tcp"
host = "127.0.0.1"
port = 1502
unit_id = 3
poll_interval = 0.25

[[devices]]
name = "ua"
kind = "opcua"
endpoint = "opc.tcp://127.0.0.1:4840/"

[[tags]]
name = "Speed"
device = "plc1"
table = "holding_register"
address = 10
type = "float32"
units = "m/min"

[[tags]]
name = "Temp"
device = "ua"
node_id = "ns=2;s=Temp"
type = "float64"

[[production]]
name = "count"
counter_tag = "Speed"
period = 30

[mes]
url = "http://127.0.0.1:9/api"
api_key_secret = "mes-key"
"""


def errors_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_site(text, "site.toml")
    return [str(issue) for issue in caught.value.issues]


def test_valid_config_loads_into_frozen_objects():
    site = parse_site(GOOD, "site.toml")
    assert site.name == "Test line"
    plc = site.device("plc1")
    assert plc.kind is DeviceKind.MODBUS_TCP
    assert (plc.port, plc.unit_id, plc.poll_interval) == (1502, 3, 0.25)
    speed = site.tag("Speed")
    assert speed.address == ModbusAddress(RegisterTable.HOLDING_REGISTER, 10)
    assert speed.data_type is DataType.FLOAT32
    assert site.tag("Temp").address == OpcUaAddress("ns=2;s=Temp")
    assert site.production_rules[0].period == 30
    assert site.mes is not None
    assert site.mes.api_key_secret == "mes-key"
    with pytest.raises(AttributeError):
        site.name = "changed"  # type: ignore[misc]


def test_demo_config_shipped_in_package_is_valid():
    text = resources.files("hmi.resources").joinpath("config/demo.toml").read_text("utf-8")
    site = parse_site(text, "demo.toml")
    assert {d.name for d in site.devices} == {"filler", "capper"}
    assert len(site.trend_pens) >= 4


def test_missing_file_names_the_file(tmp_path: Path):
    with pytest.raises(ConfigError) as caught:
        load_site(tmp_path / "nope.toml")
    assert "nope.toml" in str(caught.value)
    assert "file not found" in str(caught.value)


def test_toml_syntax_error_names_line():
    text = GOOD.replace('units = "m/min"', 'units = "m/min')
    (error,) = errors_of(text)
    assert error.startswith("site.toml:23: TOML syntax error")


def test_unknown_device_kind_lists_allowed():
    (error,) = errors_of(GOOD.replace('kind = "modbus_tcp"', 'kind = "profibus"'))
    assert error.startswith("site.toml:6: ")
    assert "'profibus'" in error
    assert "'modbus_tcp'" in error
    assert "'opcua'" in error


def test_duplicate_tag_name():
    text = (
        GOOD
        + '\n[[tags]]\nname = "Speed"\ndevice = "plc1"\n'
        + 'table = "coil"\naddress = 1\ntype = "bool"\n'
    )
    errors = errors_of(text)
    assert any(":41: duplicate tag name 'Speed'" in e for e in errors), errors


def test_tag_pointing_at_unknown_device():
    errors = errors_of(GOOD.replace('device = "plc1"', 'device = "plc9"'))
    # the rule counting Speed is not reported again: one mistake, one message
    assert errors == [
        "site.toml:19: tag 'Speed': device 'plc9' is not defined; known devices: plc1, ua",
    ]


def test_production_rule_with_undeclared_counter():
    errors = errors_of(GOOD.replace('counter_tag = "Speed"', 'counter_tag = "Sped"'))
    assert errors == [
        "site.toml:33: production rule 'count': counter_tag 'Sped' is not a defined tag"
    ]


def test_address_out_of_range_counts_registers():
    (error,) = errors_of(GOOD.replace("address = 10", "address = 65535"))
    assert error.startswith("site.toml:21: tag 'Speed': address 65535 is out of range")
    assert "0..65534 for float32 (2 registers)" in error


def test_unknown_data_type():
    (error,) = errors_of(GOOD.replace('type = "float32"', 'type = "real"'))
    assert error.startswith("site.toml:22: unknown data type 'real'; allowed:")
    assert "'float32'" in error


def test_coil_must_be_bool():
    (error,) = errors_of(GOOD.replace('"holding_register"', '"coil"'))
    assert 'a coil holds one bit; type must be "bool"' in error


def test_unknown_key_is_a_typo_caught():
    (error,) = errors_of(GOOD.replace("poll_interval = 0.25", "poll_intervall = 0.25"))
    assert error.startswith("site.toml:10: unknown key 'poll_intervall' in a modbus_tcp device")
    assert "poll_interval" in error  # the allowed keys are listed


def test_every_error_reported_at_once():
    text = GOOD.replace("port = 1502", "port = 70000").replace('type = "float64"', 'type = "x"')
    errors = errors_of(text)
    assert len(errors) == 2
    assert errors[0].startswith("site.toml:8: port = 70000 is out of range")


def test_opcua_tag_needs_node_id():
    (error,) = errors_of(GOOD.replace('node_id = "ns=2;s=Temp"\n', ""))
    assert "node_id is required for OPC UA device 'ua'" in error


def test_api_key_never_in_config():
    (error,) = errors_of(GOOD.replace('api_key_secret = "mes-key"', ""))
    assert "keyring" in error


FULL = """\
[scan_classes]
fast = 0.1
slow = 10

[[devices]]
name = "gw1"
kind = "modbus_tcp"
host = "127.0.0.1"
unit_id = 7
byte_order = "CDAB"
max_gap = 4
max_outstanding = 2

[[devices]]
name = "rtu"
kind = "modbus_rtu"
serial_port = "/dev/ttyUSB0"
baudrate = 9600
parity = "N"

[[devices]]
name = "ua"
kind = "opcua"
endpoint = "opc.tcp://127.0.0.1:4840/"
security_policy = "Basic256Sha256"
username = "hmi"
password_secret = "ua-password"

[[tags]]
name = "Level"
device = "gw1"
table = "input_register"
address = 3
type = "int16"
scaling = { raw = [0, 27648], eng = [0.0, 100.0] }
deadband = 0.5
scan_class = "fast"
range = [0, 100]
byte_order = "DCBA"
writable = true

[[tags]]
name = "Running"
device = "gw1"
table = "holding_register"
address = 4
bit = 3
type = "bool"
"""


def test_full_device_layer_keys_load():
    from hmi.core.datatypes import ByteOrder
    from hmi.core.site import Scaling, SecurityMode, SecurityPolicy

    site = parse_site(FULL, "full.toml")
    gw = site.device("gw1")
    assert (gw.unit_id, gw.byte_order, gw.max_gap, gw.max_outstanding) == (7, ByteOrder.CDAB, 4, 2)
    rtu = site.device("rtu")
    assert rtu.kind is DeviceKind.MODBUS_RTU
    assert rtu.serial is not None
    assert (rtu.serial.port, rtu.serial.baudrate, rtu.serial.parity) == ("/dev/ttyUSB0", 9600, "N")
    ua = site.device("ua").security
    assert ua.policy is SecurityPolicy.BASIC256SHA256
    assert ua.mode is SecurityMode.SIGN_AND_ENCRYPT  # the secure default with a policy
    assert (ua.username, ua.password_secret) == ("hmi", "ua-password")
    level = site.tag("Level")
    assert level.scaling == Scaling(0, 27648, 0.0, 100.0)
    assert level.scaling.to_engineering(13824) == 50.0
    assert (level.deadband, level.scan_interval, level.low, level.high) == (0.5, 0.1, 0, 100)
    assert level.byte_order is ByteOrder.DCBA
    assert level.writable
    assert site.tag("Running").bit == 3
    assert dict(site.scan_classes) == {"fast": 0.1, "slow": 10.0}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (('scan_class = "fast"', 'scan_class = "medium"'), "scan_class 'medium' is not defined"),
        (("bit = 3", "bit = 16"), "bit = 16 is out of range"),
        (('byte_order = "DCBA"', 'byte_order = "ABDC"'), "unknown byte_order 'ABDC'"),
        (("range = [0, 100]", "range = [100, 0]"), "low must be less than high"),
        (("raw = [0, 27648]", "raw = [0]"), "raw must be two numbers"),
        (('serial_port = "/dev/ttyUSB0"\n', ""), "serial_port is required"),
        (("baudrate = 9600", "baudrate = 9601"), "baudrate 9601 is unusual"),
        (('password_secret = "ua-password"\n', ""), "username needs password_secret"),
        (
            ('username = "hmi"', 'username = "hmi"\nsecurity_mode = "None"'),
            "does not go with security_mode 'None'",
        ),
        (("max_outstanding = 2", "max_outstanding = 0"), "max_outstanding = 0 is out of range"),
        (
            ('endpoint = "opc.tcp://127.0.0.1:4840/"', 'endpoint = "opc.tcp://x"\nhost = "x"'),
            "unknown key 'host' in an opcua device",
        ),
    ],
)
def test_device_layer_mistakes_are_named(change, expected):
    errors = errors_of(FULL.replace(*change))
    assert any(expected in e for e in errors), errors


def test_bit_only_on_a_register_bool():
    text = FULL.replace('type = "bool"', 'type = "uint16"')
    (error,) = errors_of(text)
    assert 'bit is for type = "bool" tags in a holding_register or input_register' in error


def test_devices_on_one_serial_port_must_agree_on_its_settings():
    text = FULL + '''
[[devices]]
name = "rtu2"
kind = "modbus_rtu"
serial_port = "/dev/ttyUSB0"
baudrate = 19200
parity = "N"
unit_id = 2
'''
    errors = errors_of(text)
    assert any("shares /dev/ttyUSB0 with 'rtu'" in e for e in errors), errors


def test_shifts_are_parsed_sorted_and_mistakes_named():
    import datetime as dt

    site = parse_site(GOOD + '\n[shifts]\nstarts = ["22:00", "06:00", "14:00"]\n', "s.toml")
    assert site.shift_starts == (dt.time(6), dt.time(14), dt.time(22))
    errors = errors_of(GOOD + '\n[shifts]\nstarts = ["6 o\'clock"]\n')
    assert len(errors) == 1
    assert errors[0].startswith("s")
    assert "shifts.starts" in errors[0]
    assert 'starts = ["06:00", "14:00", "22:00"]' in errors[0]
