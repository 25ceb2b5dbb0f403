"""The store's tables: one MetaData (``metadata``) and one module per area.

``alarms`` (states, the journal), ``historian`` (tags, samples, minutes), ``production``
(events, confirmations, the MES outbox), ``security`` (users, the audit trail). Import a
table from its area module, the MetaData from ``hmi.store.schema.metadata``. Importing
this package imports every area, so the MetaData holds every table whichever module a
caller imports first (Alembic compares against all of it, ``open_database`` checks all of
it exists). An area imports only ``metadata``, never another area: a foreign key names
its target as a string.
"""

from __future__ import annotations

from hmi.store.schema import alarms, historian, production, security

__all__ = ["alarms", "historian", "production", "security"]
