"""Interactions, feedback keys, end-user feedback, queues and reviews over HTTP."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from charter.feedback.models import Feedback, Interaction, QueueItem, Review
from charter.incidents.models import Incident
from tests.feedback.conftest import SYSTEM, interactions
from tests.incidents.conftest import make_system

BASE = f"/api/v1/systems/{SYSTEM}"


def _queue(c: Any, **extra: Any) -> dict[str, Any]:
    body = {"key": "support-review", "system": SYSTEM, "sampling": {"mode": "all"}, **extra}
    r = c.post("/api/v1/review-queues", json=body)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def _count(session: Any, model: Any) -> int:
    return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def test_a_batch_is_stored_once_and_a_retry_is_a_duplicate(client_for, system, session) -> None:
    c = client_for("engineer")
    first = c.post(f"{BASE}/interactions", json=interactions(100))
    assert first.status_code == 200, first.text
    assert first.json() == {"accepted": 100, "duplicates": 0, "queued": 0, "held": []}
    again = c.post(f"{BASE}/interactions", json=interactions(100))
    assert again.json()["accepted"] == 0 and again.json()["duplicates"] == 100
    assert _count(session, Interaction) == 100
    shown = c.get(f"{BASE}/interactions/i-7").json()
    assert shown["input"] == "question 7" and shown["prompt"] == "faq@3" and shown["user"] == "u-0"


def test_a_resent_id_with_other_content_refuses_the_whole_batch(client_for, system, session) -> None:
    c = client_for("engineer")
    c.post(f"{BASE}/interactions", json=interactions(3))
    batch = interactions(5)
    batch["interactions"][1]["output"] = "something else"
    r = c.post(f"{BASE}/interactions", json=batch)
    assert r.status_code == 409
    assert "i-1 were already received with different content" in r.json()["detail"]
    assert _count(session, Interaction) == 3  # i-3, i-4 not stored either


def test_oversize_and_malformed_batches_are_refused_and_store_nothing(client_for, system, session) -> None:
    c = client_for("engineer")
    too_many = c.post(f"{BASE}/interactions", json=interactions(1001))
    assert too_many.status_code == 413 and "at most 1000" in too_many.json()["detail"]
    long = interactions(2)
    long["interactions"][1]["output"] = "x" * 100_001
    r = c.post(f"{BASE}/interactions", json=long)
    assert r.status_code == 413 and r.json()["detail"].startswith("interactions[1].output has 100001 characters")
    bad = c.post(f"{BASE}/interactions", json={"interactions": [{"id": "a", "input": "q"}]})
    assert bad.status_code == 422 and "output" in bad.json()["detail"]
    assert c.post(f"{BASE}/interactions", json={"items": []}).status_code == 422
    assert c.post("/api/v1/systems/nope/interactions", json=interactions(1)).status_code == 404
    assert _count(session, Interaction) == 0


def test_a_viewer_may_flag_but_not_send_interactions(client_for, system, session) -> None:
    client_for("engineer").post(f"{BASE}/interactions", json=interactions(1))
    viewer = client_for("viewer")
    assert viewer.post(f"{BASE}/interactions", json=interactions(1, 5)).status_code == 403
    r = viewer.post(f"{BASE}/feedback", json={"interaction": "i-0", "category": "inaccurate", "comment": "wrong date"})
    assert r.status_code == 201, r.text
    assert r.json()["flagged"] is True and r.json()["status"] == "received"
    mine = viewer.get(f"{BASE}/feedback/{r.json()['id']}")
    assert mine.status_code == 200


def test_feedback_on_an_unknown_interaction_is_404_and_stores_nothing(client_for, system, session) -> None:
    r = client_for("viewer").post(f"{BASE}/feedback", json={"interaction": "ghost", "rating": "down"})
    assert r.status_code == 404 and "no interaction 'ghost'" in r.json()["detail"]
    assert _count(session, Feedback) == 0


def test_a_feedback_key_posts_feedback_and_nothing_else(client_for, system, session) -> None:
    eng = client_for("engineer")
    eng.post(f"{BASE}/interactions", json=interactions(2))
    created = eng.post(f"{BASE}/feedback-keys", json={"name": "widget"})
    assert created.status_code == 201
    key = created.json()["key"]
    assert key.startswith("chf_") and eng.get(f"{BASE}/feedback-keys").json()[0]["key"] is None
    c = client_for(None)
    c.headers["Authorization"] = f"Bearer {key}"
    r = c.post(f"{BASE}/feedback", json={"interaction": "i-1", "rating": "up"})
    assert r.status_code == 201, r.text
    assert r.json()["reporter"].startswith("token:") and "feedback-key:chf_" in r.json()["reporter"]
    for method, path, body in [
        ("GET", f"{BASE}/feedback", None),
        ("GET", f"{BASE}/interactions", None),
        ("POST", f"{BASE}/interactions", interactions(1, 9)),
        ("GET", "/api/v1/systems", None),
        ("POST", f"{BASE}/feedback-keys", {"name": "more"}),
        ("POST", "/api/v1/review-queues/x/next", None),
    ]:
        denied = c.request(method, path, json=body)
        assert denied.status_code == 401, (method, path, denied.status_code)
    assert _count(session, Feedback) == 1


def test_a_key_is_scoped_to_its_system_and_stops_working_when_revoked(client_for, actors, system, session) -> None:
    make_system(actors, "other-bot")
    eng = client_for("engineer")
    eng.post(f"{BASE}/interactions", json=interactions(1))
    made = eng.post(f"{BASE}/feedback-keys", json={}).json()
    c = client_for(None)
    c.headers["Authorization"] = f"Bearer {made['key']}"
    other = c.post("/api/v1/systems/other-bot/feedback", json={"rating": "down"})
    assert other.status_code == 403 and "another system" in other.json()["detail"]
    assert eng.post(f"{BASE}/feedback-keys/{made['id']}/revoke").status_code == 200
    r = c.post(f"{BASE}/feedback", json={"interaction": "i-0", "rating": "down"})
    assert r.status_code == 401 and "was revoked" in r.json()["detail"]
    assert _count(session, Feedback) == 0


def test_a_key_is_rate_limited(client_for, system) -> None:
    eng = client_for("engineer")
    made = eng.post(f"{BASE}/feedback-keys", json={"rate_per_minute": 60}).json()
    c = client_for(None)
    c.headers["Authorization"] = f"Bearer {made['key']}"
    codes = [c.post(f"{BASE}/feedback", json={"rating": "up"}).status_code for _ in range(12)]
    assert codes[:10] == [201] * 10  # a burst of up to 10
    assert codes[-1] == 429


def test_a_flag_enters_the_queue_and_its_reporter_sees_the_review(client_for, system, session) -> None:
    eng = client_for("engineer")
    _queue(eng, sampling={"mode": "none"})
    eng.post(f"{BASE}/interactions", json=interactions(3))
    viewer = client_for("viewer")
    fb = viewer.post(f"{BASE}/feedback", json={"interaction": "i-2", "rating": "down"}).json()
    assert fb["status"] == "queued"
    item = client_for("approver").post("/api/v1/review-queues/support-review/next").json()
    assert item["reason"] == "flag" and item["interaction"]["id"] == "i-2"
    assert viewer.get(f"{BASE}/feedback/{fb['id']}").json()["status"] == "in_review"
    r = client_for("approver").post(
        f"/api/v1/queue-items/{item['id']}/review",
        json={"action": "edit", "correction": "the right answer", "scores": {"accuracy": 2, "hallucination": True}},
    )
    assert r.status_code == 201, r.text
    assert viewer.get(f"{BASE}/feedback/{fb['id']}").json()["status"] == "reviewed (edit)"
    rows = eng.get("/api/v1/review-queues/support-review/corrections").json()
    assert rows == [{"interaction": "i-2", "input": "question 2", "output": "answer 2", "expected": "the right answer"}]


def test_invalid_rubric_values_are_refused_and_the_lease_is_kept(client_for, system, session) -> None:
    eng = client_for("engineer")
    _queue(eng)
    eng.post(f"{BASE}/interactions", json=interactions(1))
    rev = client_for("approver")
    item = rev.post("/api/v1/review-queues/support-review/next").json()
    r = rev.post(f"/api/v1/queue-items/{item['id']}/review", json={"action": "approve", "scores": {"accuracy": 7}})
    assert r.status_code == 422
    assert "accuracy: 7 is not a number from 1 to 5" in r.json()["detail"]
    assert "hallucination: required" in r.json()["detail"]
    assert _count(session, Review) == 0
    again = rev.post(
        f"/api/v1/queue-items/{item['id']}/review",
        json={"action": "approve", "scores": {"accuracy": 5, "hallucination": False}},
    )
    assert again.status_code == 201


def test_a_bad_rubric_is_refused_when_the_queue_is_created(client_for, system) -> None:
    r = client_for("engineer").post(
        "/api/v1/review-queues",
        json={"key": "q", "system": SYSTEM, "rubric": [{"name": "x", "type": "numeric", "min": 5, "max": 1}]},
    )
    assert r.status_code == 422 and "numeric needs numbers min < max" in r.json()["detail"]


def test_a_lease_expires_and_the_item_returns(client_for, system, clock, session) -> None:
    eng = client_for("engineer")
    _queue(eng, lease_seconds=60)
    eng.post(f"{BASE}/interactions", json=interactions(1))
    first, second = client_for("approver"), client_for("governance")
    item = first.post("/api/v1/review-queues/support-review/next").json()
    assert second.post("/api/v1/review-queues/support-review/next").status_code == 204
    clock.advance(timedelta(seconds=61))
    back = second.post("/api/v1/review-queues/support-review/next").json()
    assert back["id"] == item["id"] and back["lease_owner"].endswith("governance")
    late = first.post(
        f"/api/v1/queue-items/{item['id']}/review",
        json={"action": "approve", "scores": {"accuracy": 5, "hallucination": False}},
    )
    assert late.status_code == 409 and "not leased to you" in late.json()["detail"]
    assert session.get(QueueItem, item["id"]).leases == 2


def test_blocking_review_round_trip(client_for, system, session) -> None:
    eng = client_for("engineer")
    _queue(eng, blocking=True, sampling={"mode": "none"})
    sent = eng.post(f"{BASE}/interactions", json=interactions(2)).json()
    assert sent["held"] == ["i-0", "i-1"] and sent["queued"] == 2
    assert eng.get(f"{BASE}/interactions/i-0/decision").json()["decision"] == "held"
    assert eng.get(f"{BASE}/interactions/i-0/decision", params={"wait": 0.3}).json()["decision"] == "held"
    rev = client_for("approver")
    scores = {"accuracy": 4, "hallucination": False}
    a = rev.post("/api/v1/review-queues/support-review/next").json()
    rev.post(f"/api/v1/queue-items/{a['id']}/review", json={"action": "edit", "correction": "better", "scores": scores})
    b = rev.post("/api/v1/review-queues/support-review/next").json()
    rev.post(f"/api/v1/queue-items/{b['id']}/review", json={"action": "reject", "scores": scores})
    d0 = eng.get(f"{BASE}/interactions/i-0/decision").json()
    d1 = eng.get(f"{BASE}/interactions/i-1/decision").json()
    assert (d0["decision"], d0["text"]) == ("edited", "better")
    assert (d1["decision"], d1["text"]) == ("rejected", None)


def test_a_flag_rate_spike_opens_one_incident(client_for, system, session) -> None:
    eng = client_for("engineer")
    eng.put(f"{BASE}/feedback-settings", json={"spike_min_flags": 5, "spike_rate": 0.2})
    eng.post(f"{BASE}/interactions", json=interactions(20))
    viewer = client_for("viewer")
    answers = [
        viewer.post(f"{BASE}/feedback", json={"interaction": f"i-{k}", "rating": "down"}).json() for k in range(8)
    ]
    assert [a["incident"] is not None for a in answers] == [False] * 4 + [True] * 4
    incidents = list(session.scalars(select(Incident)))
    assert len(incidents) == 1
    assert incidents[0].source == "user_feedback" and incidents[0].severity == "HIGH"
    assert "5 flags in 10 min" in incidents[0].title


def test_thumbs_up_is_not_a_flag_and_opens_nothing(client_for, system, session) -> None:
    eng = client_for("engineer")
    eng.put(f"{BASE}/feedback-settings", json={"spike_min_flags": 2})
    eng.post(f"{BASE}/interactions", json=interactions(3))
    for k in range(3):
        assert (
            client_for("viewer").post(f"{BASE}/feedback", json={"interaction": f"i-{k}", "rating": "up"}).status_code
            == 201
        )
    assert _count(session, Incident) == 0
