"""Which production systems used a dataset: release artifacts of kind `dataset` link releases to registered
datasets, and lineage carries the question downstream (deletion requests, incidents)."""

from __future__ import annotations

from typing import Any

from charter.data import lineage_store, queries
from charter.data.lineage import validate_event
from charter.releases import service as releases
from charter.releases.schemas import ReleaseCreate
from tests.releases.conftest import CHATBOT, governed, make_system, release_body, sha, to_production

from .conftest import register
from .lineage.builders import NS, chain_events, ref


def test_a_release_with_a_dataset_artifact_in_production_used_everything_upstream_of_it(
    actors: Any, clock: Any
) -> None:
    ctx = actors.ctx("engineer")
    lineage_store.ingest(ctx, [validate_event(e) for e in chain_events()])
    register(actors, "training", namespace=NS, location="s3://acme-lake/training")
    system = make_system(actors)
    governed(actors, system)
    body = release_body("v1").model_dump()
    body["artifacts"].append(
        {"kind": "dataset", "name": "training", "uri": "s3://acme-lake/training", "sha256": sha("t")}
    )
    releases.submit_release(actors.ctx("engineer"), CHATBOT, ReleaseCreate.model_validate(body))

    auditor = actors.ctx("auditor")
    # submitted, not deployed: used by a release, but not in production
    assert queries.systems_for(auditor, NS, "raw") == [{"system": CHATBOT, "datasets": [ref("training")]}]
    assert queries.systems_for(auditor, NS, "raw", stage="production") == []
    to_production(actors, clock, system, 1)
    assert queries.systems_for(auditor, NS, "raw", stage="production") == [
        {"system": CHATBOT, "datasets": [ref("training")]}
    ]
    assert queries.systems_for(auditor, NS, "evaluation", stage="production") == []  # downstream of training only
