"""End-user feedback and per-system feedback settings: post feedback (a flag enters the review queues), and a
flag-rate spike opens an incident (through the incidents module, deduplicated while one is live)."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from charter.feedback import rules
from charter.feedback.ingest import enqueue_rows
from charter.feedback.keys import KeyPrincipal
from charter.feedback.models import Feedback, FeedbackSettings, Interaction
from charter.feedback.schemas import MAX_COMMENT, FeedbackIn, SettingsIn, SettingsRead
from charter.feedback.store import db_time, get_interaction, live_spike, queues_of, settings_of, spike_key
from charter.incidents import service as incidents
from charter.incidents.models import Incident
from charter.incidents.schemas import IncidentCreate
from charter.incidents.store import automatic
from charter.inventory.models import AISystem
from charter.inventory.queries import get_system
from charter.kit.errors import PayloadTooLarge, PermissionDenied, StaleVersion, ValidationFailed
from charter.ledger.chain import snapshot

if TYPE_CHECKING:
    from charter.context import Ctx

DEFAULTS = FeedbackSettings(
    pii_guard="off", retention_days=90, spike_min_flags=10, spike_window_minutes=10, spike_rate=0.05,
    spike_severity="HIGH", version=0,
)  # fmt: skip


def settings_read(system: AISystem, conf: FeedbackSettings | None) -> SettingsRead:
    c = conf or DEFAULTS
    return SettingsRead(
        system=system.key,
        pii_guard=c.pii_guard,
        retention_days=c.retention_days,
        spike_min_flags=c.spike_min_flags,
        spike_window_minutes=c.spike_window_minutes,
        spike_rate=c.spike_rate,
        spike_severity=c.spike_severity,
        version=c.version,
    )


def get_settings(ctx: Ctx, system_key: str) -> SettingsRead:
    ctx.require("feedback:read")
    system = get_system(ctx.session, system_key)
    return settings_read(system, settings_of(ctx.session, system.id))


def put_settings(ctx: Ctx, system_key: str, data: SettingsIn) -> SettingsRead:
    ctx.require("feedback:manage")
    system = get_system(ctx.session, system_key)
    conf = settings_of(ctx.session, system.id)
    current = conf.version if conf is not None else 0
    if data.version is not None and data.version != current:
        raise StaleVersion(f"feedback settings of '{system.key}'", data.version, current)
    if conf is None:
        conf = FeedbackSettings(
            system_id=system.id,
            **{f: getattr(DEFAULTS, f) for f in ("pii_guard", "retention_days", "spike_min_flags")},
            **{f: getattr(DEFAULTS, f) for f in ("spike_window_minutes", "spike_rate", "spike_severity")},
            updated_at=ctx.now(),
            updated_by=ctx.principal.actor,
            version=1,
        )
        ctx.session.add(conf)
        before = None
    else:
        before = snapshot(conf)
        conf.version += 1
    for field, value in data.model_dump(exclude_unset=True, exclude={"version"}).items():
        if value is not None:
            setattr(conf, field, value)
    conf.updated_at = ctx.now()
    conf.updated_by = ctx.principal.actor
    ctx.session.flush()
    ctx.record("feedback_settings.changed", "system", system.key, before=before, after=snapshot(conf))
    return settings_read(system, conf)


# ----------------------------------------------------------------------------- end-user feedback


def post_feedback(ctx: Ctx, system_key: str, data: FeedbackIn, key: KeyPrincipal | None = None) -> Feedback:
    """Store feedback; a flag (thumbs down or a category) on an interaction enters the system's review queues
    that take flags; a flag-rate spike opens an incident."""
    ctx.require("feedback:write")
    system = get_system(ctx.session, system_key)
    if key is not None and key.system_id != system.id:
        raise PermissionDenied("this feedback key belongs to another system; it may post feedback only for its own")
    if len(data.comment) > MAX_COMMENT:
        raise PayloadTooLarge(f"the comment has {len(data.comment)} characters; at most {MAX_COMMENT}")
    if data.rating is None and data.category is None and not data.comment:
        raise ValidationFailed(
            "empty feedback: give a rating (up, down), a category (inaccurate, biased, harmful, other) or a comment"
        )
    interaction = get_interaction(ctx.session, system.id, data.interaction) if data.interaction else None
    flagged = rules.is_flag(data.rating, data.category)
    now = ctx.now()
    fb = Feedback(
        system_id=system.id,
        interaction_id=interaction.id if interaction else None,
        rating=data.rating,
        category=data.category,
        comment=data.comment,
        flagged=flagged,
        reporter=ctx.principal.actor,
        reporter_id=ctx.principal.user_id,
        key_id=key.key_id if key else None,
        created_at=now,
    )
    ctx.session.add(fb)
    ctx.session.flush()
    ctx.record(
        "feedback.received",
        "feedback",
        fb.id,
        after={"system": system.key, "interaction": data.interaction, "rating": fb.rating, "category": fb.category},
    )
    if flagged and interaction is not None:
        rows = [
            (
                q.id,
                interaction.id,
                "flag",
                rules.reviews_needed(q.double_review_rate, f"{q.key}:{interaction.external_id}"),
                db_time(ctx.session, now),
                db_time(ctx.session, now + timedelta(minutes=q.sla_minutes)) if q.sla_minutes else None,
            )
            for q in queues_of(ctx.session, system.id)
            if q.sampling.get("flags", True)
        ]
        enqueue_rows(ctx.session, rows)
    if flagged:
        check_spike(ctx, system)
    return fb


def check_spike(ctx: Ctx, system: AISystem) -> Incident | None:
    """Open an incident when flags in the window reach the threshold (once while it is live). The counts are
    bounded (LIMIT), so the check stays cheap during a burst; once the incident is open it is one lookup."""
    if live_spike(ctx.session, system) is not None or system.stage == "retired":
        return None
    conf = settings_of(ctx.session, system.id) or DEFAULTS
    since = ctx.now() - timedelta(minutes=conf.spike_window_minutes)
    cap = max(conf.spike_min_flags, 1) * 100
    flags = _bounded_count(ctx, select(Feedback.id).where(
        Feedback.system_id == system.id, Feedback.flagged.is_(True), Feedback.created_at >= since), cap)  # fmt: skip
    if flags < conf.spike_min_flags:
        return None
    limit = math.ceil(flags / conf.spike_rate) + 1 if conf.spike_rate > 0 else 1
    seen = _bounded_count(ctx, select(Interaction.id).where(
        Interaction.system_id == system.id, Interaction.received_at >= since), limit)  # fmt: skip
    if not rules.is_spike(flags, seen, conf.spike_min_flags, conf.spike_rate):
        return None
    share = f" ({flags / seen:.0%} of {seen} interactions)" if seen else ""
    return incidents.open_incident(
        automatic(ctx),
        IncidentCreate(
            title=f"User flag-rate spike on {system.key}: {flags} flags in {conf.spike_window_minutes} min"[:300],
            description=(
                f"{flags} user flags in the last {conf.spike_window_minutes} minutes{share}; threshold: "
                f"{conf.spike_min_flags} flags and {conf.spike_rate:.0%} of interactions. See the feedback inbox."
            ),
            system=system.key,
            severity=conf.spike_severity,
            source="user_feedback",
        ),
        dedup_key=spike_key(system),
    )


def _bounded_count(ctx: Ctx, stmt: object, limit: int) -> int:
    sub = stmt.limit(limit).subquery()  # type: ignore[attr-defined]
    return int(ctx.session.execute(select(func.count()).select_from(sub)).scalar_one())
