"""`hmi` subcommands: opcua (`hmi browse`, `hmi certs list|trust|remove`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from hmi.core.site import OpcUaSecurity, SecurityMode, SecurityPolicy
from hmi.folders import PKI_FOLDER, data_dir
from hmi.mes.secrets import SecretError, read_password

if TYPE_CHECKING:
    from hmi.devices.opcua_browse import BrowsedNode

# asyncua and cryptography are imported inside the commands: every other `hmi`
# command would otherwise pay for loading them.
Command = Callable[[argparse.Namespace], int]

EXIT_OK, EXIT_FAILURE = 0, 2


class _CommandError(Exception):
    """One line for stderr and exit code 2."""




def keyring_password(name: str) -> str:
    """The OPC UA password stored in the OS keyring under service "hmi", entry ``name``."""
    try:
        return read_password(name)
    except SecretError as exc:
        raise _CommandError(str(exc)) from None


def _guarded(command: Command) -> Command:
    """Run ``command``; a _CommandError or PkiError becomes one line and exit code 2."""
    from hmi.devices.opcua_pki import PkiError  # noqa: PLC0415

    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except (_CommandError, PkiError) as exc:
            print(f"hmi {args.command}: {exc}", file=sys.stderr)
            return EXIT_FAILURE

    return run


def _pki(args: argparse.Namespace) -> Path:
    """--pki DIR, else the data folder's pki/ (the one the app's devices trust from)."""
    return Path(args.pki) if args.pki is not None else data_dir(args.data) / PKI_FOLDER


# -- browse -----------------------------------------------------------------------------


@_guarded
def cmd_browse(args: argparse.Namespace) -> int:
    from hmi.devices.connection import CommError  # noqa: PLC0415

    if not args.url.startswith("opc.tcp://"):
        raise _CommandError(f"{args.url!r} is not an opc.tcp:// URL")
    if args.depth < 1:
        raise _CommandError("--depth must be 1 or more")
    policy = SecurityPolicy(args.policy)
    default_mode = (
        SecurityMode.NONE if policy is SecurityPolicy.NONE else (SecurityMode.SIGN_AND_ENCRYPT)
    )
    mode = SecurityMode(args.mode) if args.mode else default_mode
    if (policy is SecurityPolicy.NONE) != (mode is SecurityMode.NONE):
        raise _CommandError(f"--policy {policy.value} does not go with --mode {mode.value}")
    if args.username and not args.password_secret:
        raise _CommandError("--username needs --password-secret (the keyring entry)")
    security = OpcUaSecurity(policy, mode, args.username, args.password_secret)
    try:
        nodes = asyncio.run(_browse(args, security))
    except CommError as exc:
        print(f"cannot connect to {args.url}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    for node in nodes:
        if args.json:
            print(json.dumps(node.as_json(), ensure_ascii=False))
        else:
            print(node.line())
    if not nodes and not args.json:
        print(f"{args.url}: no nodes below Objects (try --all)")
    return EXIT_OK


async def _browse(args: argparse.Namespace, security: OpcUaSecurity) -> list[BrowsedNode]:
    from hmi.devices.opcua_browse import browse, connected  # noqa: PLC0415

    pki = _pki(args) if security.policy is not SecurityPolicy.NONE else None
    async with connected(
        args.url,
        security,
        pki_dir=pki,
        password_provider=keyring_password,
        request_timeout=args.timeout,
    ) as client:
        return await browse(client, args.depth, include_standard=args.all)


# -- certs ------------------------------------------------------------------------------


@_guarded
def cmd_certs_list(args: argparse.Namespace) -> int:
    from hmi.devices.opcua_pki import PkiStore  # noqa: PLC0415

    pki = _pki(args)
    infos = PkiStore(pki).certificates()
    if not infos:
        print(f"no certificates in {pki} (ours is created on the first secure connection)")
        return EXIT_OK
    for info in infos:
        expiry = info.not_after.date().isoformat() + (" EXPIRED" if info.expired else "")
        print(f"{info.store:<9} {info.thumbprint}  expires {expiry}  {info.subject}")
        print(f"{'':<9} {info.path}")
    return EXIT_OK


@_guarded
def cmd_certs_trust(args: argparse.Namespace) -> int:
    from hmi.devices.opcua_pki import PkiStore  # noqa: PLC0415

    info = PkiStore(_pki(args)).trust(args.certificate)
    print(f"trusted {info.subject} ({info.thumbprint}): {info.path}")
    return EXIT_OK


@_guarded
def cmd_certs_remove(args: argparse.Namespace) -> int:
    from hmi.devices.opcua_pki import PkiStore  # noqa: PLC0415

    info = PkiStore(_pki(args)).remove(args.thumbprint)
    print(f"removed {info.store} certificate {info.subject} ({info.thumbprint})")
    return EXIT_OK
