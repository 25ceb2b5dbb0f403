"""Alembic migrations of the HMI database; hmi.store.database runs them on open."""
