"""Finding 10 (part): every $ref in the OpenAPI document resolves."""

from __future__ import annotations

from typing import Any


def _refs(node: Any, path: str = "") -> list[tuple[str, str]]:
    if isinstance(node, dict):
        found = [(path, node["$ref"])] if isinstance(node.get("$ref"), str) else []
        return found + [r for k, v in node.items() for r in _refs(v, f"{path}/{k}")]
    if isinstance(node, list):
        return [r for i, v in enumerate(node) for r in _refs(v, f"{path}/{i}")]
    return []


def _resolves(doc: dict[str, Any], ref: str) -> bool:
    if not ref.startswith("#/"):
        return False
    node: Any = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def test_every_schema_reference_in_the_openapi_document_resolves(client_for) -> None:  # type: ignore[no-untyped-def]
    doc = client_for(None).get("/openapi.json").json()
    broken = [(where, ref) for where, ref in _refs(doc) if not _resolves(doc, ref)]
    assert broken == []
    metrics = doc["paths"]["/api/v1/systems/{key}/metrics"]["post"]["requestBody"]["content"]["application/json"]
    assert "points" in metrics["schema"]["properties"]
