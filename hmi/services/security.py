"""The security services of one station, wired once: the audit trail, the user store,
login, the permission guard and user management, on one database with one clock.

The runtime, the `hmi` station commands and the tests build them here, so every path
gets the same lockout, the same audit trail and the same guard.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from hmi.core.security import SecuritySettings
from hmi.security.authentication import Authenticator
from hmi.services.guard import Guard
from hmi.services.users import UserService
from hmi.store.audit import AuditRepository, Clock
from hmi.store.database import Database
from hmi.store.users import UserRepository


@dataclass(frozen=True)
class StationSecurity:
    settings: SecuritySettings
    audit: AuditRepository
    user_store: UserRepository
    auth: Authenticator
    guard: Guard
    users: UserService

    @classmethod
    def build(cls, database: Database, settings: SecuritySettings,
              clock: Clock = time.time) -> StationSecurity:
        audit = AuditRepository(database, clock)
        user_store = UserRepository(database, clock)
        auth = Authenticator(user_store, audit, settings, clock)
        guard = Guard(settings, auth, clock)
        return cls(settings, audit, user_store, auth, guard,
                   UserService(user_store, guard, auth))
