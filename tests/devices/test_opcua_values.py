"""OPC UA DataValue -> Sample mapping and Python value -> Variant conversion (no server)."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from asyncua import ua

from hmi.core.samples import Quality
from hmi.devices.opcua_values import same_value, sample_from_datavalue, to_variant, variant_type_of

SOURCE = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)
SERVER = dt.datetime(2024, 5, 1, 12, 0, 1, tzinfo=dt.UTC)
NOW = 1_800_000_000.0


def _value(
    value: object, code: int = 0, source: object = None, server: object = None
) -> ua.DataValue:
    return ua.DataValue(
        ua.Variant(value),
        StatusCode=ua.StatusCode(code),  # type: ignore[arg-type]
        SourceTimestamp=source,  # type: ignore[arg-type]
        ServerTimestamp=server,  # type: ignore[arg-type]
    )


def test_timestamps_prefer_source_then_server_then_now() -> None:
    assert sample_from_datavalue("t", _value(1.0, 0, SOURCE, SERVER), NOW).source_time == (
        SOURCE.timestamp()
    )
    assert sample_from_datavalue("t", _value(1.0, 0, None, SERVER), NOW).source_time == (
        SERVER.timestamp()
    )
    naive = SERVER.replace(tzinfo=None)  # asyncua decodes UTC without tzinfo
    assert sample_from_datavalue("t", _value(1.0, 0, None, naive), NOW).source_time == (
        SERVER.timestamp()
    )
    assert sample_from_datavalue("t", _value(1.0), NOW).source_time == NOW


@pytest.mark.parametrize(
    ("code", "quality", "value", "detail"),
    [
        (ua.StatusCodes.Good, Quality.GOOD, 2.5, ""),
        (ua.StatusCodes.UncertainSensorNotAccurate, Quality.UNCERTAIN, 2.5,
         "opcua: UncertainSensorNotAccurate"),
        (ua.StatusCodes.BadCommunicationError, Quality.BAD, None, "opcua: BadCommunicationError"),
    ],
)  # fmt: skip
def test_status_codes_map_to_quality(
    code: int, quality: Quality, value: object, detail: str
) -> None:
    sample = sample_from_datavalue("t", _value(2.5, code), NOW)
    assert (sample.quality, sample.value, sample.detail) == (quality, value, detail)


@pytest.mark.parametrize("weird", [math.nan, math.inf, -math.inf])
def test_non_finite_doubles_are_bad(weird: float) -> None:
    sample = sample_from_datavalue("t", _value(weird), NOW)
    assert (sample.quality, sample.value) == (Quality.BAD, None)
    assert "not a finite number" in sample.detail


def test_variant_type_from_builtin_data_type_else_current_value() -> None:
    double = ua.NodeId(ua.ObjectIds.Double)
    assert variant_type_of(double, None) is ua.VariantType.Double
    custom = ua.NodeId("MyEnum", 3)
    current = ua.DataValue(ua.Variant(3, ua.VariantType.Int32))
    assert variant_type_of(custom, current) is ua.VariantType.Int32


@pytest.mark.parametrize(
    ("value", "variant", "expected"),
    [
        (True, ua.VariantType.Boolean, True),
        (7, ua.VariantType.Double, 7.0),
        (7.0, ua.VariantType.Int16, 7),
        ("x", ua.VariantType.String, "x"),
    ],
)
def test_values_convert_to_the_node_type(
    value: object, variant: ua.VariantType, expected: object
) -> None:
    converted = to_variant(value, variant)  # type: ignore[arg-type]
    assert converted.Value == expected
    assert converted.VariantType is variant


@pytest.mark.parametrize(
    ("value", "variant", "reason"),
    [
        (1, ua.VariantType.Boolean, "true or false"),
        (True, ua.VariantType.UInt16, "whole number"),
        (-1, ua.VariantType.UInt16, "range 0..65535"),
        (1.5, ua.VariantType.Int32, "whole number"),
        ("1", ua.VariantType.Double, "needs a number"),
        (math.inf, ua.VariantType.Float, "not a finite number"),
        (1, ua.VariantType.String, "needs text"),
        (1, ua.VariantType.DateTime, "not supported"),
    ],
)
def test_wrong_python_types_are_refused(
    value: object, variant: ua.VariantType, reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        to_variant(value, variant)  # type: ignore[arg-type]


def test_float_read_back_is_compared_at_single_precision() -> None:
    assert same_value(ua.Variant(0.1, ua.VariantType.Float), 0.10000000149011612)
    assert not same_value(ua.Variant(0.1, ua.VariantType.Double), 0.10000000149011612)
    assert not same_value(ua.Variant(1, ua.VariantType.Int32), True)
