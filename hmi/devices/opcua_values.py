"""OPC UA values to Samples and back: quality from StatusCode, Python values to Variants."""

from __future__ import annotations

import datetime as dt
import math
import struct
from typing import Any

from asyncua import ua
from asyncua.ua.object_ids import ObjectIds

from hmi.core.samples import Quality, Sample, Value

NOT_FINITE = "not a finite number"

# OPC UA built-in data types (Part 6, 5.1.2) by their ns=0 numeric node id
BUILTIN_VARIANTS = {
    ObjectIds.Boolean: ua.VariantType.Boolean,
    ObjectIds.SByte: ua.VariantType.SByte,
    ObjectIds.Byte: ua.VariantType.Byte,
    ObjectIds.Int16: ua.VariantType.Int16,
    ObjectIds.UInt16: ua.VariantType.UInt16,
    ObjectIds.Int32: ua.VariantType.Int32,
    ObjectIds.UInt32: ua.VariantType.UInt32,
    ObjectIds.Int64: ua.VariantType.Int64,
    ObjectIds.UInt64: ua.VariantType.UInt64,
    ObjectIds.Float: ua.VariantType.Float,
    ObjectIds.Double: ua.VariantType.Double,
    ObjectIds.String: ua.VariantType.String,
}
INTEGER_RANGES = {
    ua.VariantType.SByte: (-(2**7), 2**7 - 1),
    ua.VariantType.Byte: (0, 2**8 - 1),
    ua.VariantType.Int16: (-(2**15), 2**15 - 1),
    ua.VariantType.UInt16: (0, 2**16 - 1),
    ua.VariantType.Int32: (-(2**31), 2**31 - 1),
    ua.VariantType.UInt32: (0, 2**32 - 1),
    ua.VariantType.Int64: (-(2**63), 2**63 - 1),
    ua.VariantType.UInt64: (0, 2**64 - 1),
}
FLOATS = (ua.VariantType.Float, ua.VariantType.Double)
WRITABLE_VARIANTS = frozenset(BUILTIN_VARIANTS.values())


def plain_value(value: Any) -> Value:
    """Map an OPC UA value onto the Sample value types; others become their text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def timestamp(stamp: dt.datetime | None) -> float | None:
    if stamp is None:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)  # OPC UA DateTime is UTC
    return stamp.timestamp()


def sample_from_datavalue(tag: str, value: ua.DataValue, now: float) -> Sample:
    """Turn an OPC UA DataValue into a Sample, quality from its StatusCode.

    Source time is the SourceTimestamp, else the ServerTimestamp, else ``now``.
    """
    status = value.StatusCode or ua.StatusCode()  # absent means Good
    source = timestamp(value.SourceTimestamp) or timestamp(value.ServerTimestamp) or now
    if status.is_good():
        quality, detail = Quality.GOOD, ""
    elif status.is_uncertain():
        quality, detail = Quality.UNCERTAIN, f"opcua: {status.name}"
    else:
        return Sample(tag, None, Quality.BAD, source, now, f"opcua: {status.name}")
    raw = value.Value.Value if value.Value is not None else None
    if isinstance(raw, float) and not math.isfinite(raw):
        return Sample(tag, None, Quality.BAD, source, now, f"opcua: {NOT_FINITE} ({raw})")
    return Sample(tag, plain_value(raw), quality, source, now, detail)


def variant_type_of(data_type: ua.NodeId | None, current: ua.DataValue | None) -> ua.VariantType:
    """The VariantType to write: the node's built-in DataType, else its value's type."""
    if data_type is not None and data_type.NamespaceIndex == 0:
        identifier = data_type.Identifier
        builtin = BUILTIN_VARIANTS.get(identifier) if isinstance(identifier, int) else None
        if builtin is not None:
            return builtin
    if current is not None and current.Value is not None:
        return current.Value.VariantType
    return ua.VariantType.Null


def to_variant(value: Value, variant: ua.VariantType) -> ua.Variant:
    """``value`` as a Variant of ``variant``; ValueError (the reason) when it does not fit."""
    name = variant.name
    if variant is ua.VariantType.Boolean:
        if not isinstance(value, bool):
            raise ValueError(f"{name} needs true or false, not {value!r}")
        return ua.Variant(value, variant)
    if variant in INTEGER_RANGES:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} needs a whole number, not {value!r}")
        low, high = INTEGER_RANGES[variant]
        if not low <= value <= high:
            raise ValueError(f"{value} is outside {name}'s range {low}..{high}")
        return ua.Variant(value, variant)
    if variant in FLOATS:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{name} needs a number, not {value!r}")
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is {NOT_FINITE}")
        return ua.Variant(float(value), variant)
    if variant is ua.VariantType.String:
        if not isinstance(value, str):
            raise ValueError(f"{name} needs text, not {value!r}")
        return ua.Variant(value, variant)
    raise ValueError(f"writing OPC UA {name} values is not supported")


def same_value(requested: ua.Variant, read_back: Value) -> bool:
    """Does the read-back value equal what was written (Float compared at single precision)?"""
    want = requested.Value
    if read_back is None or isinstance(read_back, bool) != isinstance(want, bool):
        return False
    if requested.VariantType is ua.VariantType.Float and isinstance(read_back, int | float):
        single = struct.unpack("f", struct.pack("f", want))[0]
        return math.isclose(single, read_back, rel_tol=1e-6)
    return bool(want == read_back)
