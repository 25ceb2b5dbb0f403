"""The one MetaData every table of the store joins, and the rules all areas follow.

Times are POSIX seconds (REAL), as everywhere in hmi.core, so SQLite and PostgreSQL
store the same values and no timezone is ever guessed; the audit trail alone keeps
integer microseconds (its hash chain covers the time: hmi.core.audit). The schema is created and
changed only through the Alembic revisions in hmi/store/migrations/versions: a new or
changed table is a new revision, never a silent edit. Names: tables are plural nouns of
their area (``historian_*``, ``audit_*``), checks ``ck_<table>_<column>``, indexes
``ix_<table>_<what>``, both named explicitly so a revision can drop them by name.

This module imports no area: each area module imports it, and the package imports
every area, so whoever imports any part of hmi.store.schema sees the whole metadata.
"""

from __future__ import annotations

from sqlalchemy import MetaData

metadata = MetaData()
