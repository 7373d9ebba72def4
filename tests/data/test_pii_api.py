"""The PII guard and audits over HTTP: egress policies per vendor, guard → vendor → restore exactly, counts (never
values) in the ledger and as monitoring metrics, an unknown vendor refused with nothing stored, and audits of files
(per column, masked examples, evidence on the integration SOP item); bad files refused with nothing stored."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from sqlalchemy import func, select

from charter.client import Client
from charter.data.models import PiiAudit, VaultRow
from charter.evidence.models import Evidence
from charter.ledger.models import LedgerEntry
from charter.monitoring.models import MetricPoint, MetricSeries
from charter.procedures import service as procedures
from charter.procedures.models import RunItem, RunItemEvidence

from .conftest import make_system

EMAIL, PHONE, CARD, SSN = "jane.doe@example.com", "+44 20 7946 0958", "4111 1111 1111 1111", "536-22-8726"
TEXT = f"Customer {EMAIL} (phone {PHONE}) paid with {CARD}; please draft a reply."
POLICY = {
    "entities": {
        "EMAIL_ADDRESS": "pseudonymise",
        "PHONE_NUMBER": "pseudonymise",
        "CREDIT_CARD": "mask",
        "US_SSN": "block",
    },
    "default": "redact",
    "ttl_seconds": 600,
}


def count(session: Any, model: Any, *where: Any) -> int:
    return int(session.execute(select(func.count()).select_from(model).where(*where)).scalar_one())


@pytest.fixture
def http(client_for: Any) -> Any:
    admin = client_for("governance")
    answer = admin.put("/api/v1/pii/policies/acme-llm", json=POLICY)
    assert answer.status_code == 200, answer.text
    return client_for("engineer")


def test_guard_then_restore_gives_back_the_original_values_exactly(http: Any, session: Any) -> None:
    out = http.post("/api/v1/pii/guard", json={"text": TEXT, "vendor": "acme-llm", "scope": "conv-1"}).json()
    sent = out["text"]
    assert EMAIL not in sent and PHONE not in sent and CARD not in sent
    assert "1111" in sent and sent.count("*") >= 12  # masked: the last digits stay
    assert out["counts"] == {
        "CREDIT_CARD": {"mask": 1},
        "EMAIL_ADDRESS": {"pseudonymise": 1},
        "PHONE_NUMBER": {"pseudonymise": 1},
    }
    assert out["pii_detected"] == 3 and out["pii_blocked"] == 0 and not out["blocked"]
    # the vendor answers using the tokens; restoring puts the values back
    tokens = [t for t in sent.split() if t.startswith("<")]
    email_token = next(t for t in tokens if t.startswith("<EMAIL_ADDRESS_"))
    answer = f"Dear customer, we will write to {email_token} today."
    restored = http.post("/api/v1/pii/restore", json={"text": answer, "scope": "conv-1"}).json()
    assert restored == {
        "text": f"Dear customer, we will write to {EMAIL} today.",
        "restored": 1,
        "expired": 0,
        "unknown": 0,
    }
    # the whole guarded text comes back exactly, except what was masked (not reversible by design)
    back = http.post("/api/v1/pii/restore", json={"text": sent, "scope": "conv-1"}).json()["text"]
    assert back == TEXT.replace(CARD, sent[sent.index("paid with ") + 10 : sent.index(";")])
    # another scope gets nothing back
    other = http.post("/api/v1/pii/restore", json={"text": answer, "scope": "conv-2"}).json()
    assert other["text"] == answer and other["unknown"] == 1


def test_values_are_encrypted_at_rest_and_the_ledger_holds_counts_never_values(http: Any, session: Any) -> None:
    http.post("/api/v1/pii/guard", json={"text": TEXT, "vendor": "acme-llm", "scope": "conv-1"})
    rows = session.execute(select(VaultRow)).scalars().all()
    assert len(rows) == 2
    for row in rows:
        assert EMAIL.encode() not in bytes(row.ciphertext) and PHONE.encode() not in bytes(row.ciphertext)
    entry = session.execute(select(LedgerEntry).where(LedgerEntry.action == "pii.guard")).scalar_one()
    stored = json.dumps(entry.after)
    assert EMAIL not in stored and PHONE not in stored and "4111" not in stored
    assert entry.after["counts"]["EMAIL_ADDRESS"] == {"pseudonymise": 1}
    assert entry.entity_id == "acme-llm" and entry.actor == "user:engineer"


def test_a_blocked_text_is_not_sent_and_nothing_is_vaulted(http: Any, session: Any) -> None:
    out = http.post("/api/v1/pii/guard", json={"text": f"{TEXT} SSN {SSN}", "vendor": "acme-llm"}).json()
    assert out["blocked"] is True and out["text"] is None and out["blocked_by"] == ["US_SSN"]
    assert out["pii_blocked"] == 1
    assert count(session, VaultRow) == 0


def test_an_unknown_vendor_is_refused_and_nothing_is_stored(http: Any, session: Any) -> None:
    entries = count(session, LedgerEntry)
    answer = http.post("/api/v1/pii/guard", json={"text": TEXT, "vendor": "gpt-unknown"})
    assert answer.status_code == 404
    detail = answer.json()["detail"]
    assert "unknown vendor 'gpt-unknown'" in detail and "vendors with a policy: acme-llm" in detail
    assert count(session, VaultRow) == 0 and count(session, LedgerEntry) == entries


def test_pseudonyms_expire_with_the_policy_ttl(http: Any, clock: Any) -> None:
    sent = http.post("/api/v1/pii/guard", json={"text": TEXT, "vendor": "acme-llm", "scope": "c"}).json()["text"]
    clock.advance(seconds=601)
    out = http.post("/api/v1/pii/restore", json={"text": sent, "scope": "c"}).json()
    assert out["restored"] == 0 and out["expired"] == 2 and out["text"] == sent


def test_guard_counts_become_monitoring_metrics_of_the_system(http: Any, actors: Any, session: Any) -> None:
    make_system(actors, "support-chatbot")
    http.post("/api/v1/pii/guard", json={"text": TEXT, "vendor": "acme-llm", "system": "support-chatbot"})
    http.post("/api/v1/pii/guard", json={"text": f"{TEXT} {SSN}", "vendor": "acme-llm", "system": "support-chatbot"})
    values: dict[str, list[float]] = {}
    for name, labels, value in session.execute(
        select(MetricSeries.name, MetricSeries.labels, MetricPoint.value)
        .join(MetricPoint, MetricPoint.series_id == MetricSeries.id)
        .order_by(MetricPoint.id)
    ):
        assert json.loads(labels) == {"vendor": "acme-llm"}
        values.setdefault(name, []).append(value)
    assert values == {"pii_detected": [3.0, 4.0], "pii_blocked": [0.0, 1.0]}


def test_bad_policies_are_refused_with_what_is_allowed(client_for: Any) -> None:
    admin = client_for("governance")
    bad = admin.put("/api/v1/pii/policies/acme-llm", json={"entities": {"EMAIL": "redact"}})
    assert bad.status_code == 422 and "did you mean EMAIL_ADDRESS" in bad.json()["detail"]
    bad = admin.put("/api/v1/pii/policies/acme-llm", json={"entities": {"EMAIL_ADDRESS": "shred"}})
    assert bad.status_code == 422 and "allowed: block, redact, mask, hash, pseudonymise, allow" in bad.json()["detail"]
    assert client_for("engineer").put("/api/v1/pii/policies/acme-llm", json=POLICY).status_code == 403
    assert admin.put("/api/v1/pii/policies/acme-llm", json=POLICY).json()["version"] == 1
    stale = admin.put("/api/v1/pii/policies/acme-llm", json={**POLICY, "default": "block"})
    assert stale.status_code == 409
    assert (
        admin.put("/api/v1/pii/policies/acme-llm", json={**POLICY, "default": "block", "version": 1}).json()["version"]
        == 2
    )


def test_the_sdk_guards_and_restores_against_a_real_server(http: Any, cli: Any) -> None:
    sdk = Client(url=cli.url, token=cli.token("engineer"))
    guarded = sdk.guard(TEXT, vendor="acme-llm", scope="sdk")
    cli.quiet()
    token = re.search(r"<PHONE_NUMBER_[0-9a-f]{10}>", guarded["text"]).group(0)
    assert sdk.restore(f"Call {token}", scope="sdk") == f"Call {PHONE}"


# -- audits --------------------------------------------------------------------------------------------------------

CSV = (
    "id,email,note\n"
    f"1,{EMAIL},call {PHONE}\n"
    "2,bob.smith@example.org,order #4111111111111112 shipped\n"
    "3,,version 4.11.1 released\n"
)


def test_auditing_a_csv_counts_per_column_with_masked_examples_as_evidence_on_the_sop_item(
    client_for: Any, actors: Any, session: Any
) -> None:
    make_system(actors, "support-chatbot")
    from charter.inventory.queries import get_system

    system = get_system(session, "support-chatbot")
    run = procedures.start_run(actors.ctx("engineer"), "ai-integration", "system", system.id)
    http = client_for("engineer")
    answer = http.post(
        "/api/v1/pii/audits",
        files={"file": ("tickets.csv", CSV.encode())},
        data={"run_id": str(run.id), "item_id": "data-privacy-audit"},
    )
    assert answer.status_code == 201, answer.text
    audit = answer.json()
    assert audit["records"] == 3 and audit["records_with_pii"] == 2
    assert audit["entities"] == {"EMAIL_ADDRESS": 2, "PHONE_NUMBER": 1}  # the order number and version are near misses
    rows = {(r["column"], r["entity"]): r for r in audit["report"]["rows"]}
    assert rows[("email", "EMAIL_ADDRESS")]["count"] == 2 and rows[("note", "PHONE_NUMBER")]["count"] == 1
    examples = json.dumps(audit["report"])
    assert EMAIL not in examples and "bob.smith@example.org" not in examples and PHONE not in examples
    item = session.execute(
        select(RunItem).where(RunItem.run_id == run.id, RunItem.item_id == "data-privacy-audit")
    ).scalar_one()
    linked = (
        session.execute(select(RunItemEvidence.evidence_id).where(RunItemEvidence.run_item_id == item.id))
        .scalars()
        .all()
    )
    assert linked == [audit["evidence_id"]]
    assert session.get(Evidence, audit["evidence_id"]).media_type == "text/markdown"


@pytest.mark.parametrize(
    ("name", "content", "form", "says"),
    [
        ("dump.bin", b"\x00\x01\x02binary\x00", {}, "binary"),
        ("latin.txt", "caf\xe9 jane@example.com\n".encode("latin-1"), {}, "not valid utf-8"),
        ("huge.txt", b"a" * (1 << 20) + b"x" * 10 + b"\n", {}, "longer than the limit"),
        ("bad.csv", b'id,email\n1,"unterminated\n', {}, "invalid CSV"),
        ("ok.csv", b"id,email\n1,a@b.co\n", {"field": "mail"}, "mail"),
        ("rows.jsonl", b'{"a": 1}\n{not json\n', {}, "line 2"),
    ],
)
def test_bad_files_are_refused_with_the_reason_and_nothing_is_stored(
    client_for: Any, session: Any, name: str, content: bytes, form: dict[str, str], says: str
) -> None:
    http = client_for("engineer")
    evidence, audits, entries = count(session, Evidence), count(session, PiiAudit), count(session, LedgerEntry)
    answer = http.post("/api/v1/pii/audits", files={"file": (name, content)}, data=form)
    assert answer.status_code == 422, answer.text
    assert says in answer.json()["detail"] and "nothing was stored" in answer.json()["detail"]
    assert (count(session, Evidence), count(session, PiiAudit), count(session, LedgerEntry)) == (
        evidence,
        audits,
        entries,
    )
