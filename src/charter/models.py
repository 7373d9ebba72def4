"""Imports every domain's models so Base.metadata knows all tables (Alembic, tests)."""

import importlib.util

from charter.modules import DOMAINS, load

for _domain in DOMAINS:
    load(_domain, "models")

# The web console keeps its sessions and login throttling in tables of its own.
if importlib.util.find_spec("charter.web.models") is not None:
    importlib.import_module("charter.web.models")
