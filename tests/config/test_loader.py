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
        + "\n[[tags]]\nname = \"Speed\"\ndevice = \"plc1\"\n"
        + "table = \"coil\"\naddress = 1\ntype = \"bool\"\n"
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
