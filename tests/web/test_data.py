"""Data console: the dataset register, a dataset's page with lineage and deletion, the lineage graph, PII audits."""

from __future__ import annotations

import io
from typing import Any

from charter.data import audits, lineage_store
from charter.data.lineage import validate_event
from charter.data.schemas import DatasetCreate
from charter.data.service import register_dataset
from tests.data.lineage.builders import NS, chain_events


def test_register_dataset_page_lineage_graph_and_audit_results(browser_for: Any, actors: Any, session: Any) -> None:
    ctx = actors.ctx("engineer")
    dataset = register_dataset(
        ctx,
        DatasetCreate(namespace=NS, name="raw", legal_basis="contract", classification="restricted",
                      pii_categories=["EMAIL_ADDRESS"], retention_days=30),
    )  # fmt: skip
    lineage_store.ingest(ctx, [validate_event(e) for e in chain_events()])
    audit = audits.audit_file(
        ctx, io.BytesIO(b"id,email\n1,jane.doe@example.com\n"), "tickets.csv", dataset_id=dataset.id
    )
    session.commit()
    viewer = browser_for("viewer")
    register = viewer.get("/data")
    assert register.status_code == 200
    assert f'href="/data/datasets/{dataset.id}"' in register.text and "Restricted" in register.text
    page = viewer.get(f"/data/datasets/{dataset.id}").text
    assert f"{NS}/cleaned" in page and f"{NS}/evaluation" in page  # downstream, transitively
    assert f'href="/data/audits/{audit.id}"' in page and "Not deleted." in page
    graph = viewer.get("/data/lineage", params={"namespace": NS, "name": "features"})
    assert graph.status_code == 200 and "<svg" in graph.text and "Lineage graph" in graph.text
    assert graph.text.count("<rect") == 13  # 8 datasets and 5 jobs, each drawn once
    assert "airflow-prod/ml.train" in graph.text
    results = viewer.get(f"/data/audits/{audit.id}").text
    assert "EMAIL_ADDRESS" in results and "jane.doe@example.com" not in results and "j*******@" in results
    assert "PERSON, LOCATION" in results  # said plainly: not looked for
    unknown = viewer.get("/data/lineage", params={"namespace": NS, "name": "nope"})
    assert unknown.status_code == 404
