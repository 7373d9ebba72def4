"""Post-deployment checks against the releases module, and the monitoring facts gates read."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from charter.context import Ctx
from charter.kit.errors import PermissionDenied
from charter.kit.principal import SYSTEM
from charter.ledger.models import LedgerEntry
from charter.monitoring import postdeploy
from charter.monitoring.gate_facts import gate_facts
from charter.monitoring.metrics import service as ingest
from charter.monitoring.models import PostDeployWatch
from charter.monitoring.schemas import PostDeployConfigIn
from charter.monitoring.sweeps import sweep
from charter.notifications.models import Notification
from charter.releases.models import Deployment, DeploymentPointer, Release
from tests.releases.conftest import CHATBOT, make_system, promote, submit

from .conftest import SEED_HEALTHY, points


@pytest.fixture
def chatbot(actors: Any) -> Any:
    return make_system(actors)


def configure(actors: Any, auto: bool, role: str = "governance") -> None:
    postdeploy.set_config(
        actors.ctx(role),
        CHATBOT,
        PostDeployConfigIn(
            windows={"sandbox": 24, "pilot": 24, "production": 72}, severity="critical", auto_rollback=auto
        ),
    )


def two_releases_in_sandbox(actors: Any, clock: Any) -> None:
    submit(actors, tag="v1")
    submit(actors, tag="v2")
    promote(actors, 1, "sandbox")
    clock.advance(hours=1)
    promote(actors, 2, "sandbox")
    clock.advance(minutes=10)


def push(actors: Any, values: dict[str, float], batch_id: str) -> Any:
    return ingest.ingest(actors.ctx("engineer"), CHATBOT, {"batch_id": batch_id, "points": points(values)})


def deployed_version(actors: Any, chatbot: Any) -> int:
    pointer = actors.session.get(DeploymentPointer, (chatbot.id, "sandbox"))
    return actors.session.get(Release, pointer.release_id).version  # type: ignore[no-any-return]


def test_a_critical_alert_after_promotion_puts_the_release_at_risk_without_rolling_back(actors, chatbot, clock) -> None:
    configure(actors, auto=False)
    two_releases_in_sandbox(actors, clock)
    push(actors, SEED_HEALTHY, "ok")
    push(actors, {**SEED_HEALTHY, "accuracy": 0.8}, "bad")
    watch = actors.session.execute(select(PostDeployWatch)).scalar_one()
    assert (watch.release_version, watch.stage, watch.status) == (2, "sandbox", "at_risk")
    assert watch.ends_at == watch.started_at + timedelta(hours=24) and watch.alerts
    assert deployed_version(actors, chatbot) == 2  # policy: no automatic rollback
    actions = actors.session.execute(select(LedgerEntry.action).where(LedgerEntry.entity_type == "release")).scalars()
    assert "release.at_risk" in list(actions)
    # the system owner is told, through the notifications service
    notes = actors.session.execute(select(Notification).where(Notification.event_type == "release.at_risk")).scalars()
    personal = [n for n in notes if n.user_id is not None]
    assert [n.user_id for n in personal] == [chatbot.owner_id]
    assert "release 2 at risk in sandbox" in personal[0].subject


def test_where_the_policy_says_so_the_release_is_rolled_back_automatically(actors, chatbot, clock) -> None:
    configure(actors, auto=True)
    two_releases_in_sandbox(actors, clock)
    push(actors, {**SEED_HEALTHY, "accuracy": 0.8}, "bad")
    watch = actors.session.execute(select(PostDeployWatch)).scalar_one()
    assert watch.status == "rolled_back" and "rolled back automatically" in (watch.rollback_result or "")
    assert deployed_version(actors, chatbot) == 1
    move = actors.session.execute(select(Deployment).order_by(Deployment.id.desc()).limit(1)).scalar_one()
    assert (move.kind, move.actor) == ("rollback", SYSTEM.actor)
    assert move.reason.startswith("automatic rollback by the post-deployment check")


def test_a_warning_does_not_put_a_release_at_risk_when_the_policy_watches_critical(actors, chatbot, clock) -> None:
    configure(actors, auto=True)
    two_releases_in_sandbox(actors, clock)
    push(actors, {**SEED_HEALTHY, "latency_ms": 1500}, "slow")  # latency-high is a warning
    ctx = Ctx(session=actors.session, principal=SYSTEM, clock=clock, settings=actors.settings)
    sweep(ctx)
    assert actors.session.execute(select(PostDeployWatch.status)).scalar_one() == "watching"
    clock.advance(hours=25)
    push(actors, SEED_HEALTHY, "later")
    assert sweep(ctx)["post_deploy"]["passed"] == 1
    assert deployed_version(actors, chatbot) == 2


def test_only_governance_turns_automatic_rollback_on(actors, chatbot) -> None:
    with pytest.raises(PermissionDenied, match="policies:manage"):
        configure(actors, auto=True, role="engineer")
    postdeploy.set_config(actors.ctx("engineer"), CHATBOT, PostDeployConfigIn(windows={"pilot": 12}))
    assert postdeploy.read_config(actors.ctx("viewer"), CHATBOT).windows == {"pilot": 12}


def test_gate_facts_report_alerts_health_drift_and_quiet_time(actors, chatbot, clock) -> None:
    facts = gate_facts(actors.session, chatbot.id, clock.now())
    assert (facts["has_data"], facts["minutes_since_last_data"], facts["health"]) == (False, -1.0, "unknown")
    push(actors, {**SEED_HEALTHY, "accuracy": 0.8, "latency_ms": 1500}, "bad")
    clock.advance(minutes=30)
    facts = gate_facts(actors.session, chatbot.id, clock.now())
    assert facts["firing_critical"] == 1 and facts["firing_warning"] == 1 and facts["open_alerts"] == 2
    assert facts["firing_rules"] == ["accuracy-low", "latency-high"]
    assert facts["health"] == "critical" and facts["minutes_since_last_data"] == 30.0
    assert facts["drift_checked"] is False and facts["drift_detected"] is False


def test_monitoring_facts_are_registered_with_the_gate_policies() -> None:
    from charter.policy.facts import providers

    row = next(p for p in providers() if p["name"] == "monitoring")
    assert row["source"].startswith("provider charter.monitoring.gate_facts")
    assert row["schema"]["firing_critical"] == "int" and row["schema"]["drift_detected"] == "bool"
