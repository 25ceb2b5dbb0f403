"""The README's site example is a valid site: the README stays true."""

import re
from pathlib import Path

from hmi.config import parse_site
from hmi.core.site import HistorianSettings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_site_example_is_valid():
    (example,) = re.findall(r"```toml\n(.*?)```", README.read_text("utf-8"), re.S)
    site = parse_site(example, "README.md")
    assert {d.kind.value for d in site.devices} == {"modbus_tcp", "modbus_rtu", "opcua"}
    assert site.tag("Tank.Level").scaling is not None
    assert site.production_rules
    assert site.historian == HistorianSettings()  # the README shows the defaults
