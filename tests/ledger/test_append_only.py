"""On PostgreSQL the ledger table refuses UPDATE, DELETE and TRUNCATE, even from the application."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from charter.context import Ctx
from tests.conftest import is_postgres

pytestmark = pytest.mark.skipif(not is_postgres(), reason="the append-only trigger exists on PostgreSQL only")


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_entries SET actor = 'user:mallory' WHERE seq = 3",
        "DELETE FROM ledger_entries WHERE seq = 3",
        "TRUNCATE ledger_entries",
    ],
)
def test_postgres_refuses_to_change_or_remove_ledger_entries(chain: Ctx, statement: str) -> None:
    session = chain.session
    savepoint = session.begin_nested()
    with pytest.raises(DBAPIError, match="ledger_entries is append-only") as refused:
        session.execute(text(statement))
    assert refused.value.orig is not None and getattr(refused.value.orig, "sqlstate", None) == "42501"
    savepoint.rollback()
    assert session.execute(text("SELECT count(*) FROM ledger_entries WHERE actor = 'user:admin'")).scalar_one() == 12


def test_appending_is_still_allowed(chain: Ctx) -> None:
    chain.record("system.updated", "system", "s", after={"k": 1})
    assert chain.session.execute(text("SELECT max(seq) FROM ledger_entries")).scalar_one() == 13
