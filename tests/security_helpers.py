"""Actors and guards for tests of services that are not about security itself."""

from __future__ import annotations

from hmi.core.security import Actor, Role, SecuritySettings
from hmi.services.guard import Guard

GUARD = Guard(SecuritySettings(), None)  # the default permission map; refusals not audited


def operator(name: str = "alice") -> Actor:
    return Actor(name, Role.OPERATOR, name.title())


def engineer(name: str = "carol") -> Actor:
    return Actor(name, Role.ENGINEER, name.title())


def shift_lead(name: str = "sam") -> Actor:
    return Actor(name, Role.SHIFT_LEAD, name.title())
