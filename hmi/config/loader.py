"""Site configuration: TOML into the frozen, validated objects of hmi.core.site.

Every problem is collected (not just the first) and reported as ``file:line: message``
naming the key and what is allowed, so a commissioning engineer fixes them in one pass.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from pathlib import Path
from typing import Any

from hmi.config.alarms import parse_alarm_settings, parse_alarms
from hmi.config.checker import NAME, Checker, ConfigError, ConfigIssue, declared, sorted_keys
from hmi.config.devices import parse_devices
from hmi.config.locate import LineIndex
from hmi.config.security import parse_security
from hmi.config.tags import parse_tags
from hmi.core.shifts import parse_shift_start
from hmi.core.site import HistorianSettings, MesLink, ProductionCountRule, Site

__all__ = ["ConfigError", "ConfigIssue", "load_site", "parse_site"]

_RULE_KEYS = frozenset({"name", "counter_tag", "reject_tag", "period", "unit", "line"})
_MES_KEYS = frozenset({"url", "api_key_secret", "timeout", "retry_interval", "verify_tls",
                       "auth", "username", "token_url", "client_id", "scope"})
_MES_AUTH = ("api_key", "basic", "oauth2")
_HISTORIAN_KEYS = frozenset({"raw_days", "rollup_days", "heartbeat"})
_TOP_KEYS = frozenset(
    {
        "site", "scan_classes", "devices", "tags", "production", "mes", "trend", "shifts",
        "historian", "security", "alarms", "alarming",
    }
)


def load_site(path: str | Path) -> Site:
    """Read and validate a site file. Raises ConfigError naming file:line of each problem."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([ConfigIssue(str(file), 0, "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([ConfigIssue(str(file), 0, f"cannot read: {exc}")]) from None
    return parse_site(text, str(file))


def parse_site(text: str, file: str = "<config>") -> Site:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        line = int(match.group(1)) if match else 1
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise ConfigError([ConfigIssue(file, line, f"TOML syntax error: {message}")]) from None
    return _Validator(file, LineIndex(text)).site(raw)


class _Validator(Checker):
    def site(self, raw: dict[str, Any]) -> Site:
        for key in raw:
            if key not in _TOP_KEYS:
                self.error((key,), f"unknown section [{key}]; allowed: {sorted_keys(_TOP_KEYS)}")
        site_table = self.table(raw, "site")
        name = str(site_table.get("name", Path(self.file).stem))
        scan_classes = self.scan_classes(raw)
        devices = parse_devices(self, raw)
        tags = parse_tags(self, raw, {d.name: d for d in devices}, scan_classes)
        tag_names = {t.name for t in tags}
        # A reference to something declared but invalid was reported where it is declared;
        # only references to names declared nowhere are errors of their own.
        declared_tags = declared(raw, "tags")
        rules = self.rules(raw, tag_names, declared_tags)
        mes = self.mes(raw)
        trend = self.table(raw, "trend")
        pens = trend.get("pens", [])
        if not isinstance(pens, list):
            self.error(("trend", "pens"), "trend.pens must be a list of tag names")
            pens = []
        for pen in pens:
            if pen not in declared_tags:
                self.error(("trend", "pens"), f"trend.pens names unknown tag {pen!r}")
        window = self.number(trend, ("trend", "window"), 300.0, 10.0, 86_400.0)
        shift_starts = self.shifts(raw)
        historian = self.historian(raw)
        security = parse_security(self, raw)
        alarms = parse_alarms(self, raw, tags, {d.name for d in devices})
        alarm_settings = parse_alarm_settings(self, raw)
        if self.issues:
            raise ConfigError(self.issues)
        return Site(
            name=name,
            devices=tuple(devices),
            tags=tuple(tags),
            production_rules=tuple(rules),
            mes=mes,
            trend_pens=tuple(str(p) for p in pens if p in tag_names),
            trend_window=window,
            scan_classes=tuple(scan_classes.items()),
            shift_starts=shift_starts,
            historian=historian,
            security=security,
            alarms=tuple(alarms),
            alarm_settings=alarm_settings,
            source=self.file,
        )

    def shifts(self, raw: dict[str, Any]) -> tuple[dt.time, ...]:
        """``[shifts] starts = ["06:00", "14:00", "22:00"]``: each runs until the next."""
        table = self.table(raw, "shifts")
        self.unknown_keys(table, ("shifts",), frozenset({"starts"}), "[shifts]")
        starts = table.get("starts", [])
        example = 'e.g. starts = ["06:00", "14:00", "22:00"]'
        if not isinstance(starts, list):
            self.error(("shifts", "starts"), f"shifts.starts must be a list of times, {example}")
            return ()
        times: list[dt.time] = []
        for text in starts:
            try:
                times.append(parse_shift_start(str(text)))
            except ValueError as exc:
                self.error(("shifts", "starts"), f"shifts.starts: {exc}; {example}")
        if len(set(times)) != len(times):
            self.error(("shifts", "starts"), "shifts.starts lists the same time twice")
        return tuple(sorted(times))

    def historian(self, raw: dict[str, Any]) -> HistorianSettings:
        """``[historian]``: days raw samples and minute roll-ups are kept; heartbeat seconds."""
        table = self.table(raw, "historian")
        self.unknown_keys(table, ("historian",), _HISTORIAN_KEYS, "[historian]")
        default = HistorianSettings()
        before = len(self.issues)
        raw_days = self.number(
            table, ("historian", "raw_days"), default.raw_days, 1, 3650, integer=True
        )
        rollup_days = self.number(
            table, ("historian", "rollup_days"), default.rollup_days, 1, 7300, integer=True
        )
        # compared only when both are valid: a bad one was reported already
        if len(self.issues) == before and rollup_days < raw_days:
            given = "rollup_days" in table
            self.error(
                ("historian", "rollup_days" if given else "raw_days"),
                f"historian.rollup_days = {rollup_days:g}{'' if given else ' (the default)'} "
                f"is shorter than historian.raw_days = {raw_days:g}; roll-ups are kept at "
                "least as long as raw samples: allowed rollup_days >= raw_days",
            )
        heartbeat = self.number(table, ("historian", "heartbeat"), default.heartbeat, 1.0, 3600.0)
        return HistorianSettings(int(raw_days), int(rollup_days), heartbeat)

    def scan_classes(self, raw: dict[str, Any]) -> dict[str, float]:
        """``[scan_classes]``: name = seconds, e.g. fast = 0.1."""
        table = self.table(raw, "scan_classes")
        classes: dict[str, float] = {}
        for name in table:
            if not NAME.match(name):
                self.error(("scan_classes", name), f"scan class name {name!r} is not valid")
                continue
            classes[name] = self.number(table, ("scan_classes", name), 1.0, 0.05, 3600.0)
        return classes

    def rules(
        self, raw: dict[str, Any], tag_names: set[str], declared_tags: set[str]
    ) -> list[ProductionCountRule]:
        rules: list[ProductionCountRule] = []
        seen: set[str] = set()
        for i, entry in enumerate(self.array(raw, "production")):
            path: tuple[str | int, ...] = ("production", i)
            self.unknown_keys(entry, path, _RULE_KEYS, "[[production]]")
            name = self.name(entry, path, "production rule", seen)
            counter = entry.get("counter_tag")
            reject = entry.get("reject_tag", "")
            ok = counter in tag_names and (not reject or reject in tag_names)
            if counter not in declared_tags:
                self.error(
                    (*path, "counter_tag"),
                    f"production rule {name!r}: counter_tag {counter!r} is not a defined tag",
                )
            if reject and reject not in declared_tags:
                self.error(
                    (*path, "reject_tag"),
                    f"production rule {name!r}: reject_tag {reject!r} is not a defined tag",
                )
            period = self.number(entry, (*path, "period"), 3600.0, 1.0, 86_400.0)
            if name is None or not ok:
                continue
            rules.append(
                ProductionCountRule(
                    name,
                    str(counter),
                    period,
                    str(reject),
                    self.text(entry, (*path, "unit"), "pcs"),
                    self.text(entry, (*path, "line")),
                )
            )
        return rules

    def mes(self, raw: dict[str, Any]) -> MesLink | None:
        if "mes" not in raw:
            return None
        entry = self.table(raw, "mes")
        self.unknown_keys(entry, ("mes",), _MES_KEYS, "[mes]")
        url = entry.get("url")
        secret = entry.get("api_key_secret")
        if not isinstance(url, str) or not re.match(r"^https?://", url):
            self.error(("mes", "url"), "mes.url must be an http:// or https:// URL")
            return None
        if not isinstance(secret, str) or not secret:
            self.error(
                ("mes", "api_key_secret"),
                "mes.api_key_secret must name the keyring entry holding the API key "
                "(the key itself never goes in the config)",
            )
            return None
        auth = entry.get("auth", "api_key")
        if auth not in _MES_AUTH:
            self.error(("mes", "auth"), f"mes.auth must be one of {', '.join(_MES_AUTH)} "
                                        f"(not {auth!r})")
            return None
        needed = {"basic": ("username",), "oauth2": ("token_url", "client_id")}.get(auth, ())
        for key in needed:
            if not isinstance(entry.get(key), str) or not entry.get(key):
                self.error(("mes", key), f"mes.auth = {auth!r} needs mes.{key}")
                return None
        token_url = entry.get("token_url", "")
        if auth == "oauth2" and not re.match(r"^https?://", token_url):
            self.error(("mes", "token_url"), "mes.token_url must be an http:// or https:// URL")
            return None
        return MesLink(
            url,
            secret,
            timeout=self.number(entry, ("mes", "timeout"), 5.0, 0.5, 120.0),
            retry_interval=self.number(entry, ("mes", "retry_interval"), 2.0, 0.1, 3600.0),
            verify_tls=self.flag(entry, ("mes", "verify_tls"), default=True),
            auth=auth,
            username=self.text(entry, ("mes", "username")),
            token_url=token_url,
            client_id=self.text(entry, ("mes", "client_id")),
            scope=self.text(entry, ("mes", "scope")),
        )
