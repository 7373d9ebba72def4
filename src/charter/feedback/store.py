"""Shared lookups of the feedback module (no permission checks: callers check)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from charter.feedback.models import FeedbackSettings, Interaction, QueueItem, ReviewQueue
from charter.incidents.models import Incident
from charter.incidents.rules import LIVE
from charter.kit.errors import NotFound

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from charter.inventory.models import AISystem


def sql(session: Session, text: str) -> str:
    """Driver-level statements use '?' placeholders; psycopg wants '%s'."""
    return text if session.get_bind().dialect.name == "sqlite" else text.replace("?", "%s")


def is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def db_time(session: Session, ts: datetime) -> Any:
    """A UTC datetime as the driver should receive it (SQLite: naive text, as SQLAlchemy stores it)."""
    if is_sqlite(session):
        return ts.replace(tzinfo=None).isoformat(" ", "microseconds")
    return ts


def settings_of(session: Session, system_id: int) -> FeedbackSettings | None:
    return session.get(FeedbackSettings, system_id)


def get_interaction(session: Session, system_id: int, external_id: str) -> Interaction:
    found = session.execute(
        select(Interaction).where(Interaction.system_id == system_id, Interaction.external_id == external_id)
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(f"no interaction '{external_id}' for this system; send it first (POST .../interactions)")
    return found


def get_queue(session: Session, key: str) -> ReviewQueue:
    queue = session.execute(select(ReviewQueue).where(ReviewQueue.key == key)).scalar_one_or_none()
    if queue is None:
        raise NotFound(f"no review queue '{key}' (list them with 'charter queue list')")
    return queue


def get_item(session: Session, item_id: int) -> QueueItem:
    item = session.get(QueueItem, item_id)
    if item is None:
        raise NotFound(f"no queue item {item_id}")
    return item


def queues_of(session: Session, system_id: int) -> list[ReviewQueue]:
    return list(session.scalars(select(ReviewQueue).where(ReviewQueue.system_id == system_id).order_by(ReviewQueue.id)))


def spike_key(system: AISystem) -> str:
    return f"feedback-spike:{system.id}"


def live_spike(session: Session, system: AISystem) -> Incident | None:
    """The live incident a flag-rate spike of this system opened, if any."""
    return session.execute(
        select(Incident)
        .where(Incident.dedup_key == spike_key(system), Incident.status_category.in_(sorted(LIVE)))
        .limit(1)
    ).scalar_one_or_none()
