"""The smallest valid site (one Modbus device, one tag): the base the section tests add to,
and how they add a section and read its errors."""

import pytest

from hmi.config import ConfigError, parse_site

BASE = """\
[site]
name = "Line 1"

[[devices]]
name = "plc1"
kind = "modbus_tcp"
host = "127.0.0.1"

[[tags]]
name = "Speed"
device = "plc1"
table = "holding_register"
address = 0
type = "float32"
"""


def with_section(name: str, *lines: str) -> str:
    """BASE plus a ``[name]`` section: the header on line 16, the lines from line 17."""
    text = BASE + f"\n[{name}]\n" + "".join(f"{line}\n" for line in lines)
    assert text.splitlines()[15] == f"[{name}]"
    return text


def errors_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_site(text, "site.toml")
    return [str(issue) for issue in caught.value.issues]
