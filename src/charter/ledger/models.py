from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import DDL, JSON, BigInteger, Dialect, Index, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from charter.kit.db import Base
from charter.ledger.rules import canonical


class CanonicalJSON(TypeDecorator[Any]):
    """A JSON column whose stored text is the canonical JSON the entry hash covers.

    The database type stays JSON (PostgreSQL `json` keeps the text exactly as given). Storing the canonical
    text lets verification hash the stored text as it is, instead of parsing and re-encoding every entry;
    values still read back as Python objects. None is stored as SQL NULL.
    """

    impl = JSON
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], str | bytes | None]:
        # Replaces the JSON type's serializer (json.dumps with spaces, unsorted keys) for this column only.
        sqlite = dialect.name == "sqlite"

        def process(value: Any) -> str | bytes | None:
            if value is None:
                return None
            text = canonical(value)
            if sqlite and isinstance(value, int | float) and not isinstance(value, bool):
                # A JSON column has NUMERIC affinity in SQLite: the text "1.0" would be stored as the integer 1.
                # Stored as a BLOB it is kept byte for byte (and still reads back through json.loads).
                return text.encode()
            return text

        return process


class LedgerEntry(Base):
    """One append-only audit entry. Never updated or deleted (PostgreSQL enforces it by trigger)."""

    __tablename__ = "ledger_entries"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(BigInteger, "postgresql"), primary_key=True, autoincrement=False
    )
    ts: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    entity_type: Mapped[str] = mapped_column(String(60))
    entity_id: Mapped[str] = mapped_column(String(200))
    before: Mapped[Any] = mapped_column(CanonicalJSON, nullable=True)
    after: Mapped[Any] = mapped_column(CanonicalJSON, nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)

    __table_args__ = (
        Index("ix_ledger_entity", "entity_type", "entity_id"),
        Index("ix_ledger_actor", "actor"),
        Index("ix_ledger_ts", "ts"),
    )


class LedgerHead(Base):
    """The chain head, one row. Appenders lock it (SELECT ... FOR UPDATE on PostgreSQL)."""

    __tablename__ = "ledger_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64))


class LedgerCheckpoint(Base):
    """An Ed25519 signature over (size, head hash)."""

    __tablename__ = "ledger_checkpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, index=True)
    head_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    key_id: Mapped[str] = mapped_column(String(64))
    public_key: Mapped[str] = mapped_column(String(100))
    signature: Mapped[str] = mapped_column(String(200))


# PostgreSQL: the ledger rejects UPDATE and DELETE, even from the application.
# The migration creates the same function and trigger; this keeps create_all() (tests) equal.
PG_APPEND_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION charter_ledger_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'ledger_entries is append-only: % refused', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql
"""
PG_APPEND_ONLY_TRIGGER = """
CREATE TRIGGER ledger_entries_append_only
BEFORE UPDATE OR DELETE OR TRUNCATE ON ledger_entries
FOR EACH STATEMENT EXECUTE FUNCTION charter_ledger_append_only()
"""

event.listen(
    LedgerEntry.__table__,
    "after_create",
    DDL(  # type: ignore[no-untyped-call]
        PG_APPEND_ONLY_FUNCTION
    ).execute_if(dialect="postgresql"),
)
event.listen(
    LedgerEntry.__table__,
    "after_create",
    DDL(  # type: ignore[no-untyped-call]
        PG_APPEND_ONLY_TRIGGER
    ).execute_if(dialect="postgresql"),
)

event.listen(
    LedgerHead.__table__,
    "after_create",
    DDL(  # type: ignore[no-untyped-call]
        "INSERT INTO ledger_head (id, seq, hash) VALUES (1, 0, '" + "0" * 64 + "')"
    ),
)
