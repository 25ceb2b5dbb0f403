"""Walk a server's Objects folder for commissioning: what node ids to put in the config.

Used by `hmi browse`. Connects on its own (no worker), with the same security helper
as the worker, and reads every variable's DataType and Value once per level.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from asyncua import ua
from asyncua.client.client import Client
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.object_ids import ObjectIdNames
from asyncua.ua.uaerrors import UaError, UaStatusCodeError

from hmi.core.samples import Value
from hmi.core.site import OpcUaSecurity
from hmi.devices import opcua_security
from hmi.devices.connection import CommError
from hmi.devices.opcua_security import PasswordProvider
from hmi.devices.opcua_values import plain_value

MAX_DEPTH = 10


@dataclass(frozen=True, slots=True)
class BrowsedNode:
    depth: int  # 1 for the children of Objects
    path: str  # browse names from Objects, joined by "/"
    browse_name: str
    node_id: str  # ready to paste as a tag's node_id
    node_class: str  # Object, Variable, Method, ...
    data_type: str = ""  # variables only
    value: Value = None  # variables only
    status: str = ""  # the read's status when it was not Good

    def as_json(self) -> dict[str, object]:
        value = self.value
        if isinstance(value, float) and not math.isfinite(value):
            value = None
        return {
            "depth": self.depth,
            "path": self.path,
            "browse_name": self.browse_name,
            "node_id": self.node_id,
            "node_class": self.node_class,
            "data_type": self.data_type,
            "value": value,
            "status": self.status,
        }

    def line(self) -> str:
        indent = "  " * (self.depth - 1)
        name = f"{indent}{self.browse_name}"
        text = f"{name:<36} {self.node_id:<40} {self.node_class:<8}"
        if self.node_class == "Variable":
            shown = self.status or repr(self.value)
            text += f" {self.data_type:<10} = {shown}"
        return text.rstrip()


def describe_failure(url: str, exc: BaseException, timeout: float) -> str:
    if isinstance(exc, CommError):
        return str(exc)
    if isinstance(exc, TimeoutError):
        return f"no answer from {url} within {timeout:g} s"
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused by {url}"
    if isinstance(exc, UaStatusCodeError):
        return f"{ua.StatusCode(exc.code).name} from {url}"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc) or type(exc).__name__
    return str(exc) or type(exc).__name__


@asynccontextmanager
async def connected(
    url: str,
    security: OpcUaSecurity,
    *,
    pki_dir: Path | None = None,
    password_provider: PasswordProvider | None = None,
    request_timeout: float = 5.0,
) -> AsyncIterator[Client]:
    """A connected client; CommError (one line, the reason) when it cannot be had."""
    client = Client(url=url, timeout=request_timeout)
    client.session_timeout = 60_000
    limit = request_timeout * 2
    try:
        await opcua_security.configure(
            client,
            security,
            pki_dir=pki_dir,
            password_provider=password_provider,
            request_timeout=request_timeout,
        )
        await asyncio.wait_for(client.connect(), timeout=limit)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        with contextlib.suppress(Exception):
            client.disconnect_socket()
        refusal = opcua_security.login_refusal(exc, security)
        raise CommError(refusal or describe_failure(url, exc, limit)) from exc
    try:
        yield client
    finally:
        try:
            await asyncio.wait_for(client.disconnect(), timeout=1.0)
        except Exception:
            with contextlib.suppress(Exception):
                client.disconnect_socket()


async def browse(
    client: Client, depth: int = 3, include_standard: bool = False
) -> list[BrowsedNode]:
    """Objects' subtree down to ``depth`` levels, depth-first, in the server's order.

    Namespace 0 (the Server object and its diagnostics) is left out unless
    ``include_standard``: a commissioning engineer wants the PLC's own nodes.
    """
    depth = max(1, min(depth, MAX_DEPTH))
    type_names: dict[ua.NodeId, str] = {}
    objects = client.nodes.objects.nodeid
    return await _children(client, objects, "", 1, depth, include_standard, type_names)


async def _children(
    client: Client,
    parent: ua.NodeId,
    path: str,
    level: int,
    depth: int,
    include_standard: bool,
    type_names: dict[ua.NodeId, str],
) -> list[BrowsedNode]:
    references = await client.get_node(parent).get_children_descriptions()
    references = [ref for ref in references if include_standard or ref.NodeId.NamespaceIndex]
    variables = [ref.NodeId for ref in references if ref.NodeClass == ua.NodeClass.Variable]
    details = await _read_variables(client, variables, type_names)
    out: list[BrowsedNode] = []
    for ref in references:
        name = ref.BrowseName.Name or ""
        node_path = f"{path}/{name}" if path else name
        data_type, value, status = details.get(ref.NodeId, ("", None, ""))
        out.append(
            BrowsedNode(
                level,
                node_path,
                name,
                ref.NodeId.to_string(),
                ref.NodeClass.name,
                data_type,
                value,
                status,
            )
        )
        if level < depth and ref.NodeClass in (ua.NodeClass.Object, ua.NodeClass.Variable):
            out.extend(
                await _children(
                    client, ref.NodeId, node_path, level + 1, depth, include_standard, type_names
                )
            )
    return out


async def _read_variables(
    client: Client, nodes: list[ua.NodeId], type_names: dict[ua.NodeId, str]
) -> dict[ua.NodeId, tuple[str, Value, str]]:
    """(data type name, value, status) of each variable, from one Read request."""
    if not nodes:
        return {}
    params = ua.ReadParameters()
    for node in nodes:
        for attribute in (AttributeIds.DataType, AttributeIds.Value):
            params.NodesToRead.append(ua.ReadValueId(NodeId=node, AttributeId=attribute))
    results = await client.uaclient.read(params)
    details: dict[ua.NodeId, tuple[str, Value, str]] = {}
    for node, data_type, value in zip(nodes, results[0::2], results[1::2], strict=True):
        type_id = data_type.Value.Value if data_type.Value is not None else None
        type_name = await _type_name(client, type_id, type_names)
        status = value.StatusCode or ua.StatusCode()
        raw = value.Value.Value if value.Value is not None else None
        shown = plain_value(raw) if status.is_good() or status.is_uncertain() else None
        details[node] = (type_name, shown, "" if status.is_good() else status.name)
    return details


async def _type_name(client: Client, type_id: object, cache: dict[ua.NodeId, str]) -> str:
    if not isinstance(type_id, ua.NodeId):
        return ""
    if type_id in cache:
        return cache[type_id]
    identifier = type_id.Identifier
    if type_id.NamespaceIndex == 0 and isinstance(identifier, int) and identifier in ObjectIdNames:
        name = ObjectIdNames[identifier]
    else:
        try:
            name = (await client.get_node(type_id).read_browse_name()).Name or type_id.to_string()
        except (UaError, TimeoutError):
            name = type_id.to_string()
    cache[type_id] = name
    return name
