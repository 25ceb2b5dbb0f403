"""The `hmi` command."""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import logging
import os
import sys
import tempfile
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from hmi import __version__
from hmi.commands.parser import register_commands
from hmi.config import ConfigError, load_site, parse_site
from hmi.core.site import Device, DeviceKind, Site
from hmi.folders import data_dir
from hmi.logs import LOG_DIR_ENV, configure_logging, redact_secrets, stop_logging

EXIT_OK, EXIT_FAILURE = 0, 2
DEMO_CONFIG = "config/demo.toml"
# commands on the station's database also log to the HMI's log file (hmi.logs), so the
# security log (logins, refusals, lockouts) is complete whichever program saw them
FILE_LOGGED = frozenset({"users", "audit", "secrets", "run", "demo", "tags", "alarms",
                         "outbox", "events"})


class CliError(Exception):
    """A one-line reason for exit code 2."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    redact_secrets()  # -v: asyncua's request dumps hold the OPC UA password
    try:
        if args.command in FILE_LOGGED:
            configure_logging(args.log_dir, logging.DEBUG if args.verbose else logging.INFO)
            if not args.verbose:
                _quiet_console()
        return int(args.func(args))
    except ConfigError as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        return EXIT_FAILURE
    except (CliError, OSError) as exc:
        print(f"hmi {args.command}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130  # the shell's convention for Ctrl+C
    finally:
        stop_logging()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hmi", description="Operator HMI for manufacturing.")
    parser.add_argument("--version", action="version", version=f"hmi {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    parser.add_argument(
        "--log-dir", type=Path, metavar="DIR",
        help=f"folder of hmi.log (default: ${LOG_DIR_ENV}, else the user log folder)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="start the demo plant and the app against it")
    demo.add_argument("--data", type=Path, help="data folder (default: a fresh temporary one)")
    demo.add_argument("--headless", action="store_true", help="run offscreen, no display")
    demo.add_argument("--duration", type=float, help="close by itself after SECONDS")
    demo.add_argument("--screenshot", type=Path, help="save a PNG of the window before closing")
    demo.add_argument(
        "--port-offset", type=int, default=0, help="add N to every demo port (if they are taken)"
    )
    demo.set_defaults(func=_cmd_demo)

    run = commands.add_parser("run", help="start the app against a real site")
    run.add_argument("--config", type=Path, required=True, help="site file (TOML)")
    run.add_argument("--data", type=Path, help="data folder (default: the user data folder)")
    run.add_argument("--headless", action="store_true",
                     help="no window: devices, historian, rules, alarms and the MES sender "
                          "only (a gateway PC, a service); stops on SIGTERM or Ctrl+C")
    run.add_argument("--duration", type=float, help="with --headless: stop after SECONDS")
    run.set_defaults(func=_cmd_run)

    check = commands.add_parser("check-config", help="validate a site file")
    check.add_argument("file", type=Path)
    check.set_defaults(func=_cmd_check_config)

    register_commands(commands)
    return parser


# -- commands ---------------------------------------------------------------------------


def _cmd_demo(args: argparse.Namespace) -> int:
    if args.duration is not None and args.duration <= 0:
        raise CliError("--duration must be a positive number of seconds")
    if args.screenshot is not None:
        if args.duration is None:
            raise CliError("--screenshot needs --duration (the screenshot is taken at its end)")
        _check_writable_png(args.screenshot)
    text = resources.files("hmi.resources").joinpath(DEMO_CONFIG).read_text("utf-8")
    site = shift_ports(parse_site(text, "demo.toml"), args.port_offset)
    if args.data is not None:
        args.data.mkdir(parents=True, exist_ok=True)
        return _run_gui(site, args.data, args, demo=True)
    with tempfile.TemporaryDirectory(prefix="hmi-demo-") as data:
        return _run_gui(site, Path(data), args, demo=True)


def _cmd_run(args: argparse.Namespace) -> int:
    if args.duration is not None and (not args.headless or args.duration <= 0):
        raise CliError("--duration goes with --headless and is a positive number of seconds")
    site = load_site(args.config)
    data = data_dir(args.data)
    data.mkdir(parents=True, exist_ok=True)
    if args.headless:
        from hmi.headless import run_headless  # noqa: PLC0415 (no Qt: loaded when run)
        from hmi.store.database import StoreError  # noqa: PLC0415

        try:
            return run_headless(site, data, args.duration)
        except StoreError as exc:
            raise CliError(str(exc)) from None
    return _run_gui(site, data, args, demo=False)


def _check_writable_png(path: Path) -> None:
    """Refuse a screenshot path up front, not after the whole run."""
    if path.suffix.lower() != ".png":
        raise CliError(f"--screenshot {path}: the file name must end in .png")
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"--screenshot {path}: cannot create folder {folder}: {exc}") from None
    if not os.access(folder, os.W_OK):
        raise CliError(f"--screenshot {path}: folder {folder} is not writable")


def _run_gui(site: Site, data: Path, args: argparse.Namespace, *, demo: bool) -> int:
    from hmi.app import AppError, AppOptions, run_app  # noqa: PLC0415 (Qt: GUI commands only)
    from hmi.store.database import StoreError  # noqa: PLC0415 (loaded by the app anyway)

    options = AppOptions(
        site=site,
        data_dir=data,
        user=getpass.getuser(),
        demo=demo,
        headless=getattr(args, "headless", False),
        duration=getattr(args, "duration", None),
        screenshot=getattr(args, "screenshot", None),
    )
    try:
        return run_app(options)
    except (AppError, StoreError) as exc:
        raise CliError(str(exc)) from None


def _cmd_check_config(args: argparse.Namespace) -> int:
    site = load_site(args.file)
    print(
        f"{args.file}: OK: {_count(len(site.devices), 'device')}, "
        f"{_count(len(site.tags), 'tag')}, "
        f"{_count(len(site.alarms), 'alarm')}, "
        f"{_count(len(site.production_rules), 'production rule')}"
    )
    return EXIT_OK


# -- helpers ----------------------------------------------------------------------------


def _quiet_console() -> None:
    """Warnings to the log file only: a refusal's one-line error already says it."""
    for handler in logging.getLogger().handlers:
        if type(handler) is logging.StreamHandler:
            handler.setLevel(logging.ERROR)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def shift_ports(site: Site, offset: int) -> Site:
    """The demo site with every loopback port moved by ``offset``."""
    if offset == 0:
        return site
    if not 0 < offset < 40000:
        raise CliError("--port-offset must be between 1 and 39999")

    def move(url: str) -> str:
        parts = urlsplit(url)
        netloc = f"{parts.hostname}:{(parts.port or 0) + offset}"
        return urlunsplit(parts._replace(netloc=netloc))

    devices: list[Device] = []
    for device in site.devices:
        if device.kind is DeviceKind.OPCUA:
            devices.append(dataclasses.replace(device, endpoint=move(device.endpoint)))
        else:
            devices.append(dataclasses.replace(device, port=device.port + offset))
    mes = dataclasses.replace(site.mes, url=move(site.mes.url)) if site.mes else None
    return dataclasses.replace(site, devices=tuple(devices), mes=mes)


if __name__ == "__main__":
    sys.exit(main())
