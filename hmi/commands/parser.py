"""The `hmi` subcommands as argparse sees them, and nothing heavier than argparse.

Each command's function is named here by module and name and imported only when that
command runs (``deferred``): `hmi --help`, `hmi check-config` and the other light
commands never load asyncua, aiohttp, SQLAlchemy, numpy or Qt for the heavy ones.
"""

from __future__ import annotations

import argparse
import importlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from hmi.core.security import Role
from hmi.core.site import SecurityMode, SecurityPolicy

if TYPE_CHECKING:
    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]

Command = Callable[[argparse.Namespace], int]

DEFAULT_STATUS_SECONDS = 3.0
TIME_HELP = "ISO-8601 (local time without a zone; Z or +02:00 with one), or now, -8h, -1d"
ALARM_WHEN_HELP = 'local time: YYYY-MM-DD or "YYYY-MM-DD HH:MM"'
# "--from -8h": argparse would take "-8h" for an option; relative times are values.
_RELATIVE_TIME = re.compile(r"^-\d+(\.\d+)?[smhdw]?$")


class DeferredCommand:
    """A command function imported when the command runs, not when the parser is built."""

    def __init__(self, module: str, function: str) -> None:
        self.module = module
        self.function = function

    def resolve(self) -> Command:
        command: Command = getattr(importlib.import_module(self.module), self.function)
        return command

    def __call__(self, args: argparse.Namespace) -> int:
        return self.resolve()(args)


def deferred(module: str, function: str) -> DeferredCommand:
    return DeferredCommand(f"hmi.commands.{module}", function)


def register_commands(commands: SubParsers) -> None:
    """Add every subcommand but the app's own (demo, run, check-config)."""
    _register_tags(commands)
    _register_devices(commands)
    _register_opcua(commands)
    _register_export(commands)
    _register_users(commands)
    _register_audit(commands)
    _register_secrets(commands)
    _register_alarms(commands)
    _register_outbox(commands)
    _register_events(commands)


# -- shared arguments ---------------------------------------------------------------------


def add_data_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data", type=Path, metavar="DIR",
        help="the HMI's data folder (default: the user data folder, as `hmi run`)",
    )


def add_station_arguments(parser: argparse.ArgumentParser, config: bool = True) -> None:
    """``--data`` (and ``--config``, unless the command has its own)."""
    if config:
        parser.add_argument(
            "--config", type=Path, metavar="F",
            help="site file (TOML): its [security] settings apply (default: the built-in ones)",
        )
    add_data_argument(parser)


def add_login_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--as", dest="as_user", metavar="NAME", default="",
        help="act as this user: asks for their password (lockout applies)",
    )
    parser.add_argument(
        "--password-stdin", action="store_true",
        help="read passwords from standard input, one per line (the --as user's first)",
    )


def positive_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < seconds <= 3600:
        raise argparse.ArgumentTypeError("must be more than 0 and at most 3600 seconds")
    return seconds


def _site_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, required=True, help="site file (TOML)")


# -- tags and devices ---------------------------------------------------------------------


def _register_tags(commands: SubParsers) -> None:
    tags = commands.add_parser("tags", help="tag tools")
    actions = tags.add_subparsers(dest="tags_command", required=True, metavar="ACTION")
    read = actions.add_parser("read", help="read every configured tag once")
    _site_argument(read)
    read.add_argument("--json", action="store_true", help="one JSON object per line")
    add_data_argument(read)
    read.set_defaults(func=deferred("tags", "cmd_read"))

    write = actions.add_parser(
        "write", help="write one value to a PLC (checked against the site config, read back)"
    )
    _site_argument(write)
    write.add_argument("tag", help="tag name, as in the site file")
    write.add_argument("value", help="value in engineering units; true/false for bits")
    write.add_argument("--reason", default="", help="why (kept in the audit trail)")
    add_station_arguments(write, config=False)
    add_login_arguments(write)
    write.set_defaults(func=deferred("tags", "cmd_write"))


def _register_devices(commands: SubParsers) -> None:
    devices = commands.add_parser("devices", help="device connections and diagnostics")
    actions = devices.add_subparsers(dest="devices_command", required=True, metavar="ACTION")
    status = actions.add_parser(
        "status", help="connect to every device, poll a few seconds, print diagnostics"
    )
    _site_argument(status)
    status.add_argument("--json", action="store_true", help="one JSON object per device")
    status.add_argument(
        "--seconds", type=positive_seconds, default=DEFAULT_STATUS_SECONDS,
        help=f"how long to poll before printing (default {DEFAULT_STATUS_SECONDS:g})",
    )
    add_data_argument(status)
    status.set_defaults(func=deferred("devices", "cmd_status"))


# -- OPC UA -------------------------------------------------------------------------------


def _register_opcua(commands: SubParsers) -> None:
    browse = commands.add_parser(
        "browse", help="list an OPC UA server's nodes, with node ids to paste into the config"
    )
    browse.add_argument("url", help="endpoint, e.g. opc.tcp://192.168.0.10:4840")
    browse.add_argument("--depth", type=int, default=3, help="levels below Objects (default 3)")
    browse.add_argument("--json", action="store_true", help="one JSON object per node")
    browse.add_argument(
        "--all", action="store_true", help="include namespace 0 (the Server object)"
    )
    browse.add_argument(
        "--policy",
        choices=[p.value for p in SecurityPolicy],
        default=SecurityPolicy.NONE.value,
        help="security policy (default None)",
    )
    browse.add_argument(
        "--mode",
        choices=[m.value for m in SecurityMode],
        help="security mode (default SignAndEncrypt with a policy, else None)",
    )
    browse.add_argument("--username", default="", help="OPC UA user (default: anonymous)")
    browse.add_argument(
        "--password-secret", default="", help="keyring entry (service 'hmi') with the password"
    )
    browse.add_argument("--timeout", type=float, default=5.0, help="seconds per request")
    _pki_argument(browse)
    browse.set_defaults(func=deferred("opcua", "cmd_browse"))

    certs = commands.add_parser("certs", help="OPC UA certificates: own, trusted, rejected")
    actions = certs.add_subparsers(dest="certs_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="show own, trusted and rejected certificates")
    _pki_argument(listing)
    listing.set_defaults(func=deferred("opcua", "cmd_certs_list"))
    trust = actions.add_parser("trust", help="trust a rejected server certificate (or a file)")
    trust.add_argument("certificate", metavar="THUMBPRINT|FILE")
    _pki_argument(trust)
    trust.set_defaults(func=deferred("opcua", "cmd_certs_trust"))
    remove = actions.add_parser("remove", help="delete a trusted or rejected certificate")
    remove.add_argument("thumbprint", metavar="THUMBPRINT")
    _pki_argument(remove)
    remove.set_defaults(func=deferred("opcua", "cmd_certs_remove"))


def _pki_argument(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--pki", type=Path, help="certificate folder (default: the data folder's pki/)"
    )
    where.add_argument(
        "--data", type=Path, metavar="DIR",
        help="the HMI's data folder, whose pki/ the app and `hmi tags read --data DIR` use "
             "(default: the user data folder, as `hmi run`)",
    )


# -- history and the station's database -----------------------------------------------------


def _register_export(commands: SubParsers) -> None:
    export = commands.add_parser("export", help="write tag history to a CSV file")
    export._negative_number_matcher = _RELATIVE_TIME
    _site_argument(export)
    export.add_argument("--tags", required=True, help="tag names, comma separated")
    export.add_argument("--from", dest="start", required=True, metavar="T", help=TIME_HELP)
    export.add_argument("--to", dest="end", required=True, metavar="T", help=TIME_HELP)
    export.add_argument(
        "--step", metavar="S",
        help="resample to a fixed step: seconds, or 30s, 1m, 1h (default: raw samples)",
    )
    export.add_argument("--csv", type=Path, required=True, metavar="OUT", help="CSV file to write")
    export.add_argument("--data", type=Path, help="data folder (default: the user data folder)")
    export.set_defaults(func=deferred("export", "cmd_export"))


def _register_users(commands: SubParsers) -> None:
    users = commands.add_parser("users", help="local user accounts: add, passwords, disable")
    actions = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    roles = ", ".join(r.value for r in Role)

    add = actions.add_parser("add", help="add a user (the first one: the administrator)")
    add.add_argument("name", metavar="NAME")
    add.add_argument("--role", required=True, metavar="ROLE", help=f"one of: {roles}")
    add.add_argument("--full-name", default="", metavar="TEXT", help="shown beside the name")
    _user_command(add, "cmd_add")

    passwd = actions.add_parser("passwd", help="set a user's password (your own: --as you)")
    passwd.add_argument("name", metavar="NAME")
    _user_command(passwd, "cmd_passwd")

    disable = actions.add_parser("disable", help="stop a user from logging in")
    disable.add_argument("name", metavar="NAME")
    disable.add_argument("--reason", required=True, metavar="TEXT", help="why (audited)")
    _user_command(disable, "cmd_disable")

    enable = actions.add_parser("enable", help="let a disabled or locked-out user log in again")
    enable.add_argument("name", metavar="NAME")
    enable.add_argument("--reason", default="", metavar="TEXT", help="why (audited)")
    _user_command(enable, "cmd_enable")

    listing = actions.add_parser("list", help="name, full name, role and state of every user")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    _user_command(listing, "cmd_list")


def _user_command(parser: argparse.ArgumentParser, function: str) -> None:
    add_login_arguments(parser)
    add_station_arguments(parser)
    parser.set_defaults(func=deferred("users", function))


def _register_audit(commands: SubParsers) -> None:
    audit = commands.add_parser("audit", help="the audit trail: verify its chain, export it")
    actions = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")

    verify = actions.add_parser(
        "verify", help="check every row against its hash: OK (exit 0) or BROKEN (exit 1)"
    )
    add_station_arguments(verify)
    verify.set_defaults(func=deferred("audit", "cmd_verify"))

    export = actions.add_parser("export", help="rows in a time range to CSV (needs --as)")
    export._negative_number_matcher = _RELATIVE_TIME
    export.add_argument("--from", dest="start", required=True, metavar="T", help=TIME_HELP)
    export.add_argument("--to", dest="end", required=True, metavar="T", help=TIME_HELP)
    export.add_argument("--csv", type=Path, required=True, metavar="OUT", help="CSV file to write")
    export.add_argument("--user", default="", metavar="U", help="only rows of this user")
    export.add_argument("--action", default="", metavar="A",
                        help="only rows of this action (login_failed, user_added, ...)")
    add_login_arguments(export)
    add_station_arguments(export)
    export.set_defaults(func=deferred("audit", "cmd_export"))


def _register_events(commands: SubParsers) -> None:
    events = commands.add_parser("events", help="production events: list, confirm")
    actions = events.add_subparsers(dest="events_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="events waiting for an operator, oldest first")
    listing.add_argument("--all", action="store_true", help="confirmed ones too")
    listing.add_argument("--json", action="store_true", help="as JSON, for scripts")
    add_station_arguments(listing)
    listing.set_defaults(func=deferred("events", "cmd_list"))
    confirm = actions.add_parser("confirm", help="confirm an event and queue its MES "
                                                 "transaction (needs --as)")
    confirm.add_argument("id", help="the event's id (hmi events list)")
    confirm.add_argument("--comment", default="", help="kept with the confirmation")
    _site_argument(confirm)
    add_login_arguments(confirm)
    add_data_argument(confirm)
    confirm.set_defaults(func=deferred("events", "cmd_confirm"))


def _register_outbox(commands: SubParsers) -> None:
    outbox = commands.add_parser("outbox", help="the MES outbox: what waits, was sent, "
                                                "was rejected; send a rejected one again")
    actions = outbox.add_subparsers(dest="outbox_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="transactions, newest first, with the MES's "
                                              "reason for those not sent")
    listing.add_argument("--status", choices=("pending", "sent", "rejected"),
                         help="only these")
    listing.add_argument("--json", action="store_true", help="as JSON, for scripts")
    add_station_arguments(listing)
    listing.set_defaults(func=deferred("outbox", "cmd_list"))
    retry = actions.add_parser("retry", help="send a rejected transaction again (needs "
                                             "--as a user with retry_mes)")
    retry.add_argument("id", help="the transaction's id (hmi outbox list)")
    retry.add_argument("--reason", default="", help="why it may go now (audited)")
    add_login_arguments(retry)
    add_station_arguments(retry)
    retry.set_defaults(func=deferred("outbox", "cmd_retry"))


def _register_alarms(commands: SubParsers) -> None:
    alarms = commands.add_parser("alarms", help="the station's alarms")
    actions = alarms.add_subparsers(dest="alarms_command", required=True, metavar="ACTION")
    listing = actions.add_parser(
        "list", help="alarms not normal, most urgent first, as the station's store has them")
    _site_argument(listing)
    add_data_argument(listing)
    listing.add_argument("--all", action="store_true", help="normal alarms too")
    listing.add_argument("--json", action="store_true", help="as JSON, for scripts")
    listing.set_defaults(func=deferred("alarms", "cmd_list"))

    report = actions.add_parser(
        "report", help="alarm performance over a time range (EEMUA 191, ISA-18.2): rates, "
                       "floods, chattering, stale, bad actors, priority mix")
    _site_argument(report)
    add_data_argument(report)
    report.add_argument("--from", dest="start", metavar="WHEN",
                        help=f"{ALARM_WHEN_HELP} (default: 24 h before --to)")
    report.add_argument("--to", dest="end", metavar="WHEN",
                        help=f"{ALARM_WHEN_HELP} (default: now)")
    report.add_argument("--json", action="store_true", help="every figure as JSON")
    report.set_defaults(func=deferred("alarm_report", "cmd_report"))
    _register_alarm_actions(actions)


def _register_alarm_actions(actions: SubParsers) -> None:
    """`hmi alarms ack/shelve/unshelve` (hmi.commands.alarm_actions)."""
    ack = actions.add_parser("ack", help="acknowledge alarms as a user (--as)")
    ack.add_argument("alarms", nargs="+", metavar="ALARM", help="alarm names, as in the site")
    ack.add_argument("--comment", default="", metavar="TEXT",
                     help="what was seen or done (required for [alarming] "
                          "ack_comment_required priorities)")
    shelve = actions.add_parser("shelve", help="set an alarm aside for a while, as a user")
    shelve.add_argument("alarm", metavar="ALARM")
    shelve.add_argument("--minutes", type=_shelve_minutes, required=True, metavar="N",
                        help="how long (at most [alarming] max_shelve_minutes)")
    shelve.add_argument("--reason", required=True, metavar="TEXT", help="why (audited)")
    unshelve = actions.add_parser("unshelve", help="end an alarm's shelve, as a user")
    unshelve.add_argument("alarm", metavar="ALARM")
    unshelve.add_argument("--comment", default="", metavar="TEXT", help="why (audited)")
    for parser, function in ((ack, "cmd_ack"), (shelve, "cmd_shelve"),
                             (unshelve, "cmd_unshelve")):
        _site_argument(parser)
        add_data_argument(parser)
        add_login_arguments(parser)
        parser.add_argument(
            "--wait", type=_wait_seconds, default=10.0, metavar="S",
            help="while the app runs on the data folder: how long to wait for its answer "
                 "before withdrawing the request (default 10)")
        parser.set_defaults(func=deferred("alarm_actions", function))


def _shelve_minutes(text: str) -> float:
    try:
        minutes = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of minutes") from None
    if not 0 < minutes < float("inf"):
        raise argparse.ArgumentTypeError("must be more than 0 minutes")
    return minutes


def _wait_seconds(text: str) -> float:
    seconds = positive_seconds(text)
    if seconds > 60:
        raise argparse.ArgumentTypeError("must be at most 60 seconds")
    return seconds


def _register_secrets(commands: SubParsers) -> None:
    secrets = commands.add_parser(
        "secrets", help="keyring entries the site file names (MES API key, OPC UA passwords)"
    )
    actions = secrets.add_subparsers(dest="secrets_command", required=True, metavar="ACTION")

    store = actions.add_parser("set", help="store a secret in the OS keyring")
    store.add_argument("name", metavar="NAME", help="the entry name the site file gives")
    store.add_argument(
        "--stdin", action="store_true",
        help="read the secret as one line of standard input (after the --as password "
             "when --password-stdin is given too)",
    )
    add_login_arguments(store)
    add_station_arguments(store)
    store.set_defaults(func=deferred("secrets", "cmd_set"))

    check = actions.add_parser("check", help="say whether a secret is stored (never shows it)")
    check.add_argument("name", metavar="NAME")
    check.set_defaults(func=deferred("secrets", "cmd_check"))
