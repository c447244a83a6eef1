"""Alembic migrations for the SQL adapter; run them with `settlement_adapters.sqla.migrate`."""
