"""One operator write to an OPC UA variable: typed as the node is, read back, compared."""

from __future__ import annotations

import asyncio
import logging

from asyncua import ua
from asyncua.client.client import Client
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.uaerrors import UaError, UaStatusCodeError

from hmi.core.samples import Quality, Value
from hmi.core.site import Tag
from hmi.core.writes import WriteOutcome, WriteResult
from hmi.devices.opcua_values import same_value, sample_from_datavalue, to_variant, variant_type_of

_log = logging.getLogger(__name__)


def _status_message(status: ua.StatusCode, tag: Tag, node: str, value: Value) -> str:
    name = status.name
    reasons = {
        "BadNotWritable": f"the server does not allow writing {tag.name}",
        "BadUserAccessDenied": f"the OPC UA user may not write {tag.name}",
        "BadTypeMismatch": f"the server expects another data type for {tag.name}",
        "BadOutOfRange": f"the server refused {value!r} as out of range for {tag.name}",
        "BadNodeIdUnknown": f"the server has no node {node} (tag {tag.name})",
    }
    return f"{name}: {reasons.get(name, f'{status.doc or name} (writing {tag.name})')}"


def check_request(tag: Tag, value: Value) -> WriteResult | None:
    """REFUSED before anything is sent, or None when the request may go out."""
    if not tag.writable:
        return WriteResult(
            tag.name,
            WriteOutcome.REFUSED,
            value,
            message=f"{tag.name} is not writable: set writable = true for it in the site file",
        )
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None  # the node's data type decides (write_node)
    if (tag.low is not None and value < tag.low) or (tag.high is not None and value > tag.high):
        low = "-∞" if tag.low is None else f"{tag.low:g}"
        high = "∞" if tag.high is None else f"{tag.high:g}"
        return WriteResult(
            tag.name,
            WriteOutcome.REFUSED,
            value,
            message=f"{value!r} is outside {tag.name}'s range {low}..{high} {tag.units}".rstrip(),
        )
    return None


async def write_node(
    client: Client,
    node_id: ua.NodeId,
    tag: Tag,
    value: Value,
    variants: dict[ua.NodeId, ua.VariantType],
) -> WriteResult:
    """Write ``value`` with the node's data type, read it back and compare.

    ``variants`` caches each node's VariantType for the session. Raises only for
    transport failures (the worker turns those into FAILED).
    """
    node_text = node_id.to_string()
    variant_type = variants.get(node_id)
    if variant_type is None:
        data_type, current = await _read_type(client, node_id)
        if data_type.StatusCode is not None and not data_type.StatusCode.is_good():
            message = _status_message(data_type.StatusCode, tag, node_text, value)
            return WriteResult(tag.name, WriteOutcome.FAILED, value, message=message)
        type_id = data_type.Value.Value if data_type.Value is not None else None
        variant_type = variant_type_of(type_id if isinstance(type_id, ua.NodeId) else None, current)
        variants[node_id] = variant_type
    try:
        variant = to_variant(value, variant_type)
    except ValueError as exc:
        message = f"{tag.name} ({node_text}) cannot take {value!r}: {exc}"
        return WriteResult(tag.name, WriteOutcome.REFUSED, value, message=message)
    statuses = await client.uaclient.write_attributes(
        [node_id], [ua.DataValue(variant)], AttributeIds.Value
    )
    status = statuses[0]
    if not status.is_good():
        message = _status_message(status, tag, node_text, value)
        return WriteResult(tag.name, WriteOutcome.FAILED, value, message=message)
    (back,) = await client.uaclient.read_attributes([node_id], AttributeIds.Value)
    sample = sample_from_datavalue(tag.name, back, 0.0)
    if sample.quality is Quality.BAD:
        message = f"written, but reading {tag.name} back gave {sample.detail}"
        return WriteResult(tag.name, WriteOutcome.MISMATCH, value, None, message)
    if same_value(variant, sample.value):
        return WriteResult(tag.name, WriteOutcome.CONFIRMED, value, sample.value)
    message = (
        f"wrote {value!r} to {tag.name} but the server now holds {sample.value!r} "
        "(clamped or overridden by the PLC): check the PLC program"
    )
    return WriteResult(tag.name, WriteOutcome.MISMATCH, value, sample.value, message)


async def _read_type(client: Client, node_id: ua.NodeId) -> tuple[ua.DataValue, ua.DataValue]:
    """DataType and Value of a node in one Read request."""
    params = ua.ReadParameters()
    for attribute in (AttributeIds.DataType, AttributeIds.Value):
        params.NodesToRead.append(ua.ReadValueId(NodeId=node_id, AttributeId=attribute))
    data_type, current = await client.uaclient.read(params)
    return data_type, current


async def write_or_fail(
    client: Client | None,
    node_id: ua.NodeId | None,
    tag: Tag,
    value: Value,
    variants: dict[ua.NodeId, ua.VariantType],
    *,
    request_timeout: float,
    endpoint: str,
    not_connected: str,
) -> WriteResult:
    """``write_node`` that never raises: every failure becomes a WriteResult."""
    refused = check_request(tag, value)
    if refused is not None:
        return refused
    if client is None:
        return WriteResult(tag.name, WriteOutcome.FAILED, value, message=not_connected)
    if node_id is None:
        message = f"{tag.name} has no valid OPC UA node id: fix its address in the site file"
        return WriteResult(tag.name, WriteOutcome.REFUSED, value, message=message)
    try:
        return await asyncio.wait_for(
            write_node(client, node_id, tag, value, variants), timeout=request_timeout * 3
        )
    except asyncio.CancelledError:
        raise
    except TimeoutError:
        message = f"no answer from {endpoint} within {request_timeout * 3:g} s writing {tag.name}"
    except UaStatusCodeError as exc:
        status = ua.StatusCode(exc.code)
        message = _status_message(status, tag, node_id.to_string(), value)
    except (UaError, OSError, ConnectionError) as exc:
        message = f"writing {tag.name} failed: {exc or type(exc).__name__}"
    except Exception as exc:
        _log.exception("OPC UA write of %s failed", tag.name)
        message = f"writing {tag.name} failed: {type(exc).__name__}: {exc}"
    return WriteResult(tag.name, WriteOutcome.FAILED, value, message=message)
