"""The inventory over HTTP: who may do what, conflicts, validation, listing, and the ledger."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from charter.kit.roles import ROLES, permissions_for
from tests.inventory.conftest import ledger_entries, ledger_size, stored, system_body

PROBLEM = "application/problem+json"

# ----------------------------------------------------------------------------- the role matrix
#
# What each use case needs, and who is expected to be allowed. The expectations are written out by hand
# (not computed from roles.py) so that a change to the role matrix that breaks them fails here.
NEEDS: dict[str, tuple[str, ...]] = {
    "list": ("systems:read",),
    "read": ("systems:read",),
    "register": ("systems:write",),
    "update": ("systems:write",),
    "classify": ("systems:write", "systems:classify"),
    "transition": ("systems:transition",),
}
ALLOWED: dict[str, set[str]] = {
    "list": {"admin", "governance", "approver", "engineer", "auditor", "viewer"},
    "read": {"admin", "governance", "approver", "engineer", "auditor", "viewer"},
    "register": {"admin", "governance", "engineer"},
    "update": {"admin", "governance", "engineer"},
    "classify": {"admin", "governance"},
    "transition": {"admin", "governance", "engineer"},
}


def _call(client: TestClient, use_case: str) -> Any:
    if use_case == "list":
        return client.get("/api/v1/systems")
    if use_case == "read":
        return client.get("/api/v1/systems/support-bot")
    if use_case == "register":
        return client.post("/api/v1/systems", json=system_body("new-bot"))
    if use_case == "update":
        return client.patch("/api/v1/systems/support-bot", json={"version": 1, "name": "Renamed"})
    if use_case == "classify":
        body = {"version": 1, "risk_tier": "high", "risk_tier_reason": "Annex III"}
        return client.patch("/api/v1/systems/support-bot", json=body)
    return client.post("/api/v1/systems/support-bot/transitions", json={"to": "sandbox", "version": 1})


def test_the_expectations_agree_with_the_role_matrix() -> None:
    for use_case, needs in NEEDS.items():
        computed = {r for r in ROLES if set(needs) <= permissions_for(r)}
        assert computed == ALLOWED[use_case], use_case


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("use_case", list(NEEDS))
def test_each_role_against_each_inventory_use_case(client_for, register, actors, role, use_case) -> None:
    register("support-bot")
    client = client_for(role)
    entries = ledger_size(actors.session)
    r = _call(client, use_case)
    if role in ALLOWED[use_case]:
        assert r.status_code in (200, 201), r.text
        writes = use_case not in ("list", "read")
        assert ledger_size(actors.session) == entries + (1 if writes else 0)
        if use_case == "classify":
            assert r.json()["risk_tier"] == "high"
        if use_case == "transition":
            assert r.json()["stage"] == "sandbox"
    else:
        missing = next(p for p in NEEDS[use_case] if p not in permissions_for(role))
        assert r.status_code == 403, r.text
        assert r.headers["content-type"] == PROBLEM
        body = r.json()
        assert body["required"] == missing
        assert f"role '{role}' may not" in body["detail"] and f"'{missing}'" in body["detail"]
        assert ledger_size(actors.session) == entries
        assert stored(actors.session, "support-bot").version == 1


# ----------------------------------------------------------------------------- conflicts


def test_a_stale_version_is_a_409_with_the_current_version(client_for, register) -> None:
    register("support-bot")
    eng = client_for("engineer")
    assert eng.patch("/api/v1/systems/support-bot", json={"version": 1, "name": "A"}).status_code == 200
    r = eng.patch("/api/v1/systems/support-bot", json={"version": 1, "name": "B"})
    assert r.status_code == 409
    assert r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["current_version"] == 2
    assert body["type"].endswith("/stale-version")
    assert "you sent version 1, the current version is 2" in body["detail"]
    r = eng.post("/api/v1/systems/support-bot/transitions", json={"to": "sandbox", "version": 1})
    assert r.status_code == 409 and r.json()["current_version"] == 2


def test_an_illegal_stage_move_is_a_409_naming_the_allowed_moves(client_for, register, actors) -> None:
    register("support-bot")
    r = client_for("engineer").post("/api/v1/systems/support-bot/transitions", json={"to": "production", "version": 1})
    assert r.status_code == 409
    body = r.json()
    assert body["allowed"] == ["retired", "sandbox"]
    assert body["current"] == "proposed" and body["requested"] == "production"
    assert "cannot move from 'proposed' to 'production'" in body["detail"]
    assert "retired, sandbox" in body["detail"]
    assert stored(actors.session, "support-bot").stage == "proposed"


def test_registering_a_key_twice_is_a_409(client_for) -> None:
    eng = client_for("engineer")
    assert eng.post("/api/v1/systems", json=system_body()).status_code == 201
    r = eng.post("/api/v1/systems", json=system_body(name="Other"))
    assert r.status_code == 409
    assert "already exists" in r.json()["detail"]


# ----------------------------------------------------------------------------- validation


def test_missing_fields_are_a_422_listing_each_problem(client_for) -> None:
    r = client_for("engineer").post("/api/v1/systems", json={"key": "x"})
    assert r.status_code == 422
    assert r.headers["content-type"] == PROBLEM
    body = r.json()
    locs = {tuple(e["loc"]) for e in body["errors"]}
    assert {("body", "key"), ("body", "name"), ("body", "deployment_type")} <= locs
    assert body["detail"].startswith("key: String should match pattern")
    assert "(and 2 more problems)" in body["detail"]


@pytest.mark.parametrize(
    ("body", "where", "says"),
    [
        (system_body(vendor_name=None), "the request body", "vendor_name is required"),
        (system_body(risk_tier="high"), "the request body", "risk_tier_reason is required"),
        (system_body(deployment_type="carrier-pigeon"), "deployment_type", "Input should be"),
        (system_body(tags=["UPPER"]), "the request body", "must match"),
        (system_body(owner="nobody"), "owner", "no user named 'nobody'"),
        (system_body(surprise=1), "surprise", "Extra inputs are not permitted"),
    ],
)
def test_invalid_registrations_are_refused_with_a_readable_detail(client_for, actors, body, where, says) -> None:
    gov, viewer = client_for("governance"), client_for("viewer")
    before = ledger_size(actors.session)
    r = gov.post("/api/v1/systems", json=body)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert detail.startswith(where) and says in detail, detail
    assert r.json()["errors"]
    assert viewer.get("/api/v1/systems").json()["items"] == []
    assert ledger_size(actors.session) == before


def test_null_for_a_required_field_is_a_422_and_changes_nothing(client_for, register, actors) -> None:
    register("support-bot")
    r = client_for("engineer").patch("/api/v1/systems/support-bot", json={"version": 1, "name": None})
    assert r.status_code == 422
    assert r.json()["detail"] == "name: cannot be null; leave the field out to keep the current value"
    assert stored(actors.session, "support-bot").name == "Support bot"


def test_malformed_json_is_a_422_problem(client_for) -> None:
    r = client_for("engineer").post(
        "/api/v1/systems", content=b'{"key": ', headers={"content-type": "application/json"}
    )
    assert r.status_code == 422
    assert r.json()["detail"].startswith("the request body is not valid JSON")


def test_an_unknown_system_is_a_404_naming_the_key(client_for) -> None:
    r = client_for("viewer").get("/api/v1/systems/ghost")
    assert r.status_code == 404
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["detail"] == "no AI system with key 'ghost'"


# ----------------------------------------------------------------------------- listing over HTTP


def test_pages_follow_next_cursor_without_gaps_or_repeats(client_for, register) -> None:
    for i in range(12):
        register(f"sys-{i:02d}", name=f"System {i % 3}")
    viewer = client_for("viewer")
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 5, "sort": "-name"}
        if cursor:
            params["cursor"] = cursor
        page = viewer.get("/api/v1/systems", params=params).json()
        seen.extend(s["key"] for s in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == [f"sys-{i:02d}" for i in range(12)]
    assert len(seen) == len(set(seen))
    names = [n for n in (viewer.get(f"/api/v1/systems/{k}").json()["name"] for k in seen)]
    assert names == sorted(names, reverse=True)


def test_list_filters_over_http(client_for, register, actors) -> None:
    register("chat-bot", owner="engineer", tags=["genai"], name="Chat bot")
    register("fraud-model", deployment_type="in_house_model", vendor_name=None, tags=["ml"], name="Fraud model")
    gov = client_for("governance")
    body = {"version": 1, "risk_tier": "high", "risk_tier_reason": "credit scoring"}
    assert gov.patch("/api/v1/systems/fraud-model", json=body).status_code == 200
    assert gov.post("/api/v1/systems/chat-bot/transitions", json={"to": "sandbox", "version": 1}).status_code == 200
    viewer = client_for("viewer")

    def keys(**params: str) -> list[str]:
        r = viewer.get("/api/v1/systems", params=params)
        assert r.status_code == 200, r.text
        return [s["key"] for s in r.json()["items"]]

    assert keys(stage="sandbox") == ["chat-bot"]
    assert keys(risk_tier="high") == ["fraud-model"]
    assert keys(owner="engineer") == ["chat-bot"]
    assert keys(tag="ml") == ["fraud-model"]
    assert keys(q="fraud") == ["fraud-model"]
    assert keys(sort="-key") == ["fraud-model", "chat-bot"]


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"sort": "owner"}, "cannot sort by 'owner'; allowed: created_at, key, name, risk_tier, stage, updated_at"),
        ({"stage": "launched"}, "stage: Input should be"),
        ({"limit": "0"}, "limit: Input should be greater than or equal to 1"),
        ({"limit": "501"}, "limit: Input should be less than or equal to 500"),
        ({"cursor": "%%%"}, "the cursor is not valid"),
    ],
)
def test_bad_list_parameters_are_a_422_saying_what_is_allowed(client_for, params, says) -> None:
    r = client_for("viewer").get("/api/v1/systems", params=params)
    assert r.status_code == 422
    assert r.headers["content-type"] == PROBLEM
    assert says in r.json()["detail"]
    assert r.json()["errors"]


# ----------------------------------------------------------------------------- the ledger over HTTP


def test_each_change_over_http_is_one_ledger_entry_with_actor_request_id_and_reason(client_for, actors) -> None:
    eng = client_for("engineer")
    r = eng.post("/api/v1/systems", json=system_body(), headers={"X-Request-ID": "req-register"})
    assert r.status_code == 201 and r.headers["x-request-id"] == "req-register"
    eng.patch(
        "/api/v1/systems/support-bot",
        json={"version": 1, "description": "answers support questions", "reason": "clarified scope"},
        headers={"X-Request-ID": "req-update"},
    )
    eng.post(
        "/api/v1/systems/support-bot/transitions",
        json={"to": "sandbox", "version": 2, "reason": "trial with 10 agents"},
        headers={"X-Request-ID": "req-move"},
    )
    entries = ledger_entries(actors.session, "support-bot")
    assert [(e.action, e.request_id, e.actor) for e in entries] == [
        ("system.registered", "req-register", "user:engineer"),
        ("system.updated", "req-update", "user:engineer"),
        ("system.stage.sandbox", "req-move", "user:engineer"),
    ]
    assert entries[1].before["description"] == "" and entries[1].after["description"] == "answers support questions"
    assert [e.reason for e in entries] == [None, "clarified scope", "trial with 10 agents"]
    audit = client_for("auditor").get("/api/v1/audit/entries", params={"entity_type": "system"}).json()
    assert [e["action"] for e in audit["items"]][:3] == ["system.stage.sandbox", "system.updated", "system.registered"]
