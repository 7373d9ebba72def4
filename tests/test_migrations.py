"""Migrations and models must agree: a fresh database migrated to head has exactly the models' schema."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect, text

from charter.kit.db import Base, make_engine
from charter.kit.migrate import migration_status, upgrade
from charter.kit.registry import load_models

load_models()  # every table on Base.metadata


def _fresh_engine(db_url: str, tmp_path) -> tuple[Engine, str | None]:  # type: ignore[no-untyped-def]
    if db_url.startswith("sqlite"):
        return make_engine(f"sqlite:///{tmp_path / 'fresh.db'}"), None
    base = create_engine(db_url, isolation_level="AUTOCOMMIT")
    name = base.url.database + "_fresh"
    with base.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base.dispose()
    return make_engine(base.url.set(database=name).render_as_string(hide_password=False)), name


def test_migrations_create_exactly_the_models_schema(db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine, fresh = _fresh_engine(db_url, tmp_path)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            assert migration_status(conn)["current"]
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
            tables = set(inspect(conn).get_table_names())
        assert diff == [], f"models and migrations differ; generate a migration: {diff}"
        assert set(Base.metadata.tables) <= tables
    finally:
        engine.dispose()
        if fresh:
            admin = create_engine(db_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{fresh}"'))
            admin.dispose()
