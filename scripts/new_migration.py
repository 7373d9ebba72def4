"""Generate an Alembic migration for the tables of some domains (developer tool).

    .venv/bin/python scripts/new_migration.py 0002 "risk register, procedures, evidence" risk procedures evidence

Compares the models of the named domains with a database migrated to the current head (a temporary
SQLite file) and writes src/charter/migrations/versions/<rev>_<message>.py. Review the result.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command

from charter.kit.db import Base, make_engine
from charter.kit.migrate import alembic_config, upgrade
from charter.kit.registry import load_models

load_models()  # every table on Base.metadata


def main() -> None:
    rev, message, *domains = sys.argv[1:]
    tables = {
        t.name
        for t in Base.metadata.sorted_tables
        if any(getattr(m.class_, "__module__", "").startswith(f"charter.{d}.") for d in domains for m in _mappers(t))
    }
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'gen.db'}"
        engine = make_engine(url)
        upgrade(engine)
        with engine.begin() as conn:
            cfg = alembic_config(connection=conn)
            cfg.attributes["only_tables"] = tables
            command.revision(cfg, message=message, autogenerate=True, rev_id=rev)
    print(f"tables: {sorted(tables)}")


def _mappers(table):  # type: ignore[no-untyped-def]
    return [m for m in Base.registry.mappers if table in m.tables]


if __name__ == "__main__":
    main()
