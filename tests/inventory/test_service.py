"""Inventory use cases on a real database: ledger entries, permissions, bad input, listing."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from charter.inventory import queries, service
from charter.inventory.queries import SORTABLE, SystemFilter
from charter.inventory.rules import LIFECYCLE_STAGES, TRANSITIONS
from charter.inventory.schemas import SystemCreate, SystemUpdate, Transition
from charter.kit.errors import Conflict, NotFound, PermissionDenied, StaleVersion, ValidationFailed
from tests.inventory.conftest import ledger_entries, ledger_size, stored, system_body

# ----------------------------------------------------------------------------- the ledger


def test_registering_appends_one_entry_with_the_new_system(actors, register) -> None:
    register("support-bot", role="engineer")
    [entry] = ledger_entries(actors.session, "support-bot")
    assert entry.action == "system.registered"
    assert entry.actor == "user:engineer"
    assert entry.before is None
    assert entry.after["key"] == "support-bot"
    assert entry.after["stage"] == "proposed"
    assert entry.after["owner_id"] == actors.users["engineer"].id
    assert entry.after["version"] == 1


def test_an_update_records_before_after_and_reason(actors, register) -> None:
    register("support-bot")
    service.update_system(
        actors.ctx("engineer"),
        "support-bot",
        SystemUpdate(version=1, name="Support assistant", reason="renamed by product"),
    )
    entry = ledger_entries(actors.session, "support-bot")[-1]
    assert entry.action == "system.updated"
    assert entry.reason == "renamed by product"
    assert entry.before["name"] == "Support bot" and entry.before["version"] == 1
    assert entry.after["name"] == "Support assistant" and entry.after["version"] == 2


def test_a_stage_move_records_the_old_and_new_stage_and_reason(actors, register) -> None:
    register("support-bot")
    actors.clock.advance(hours=1)
    moved = service.transition_system(
        actors.ctx("engineer"), "support-bot", Transition(to="sandbox", version=1, reason="first trial")
    )
    assert moved.stage == "sandbox" and moved.version == 2
    assert moved.stage_changed_at == actors.clock.now()
    entry = ledger_entries(actors.session, "support-bot")[-1]
    assert entry.action == "system.stage.sandbox"
    assert (entry.before["stage"], entry.after["stage"]) == ("proposed", "sandbox")
    assert entry.reason == "first trial"
    assert entry.ts == actors.clock.now()


def test_classifying_records_tier_and_reason(actors, register) -> None:
    register("claims-triage")
    service.update_system(
        actors.ctx("governance"),
        "claims-triage",
        SystemUpdate(version=1, risk_tier="high", risk_tier_reason="Annex III: access to essential services"),
    )
    entry = ledger_entries(actors.session, "claims-triage")[-1]
    assert (entry.before["risk_tier"], entry.after["risk_tier"]) == ("unclassified", "high")
    assert entry.after["risk_tier_reason"] == "Annex III: access to essential services"
    assert entry.actor == "user:governance"


# ----------------------------------------------------------------------------- bad input changes nothing


def _assert_untouched(actors, key: str, entries_before: int) -> None:  # type: ignore[no-untyped-def]
    system = stored(actors.session, key)
    assert system.version == 1
    assert system.name == "Support bot"
    assert system.updated_at == actors.clock.now() - timedelta(hours=1)
    assert ledger_size(actors.session) == entries_before


@pytest.mark.parametrize(
    ("role", "update", "error"),
    [
        ("engineer", {"version": 7, "name": "X"}, StaleVersion),
        ("engineer", {"version": 1, "name": "X", "owner": "nobody"}, ValidationFailed),
        ("engineer", {"version": 1, "name": "X", "vendor_name": ""}, ValidationFailed),
        ("engineer", {"version": 1, "name": "X", "risk_tier": "high", "risk_tier_reason": "r"}, PermissionDenied),
        ("engineer", {"version": 1, "risk_tier_reason": "quietly changed"}, PermissionDenied),
        ("viewer", {"version": 1, "name": "X"}, PermissionDenied),
    ],
    ids=[
        "stale",
        "unknown-owner",
        "vendor-without-name",
        "engineer-classifies",
        "engineer-edits-tier-reason",
        "viewer",
    ],
)
def test_a_refused_update_changes_nothing_and_writes_no_entry(actors, register, role, update, error) -> None:
    register("support-bot")
    actors.clock.advance(hours=1)
    before = ledger_size(actors.session)
    with pytest.raises(error):
        service.update_system(actors.ctx(role), "support-bot", SystemUpdate(**update))
    _assert_untouched(actors, "support-bot", before)


def test_a_refused_stage_move_changes_nothing(actors, register) -> None:
    register("support-bot")
    actors.clock.advance(hours=1)
    before = ledger_size(actors.session)
    with pytest.raises(Conflict):
        service.transition_system(actors.ctx("engineer"), "support-bot", Transition(to="production", version=1))
    with pytest.raises(StaleVersion):
        service.transition_system(actors.ctx("engineer"), "support-bot", Transition(to="sandbox", version=2))
    _assert_untouched(actors, "support-bot", before)
    assert stored(actors.session, "support-bot").stage == "proposed"


def test_an_update_that_changes_nothing_keeps_the_version_and_the_ledger(actors, register) -> None:
    register("support-bot")
    before = ledger_size(actors.session)
    same = service.update_system(
        actors.ctx("engineer"), "support-bot", SystemUpdate(version=1, name="Support bot", tags=["genai"])
    )
    assert same.version == 1
    assert ledger_size(actors.session) == before


def test_a_duplicate_key_is_a_conflict(actors, register) -> None:
    register("support-bot")
    with pytest.raises(Conflict, match="already exists"):
        register("support-bot")


def test_reading_an_unknown_system_names_the_key(actors) -> None:
    with pytest.raises(NotFound, match="no AI system with key 'ghost'"):
        queries.read_system(actors.ctx("viewer"), "ghost")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"deployment_type": "vendor_saas", "vendor_name": None}, "vendor_name is required"),
        ({"risk_tier": "high"}, "risk_tier_reason is required"),
        ({"key": "Bad Key"}, "String should match pattern"),
        ({"tags": ["Not A Tag"]}, "must match"),
        ({"data_categories": ["gossip"]}, "Input should be"),
        ({"users_affected": -1}, "greater than or equal to 0"),
    ],
)
def test_registration_input_is_validated(fields, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError, match=message):
        SystemCreate(**system_body(**fields))


def test_explicit_null_for_a_required_field_is_refused_not_stored() -> None:
    with pytest.raises(ValidationError, match="cannot be null"):
        SystemUpdate(version=1, name=None)
    assert SystemUpdate(version=1, owner=None).model_dump(exclude_unset=True) == {"version": 1, "owner": None}


# ----------------------------------------------------------------------------- permissions and owners


def test_registering_with_a_risk_tier_needs_classify(actors) -> None:
    data = SystemCreate(**system_body(risk_tier="limited", risk_tier_reason="chatbot: transparency"))
    with pytest.raises(PermissionDenied) as err:
        service.create_system(actors.ctx("engineer"), data)
    assert err.value.extra["required"] == "systems:classify"
    system = service.create_system(actors.ctx("governance"), data)
    assert system.risk_tier == "limited"


def test_the_owner_defaults_to_the_registrant_and_can_be_reassigned(actors, register) -> None:
    register("support-bot", role="engineer")
    assert queries.read_system(actors.ctx("viewer"), "support-bot").owner == "engineer"
    service.update_system(actors.ctx("engineer"), "support-bot", SystemUpdate(version=1, owner="governance"))
    assert queries.read_system(actors.ctx("viewer"), "support-bot").owner == "governance"
    service.update_system(actors.ctx("engineer"), "support-bot", SystemUpdate(version=2, owner=None))
    assert queries.read_system(actors.ctx("viewer"), "support-bot").owner is None


def test_replacing_tags_updates_the_tag_filter(actors, register) -> None:
    register("support-bot", tags=["genai", "support"])
    service.update_system(actors.ctx("engineer"), "support-bot", SystemUpdate(version=1, tags=["ml"]))
    ctx = actors.ctx("viewer")
    assert [s.key for s in queries.list_systems(ctx, SystemFilter(tag="ml"))[0]] == ["support-bot"]
    assert queries.list_systems(ctx, SystemFilter(tag="genai"))[0] == []


def test_a_read_shows_the_moves_allowed_from_the_current_stage(actors, register) -> None:
    register("support-bot")
    assert queries.read_system(actors.ctx("viewer"), "support-bot").allowed_transitions == ["retired", "sandbox"]


# ----------------------------------------------------------------------------- listing


@pytest.fixture
def fleet(actors, register):  # type: ignore[no-untyped-def]
    """17 systems with repeated names, stages and tiers (ties exercise the id tie-breaker)."""
    stages = ["proposed", "sandbox", "pilot"]
    tiers = ["minimal", "limited", "high", "unclassified"]
    for i in range(17):
        tier = tiers[i % 4]
        register(
            f"sys-{i:02d}",
            role="admin",
            name=f"System {i % 5}",
            owner="engineer" if i % 2 else "governance",
            risk_tier=tier,
            risk_tier_reason="" if tier == "unclassified" else "assessed",
            tags=["even"] if i % 2 == 0 else ["odd"],
        )
        ctx = actors.ctx("admin")
        for step, stage in enumerate(stages[1 : 1 + i % 3], start=1):
            service.transition_system(ctx, f"sys-{i:02d}", Transition(to=stage, version=step))
        if i % 3 == 0:
            actors.clock.advance(minutes=1)  # some equal created_at values, some different
    return 17


@pytest.mark.parametrize("sort", [*SORTABLE, *(f"-{s}" for s in SORTABLE)])
def test_walking_pages_returns_every_system_once_in_order(actors, fleet, sort) -> None:
    ctx = actors.ctx("viewer")
    everything, cursor = queries.list_systems(ctx, SystemFilter(), sort=sort, limit=500)
    assert cursor is None and len(everything) == fleet
    for limit in (1, 4, 16, 17):
        seen, cursor, pages = [], None, 0
        while True:
            items, cursor = queries.list_systems(ctx, SystemFilter(), sort=sort, limit=limit, cursor=cursor)
            seen.extend(s.key for s in items)
            pages += 1
            if cursor is None:
                break
        assert seen == [s.key for s in everything], (sort, limit)
        assert pages == -(-fleet // limit)
    field = sort.removeprefix("-")
    values = [getattr(s, field) for s in everything]
    assert values == sorted(values, reverse=sort.startswith("-"))


def test_filters_combine(actors, fleet) -> None:
    ctx = actors.ctx("viewer")

    def keys(**kw: str) -> list[str]:
        return [s.key for s in queries.list_systems(ctx, SystemFilter(**kw), limit=500)[0]]

    assert keys(stage="pilot") == [f"sys-{i:02d}" for i in range(17) if i % 3 == 2]
    assert keys(risk_tier="high") == [f"sys-{i:02d}" for i in range(17) if i % 4 == 2]
    assert keys(owner="engineer") == [f"sys-{i:02d}" for i in range(17) if i % 2]
    assert keys(tag="even", stage="proposed") == [f"sys-{i:02d}" for i in range(17) if i % 2 == 0 and i % 3 == 0]
    assert keys(q="system 3") == ["sys-03", "sys-08", "sys-13"]
    assert keys(q="SYS-1") == [f"sys-{i}" for i in range(10, 17)]
    assert keys(owner="nobody") == []


def test_search_treats_percent_and_underscore_literally(actors, register) -> None:
    register("plain-bot", name="Plain bot")
    register("discount-bot", name="10% discount bot")
    ctx = actors.ctx("viewer")
    assert [s.key for s in queries.list_systems(ctx, SystemFilter(q="%"))[0]] == ["discount-bot"]
    assert queries.list_systems(ctx, SystemFilter(q="_"))[0] == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sort": "owner"}, "cannot sort by 'owner'; allowed: created_at, key, name, risk_tier, stage, updated_at"),
        ({"sort": "--key"}, "cannot sort by '-key'"),
        ({"limit": 0}, "limit must be between 1 and 500"),
        ({"cursor": "not-a-cursor"}, "the cursor is not valid"),
        ({"cursor": "WyJhIiwgImIiXQ=="}, "the cursor is not valid"),  # ["a", "b"]: id is not a number
        ({"cursor": "WzEsIDJd", "sort": "name"}, "the cursor is not valid"),  # [1, 2]: name is text
        ({"cursor": "WyJ4IiwgMV0=", "sort": "created_at"}, "the cursor is not valid"),  # ["x", 1]: not a time
    ],
)
def test_bad_list_parameters_are_refused_with_what_is_allowed(actors, kwargs, message) -> None:
    with pytest.raises(ValidationFailed, match=message.replace("(", r"\(")):
        queries.list_systems(actors.ctx("viewer"), SystemFilter(), **kwargs)


def test_every_change_is_in_the_ledger_in_order(actors, register) -> None:
    """A registration, an update, three moves: five entries, sequence numbers consecutive."""
    register("support-bot")
    ctx = actors.ctx("admin")
    service.update_system(ctx, "support-bot", SystemUpdate(version=1, description="answers questions"))
    for version, stage in zip(itertools.count(2), ("sandbox", "pilot", "production"), strict=False):
        service.transition_system(ctx, "support-bot", Transition(to=stage, version=version))
    entries = ledger_entries(actors.session, "support-bot")
    assert [e.action for e in entries] == [
        "system.registered",
        "system.updated",
        "system.stage.sandbox",
        "system.stage.pilot",
        "system.stage.production",
    ]
    seqs = [e.seq for e in entries]
    assert seqs == list(range(seqs[0], seqs[0] + 5))
    assert all(e.after["version"] == i for i, e in enumerate(entries, start=1))


_examples = itertools.count()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(moves=st.lists(st.sampled_from(LIFECYCLE_STAGES), max_size=8))
def test_any_sequence_of_moves_follows_the_table_and_records_exactly_the_accepted_ones(actors, register, moves) -> None:
    key = f"walk-{next(_examples)}"
    register(key)
    ctx = actors.ctx("engineer")
    stage, version, entries = "proposed", 1, ledger_size(actors.session)
    for target in moves:
        allowed = target in TRANSITIONS[stage]
        try:
            service.transition_system(ctx, key, Transition(to=target, version=version))
        except Conflict as exc:
            assert not allowed
            assert exc.extra["allowed"] == sorted(TRANSITIONS[stage])
        else:
            assert allowed
            stage, version, entries = target, version + 1, entries + 1
        system = stored(actors.session, key)
        assert (system.stage, system.version) == (stage, version)
        assert ledger_size(actors.session) == entries
