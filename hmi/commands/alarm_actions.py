"""`hmi alarms ack`, `shelve` and `unshelve`: an operator's action on the station's alarms
through the services the screens use (hmi.services.alarm_actions: the permission, the
comment or reason, the signature where the site asks, the audit row in the alarm's
transaction), as the ``--as`` user, whose password also signs.

The alarm states belong to one program at a time (hmi.store.station_lock). When no
station runs on the data folder, the command takes its lock, loads the states and acts
on the store itself. When one runs, its engine holds the states in memory and would
overwrite a change written behind its back: the command checks the password and the
permission, hands the station a request per alarm (hmi.services.alarm_requests) and waits
``--wait`` seconds for its answers; a request it did not answer is withdrawn, never
performed later. Input the command can judge (alarm names, the comment or reason, a
shelve's length) is checked before the password is asked.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path

from hmi.commands.login import (
    EXIT_BROKEN,
    EXIT_OK,
    CommandError,
    Passwords,
    Station,
    guarded,
)
from hmi.config import load_site
from hmi.core.alarm_rules import AlarmRule
from hmi.core.security import Action, Actor, InputRejectedError, Signature, clean_text
from hmi.core.site import Site
from hmi.folders import data_dir
from hmi.security.session import Session
from hmi.services.alarm_actions import AlarmActions, comment_required
from hmi.services.alarm_requests import PERMISSIONS, hand_to_station
from hmi.services.alarms import AlarmEngine
from hmi.store.alarm_requests import (
    AlarmRequestRepository,
    NewRequest,
    RequestAction,
    RequestStatus,
)
from hmi.store.alarms import AlarmRepository
from hmi.store.station_lock import StationLock

DONE = {
    RequestAction.ACKNOWLEDGE: "acknowledged",
    RequestAction.SHELVE: "shelved",
    RequestAction.UNSHELVE: "unshelved",
}


@dataclass(frozen=True, slots=True)
class Order:
    """What the command was asked to do, checked."""

    title: str  # "alarms ack"
    action: RequestAction
    names: tuple[str, ...]
    text: str = ""  # comment or reason, cleaned
    minutes: float | None = None

    @property
    def permission(self) -> Action:
        return PERMISSIONS[self.action]


@dataclass(frozen=True, slots=True)
class Outcome:
    done: bool
    said: str  # why not, when not done


@guarded("alarms ack")
def cmd_ack(args: argparse.Namespace) -> int:
    site = load_site(args.config)
    names = _known(site, args.alarms, args)
    rules = {rule.name: rule for rule in site.alarms}
    if comment_required(rules, site.alarm_settings, names) and not args.comment.strip():
        needing = [name for name in names
                   if comment_required(rules, site.alarm_settings, [name])]
        raise CommandError(
            f"acknowledging {_priorities(rules, needing)} needs a comment on this site "
            f"([alarming] ack_comment_required in {args.config}): give --comment TEXT, "
            "what was seen or done")
    comment = _clean(args.comment, "comment", "--comment")
    return _act(args, site, Order("alarms ack", RequestAction.ACKNOWLEDGE, names, comment))


@guarded("alarms shelve")
def cmd_shelve(args: argparse.Namespace) -> int:
    site = load_site(args.config)
    names = _known(site, [args.alarm], args)
    longest = site.alarm_settings.max_shelve_minutes
    if args.minutes > longest:
        raise CommandError(
            f"--minutes {args.minutes:g} is longer than this site allows: a shelve lasts at "
            f"most {longest:g} minutes ([alarming] max_shelve_minutes in {args.config}); "
            f"give --minutes {longest:g} or less")
    if not args.reason.strip():
        raise CommandError("--reason is empty: say why the alarm is set aside, in a few "
                           "words (it is kept in the journal and the audit trail)")
    reason = _clean(args.reason, "reason", "--reason")
    return _act(args, site, Order("alarms shelve", RequestAction.SHELVE, names, reason,
                                  args.minutes))


@guarded("alarms unshelve")
def cmd_unshelve(args: argparse.Namespace) -> int:
    site = load_site(args.config)
    names = _known(site, [args.alarm], args)
    comment = _clean(args.comment, "comment", "--comment")
    return _act(args, site, Order("alarms unshelve", RequestAction.UNSHELVE, names, comment))


# -- checks before the password ---------------------------------------------------------------


def _known(site: Site, typed: list[str], args: argparse.Namespace) -> tuple[str, ...]:
    configured = {rule.name for rule in site.alarms}
    unknown = [name for name in typed if name not in configured]
    if unknown:
        listed = ", ".join(repr(name) for name in unknown)
        raise CommandError(f"no alarm named {listed} in {args.config} (names are "
                           f"case-sensitive; `hmi alarms list --config {args.config} --all` "
                           "lists them)")
    return tuple(dict.fromkeys(typed))


def _clean(text: str, what: str, option: str) -> str:
    try:
        return clean_text(text, what)
    except InputRejectedError as exc:
        raise CommandError(f"{option}: {exc}") from None


def _priorities(rules: dict[str, AlarmRule], names: list[str]) -> str:
    shown = ", ".join(f"{name} ({rules[name].priority.value})" for name in names[:5])
    return shown + (f" and {len(names) - 5} more" if len(names) > 5 else "")


# -- the action ----------------------------------------------------------------------------------


def _act(args: argparse.Namespace, site: Site, order: Order) -> int:
    station = Station.open(args, create=False, settings=site.security)
    try:
        if not station.users.has_users():
            raise CommandError("this station has no users yet: create the administrator "
                               "first (hmi users add NAME --role admin)")
        session = Session(station.auth)
        actor, password = station.log_in(args.as_user, Passwords(args.password_stdin),
                                         order.title, order.permission, session=session)
        target = f"alarm {order.names[0]}" if len(order.names) == 1 else (
            f"{len(order.names)} alarms")
        station.guard.require(actor, order.permission, target)  # a refusal is audited
        meaning = site.security.meaning(order.permission) or ""
        signature = (session.sign(order.permission, meaning, password, actor.name)
                     if meaning else None)
        folder = data_dir(args.data)
        lock = StationLock(folder, f"hmi {order.title}")
        if lock.try_acquire():  # no station runs: act on the store, holding it off
            try:
                outcomes = asyncio.run(_on_store(site, station, order, actor, signature))
            finally:
                lock.release()
        else:
            outcomes = _through_station(station, order, actor, meaning, args.wait, folder)
    finally:
        station.close()
    return _report(order, outcomes)


async def _on_store(site: Site, station: Station, order: Order, actor: Actor,
                    signature: Signature | None) -> dict[str, Outcome]:
    """As the station would: its engine's states from the store, AlarmActions on them."""
    engine = AlarmEngine(site.alarms, site.alarm_settings, AlarmRepository(station.database))
    await engine.open()
    actions = AlarmActions(engine, station.guard)
    if order.action is RequestAction.ACKNOWLEDGE:
        said = await actions.acknowledge(order.names, actor, order.text, signature)
    elif order.action is RequestAction.SHELVE:
        assert order.minutes is not None
        said = {name: await actions.shelve(name, actor, order.minutes, order.text,
                                           signature) for name in order.names}
    else:
        said = {name: await actions.unshelve(name, actor, order.text, signature)
                for name in order.names}
    return {name: Outcome(not why, f"refused: {why}" if why else "")
            for name, why in said.items()}


def _through_station(station: Station, order: Order, actor: Actor, meaning: str,
                     wait_s: float, folder: Path) -> dict[str, Outcome]:
    asked = [NewRequest(name, order.action, actor.name, actor.role.value, order.text,
                        order.minutes, meaning) for name in order.names]
    answers = hand_to_station(AlarmRequestRepository(station.database), asked, wait_s)
    outcomes: dict[str, Outcome] = {}
    for name, answer in zip(order.names, answers, strict=True):
        if answer.status is RequestStatus.DONE:
            outcomes[name] = Outcome(True, "")
        elif answer.status is RequestStatus.WITHDRAWN:
            outcomes[name] = Outcome(False, (
                f"not {DONE[order.action]}: the station running on {folder} did not answer "
                f"within {wait_s:g} s (is it stuck, or still starting?); the request was "
                "withdrawn and nothing changed"))
        else:
            outcomes[name] = Outcome(False, f"refused by the station: {answer.answer}")
    return outcomes


def _report(order: Order, outcomes: dict[str, Outcome]) -> int:
    """One line per alarm: done on stdout, refused (with why) on stderr."""
    done = DONE[order.action]
    if order.action is RequestAction.SHELVE and order.minutes is not None:
        done += f" for {order.minutes:g} min"
    for name in order.names:
        outcome = outcomes[name]
        if outcome.done:
            print(f"{name}: {done}")
        else:
            print(f"{name}: {outcome.said}", file=sys.stderr)
    return EXIT_OK if all(o.done for o in outcomes.values()) else EXIT_BROKEN
