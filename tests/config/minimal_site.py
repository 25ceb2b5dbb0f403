"""The smallest valid site (one Modbus device, one tag): the base the section tests add to."""

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
