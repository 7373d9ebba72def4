"""Imports every domain's models so Base.metadata knows all tables (Alembic, tests)."""

from charter.access import models as access_models  # noqa: F401
from charter.inventory import models as inventory_models  # noqa: F401
from charter.ledger import models as ledger_models  # noqa: F401
