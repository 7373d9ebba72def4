from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from charter.kit.db import Base
from charter.kit.registry import load_models

load_models()  # every table on Base.metadata

config = context.config
target_metadata = Base.metadata
# When generating a migration for one module group (scripts/new_migration.py), only its tables are compared.
only_tables: set[str] | None = config.attributes.get("only_tables")


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    if only_tables is None:
        return True
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
    return table in only_tables


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://")
    with engine.begin() as conn:
        _run(conn)


run()
