"""Reading the audit trail: who may (``view_audit``), and an export is itself audited.

Synchronous (the CLI calls it directly; the GUI in a thread). ``actor`` is asked at
each call, so the GUI's reader follows whoever is logged in now.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hmi.core.audit import AuditEntry, AuditRecord, ChainReport
from hmi.core.security import Action, Actor
from hmi.services.guard import Guard
from hmi.store.audit import AuditFilter, AuditRepository

AUDIT_EXPORTED = "audit_exported"


class AuditService:
    def __init__(self, audit: AuditRepository, guard: Guard,
                 actor: Callable[[], Actor | None]) -> None:
        self._audit = audit
        self._guard = guard
        self._actor = actor

    def rows(self, where: AuditFilter) -> list[AuditRecord]:
        self._guard.require(self._actor(), Action.VIEW_AUDIT, "audit trail")
        return self._audit.rows(where)

    def users_and_actions(self) -> tuple[list[str], list[str]]:
        self._guard.require(self._actor(), Action.VIEW_AUDIT, "audit trail")
        return self._audit.users_and_actions()

    def verify(self) -> ChainReport:
        """OK or the first broken row: no rows' content is shown, so anyone may ask."""
        return self._audit.verify()

    def export_csv(self, path: Path, where: AuditFilter) -> int:
        who = self._guard.require(self._actor(), Action.VIEW_AUDIT, "audit trail")
        count = self._audit.export_csv(path, where)
        span = " to ".join(str(t) for t in (where.start, where.end) if t is not None)
        self._audit.record(AuditEntry(
            who.name, who.role, AUDIT_EXPORTED, str(path), new_value=f"{count} rows",
            reason="; ".join(p for p in (span and f"time {span}", where.user and
                                         f"user {where.user}", where.action and
                                         f"action {where.action}") if p)))
        return count
