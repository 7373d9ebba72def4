"""Imports every domain's models so Base.metadata knows all tables (Alembic, tests)."""

from charter.modules import DOMAINS, load

for _domain in DOMAINS:
    load(_domain, "models")
