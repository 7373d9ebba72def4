"""Exports from a system's data: CycloneDX 1.6 ML-BOM, OSCAL assessment results, a model card (Markdown, HTML).

Every JSON export is validated against the official schema (charter.compliance.validate) before it leaves:
a document that does not validate is a bug, never handed out. Domains are read through their queries.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any, Final

from charter.compliance.queries import coverage
from charter.compliance.rules import FrameworkCoverage
from charter.compliance.validate import validate_cyclonedx, validate_oscal_assessment_results
from charter.context import Ctx
from charter.inventory.queries import read_system
from charter.inventory.schemas import SystemRead
from charter.kit.clock import isoformat
from charter.monitoring.metrics.queries import list_series
from charter.monitoring.schemas import SeriesRead
from charter.releases.queries import list_releases, read_release
from charter.releases.schemas import ReleaseRead
from charter.risk.queries import RiskFilter, list_risks
from charter.risk.schemas import RiskRead

NAMESPACE: Final = uuid.UUID("6f1c7a52-5d0e-4c1b-9a57-3c0f0b6e2a10")  # Charter's uuid5 namespace for exports
OSCAL_VERSION: Final = "1.2.3"
_COMPONENT_TYPE: Final = {
    "model": "machine-learning-model",
    "dataset": "data",
    "prompt": "data",
    "config": "data",
    "code": "file",
}
_DATA_TYPE: Final = {"dataset": "dataset", "prompt": "configuration", "config": "configuration"}
_TOKEN = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class SystemData:
    system: SystemRead
    releases: list[ReleaseRead]
    risks: list[RiskRead]
    metrics: list[SeriesRead]


def system_data(ctx: Ctx, system_key: str) -> SystemData:
    system = read_system(ctx, system_key)
    releases = [read_release(ctx, system_key, r.version) for r in list_releases(ctx, system_key)]
    releases.sort(key=lambda r: r.version)
    risks, _ = list_risks(ctx, RiskFilter(system=system_key), sort="score", limit=500)
    return SystemData(system, releases, risks, list_series(ctx, system_key))


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "\x1f".join(parts)))


# --- CycloneDX 1.6 ML-BOM ---------------------------------------------------------------------------------------


def _model_card(data: SystemData) -> dict[str, Any]:
    card: dict[str, Any] = {}
    metrics = [{"type": s.name, "value": f"{s.last_value:g}"} for s in data.metrics if not s.labels]
    if metrics:
        card["quantitativeAnalysis"] = {"performanceMetrics": metrics}
    considerations: dict[str, Any] = {}
    use = data.system.problem_statement or data.system.description
    if use:
        considerations["useCases"] = [use]
    if data.system.users_affected is not None:
        considerations["users"] = [f"{data.system.users_affected} people affected"]
    risks = [f"{r.key} {r.title} ({r.level})" for r in data.risks if r.status != "closed"]
    if risks:
        considerations["ethicalConsiderations"] = [{"name": r} for r in risks[:20]]
    if considerations:
        card["considerations"] = considerations
    return card


def cyclonedx(ctx: Ctx, system_key: str) -> dict[str, Any]:
    """An ML-BOM of every release of the system: models (each with a modelCard), datasets, prompts, configs."""
    ctx.require("compliance:export")
    data = system_data(ctx, system_key)
    system = data.system
    latest = data.releases[-1] if data.releases else None
    root_ref = f"system:{system.key}"
    root: dict[str, Any] = {"type": "application", "bom-ref": root_ref, "name": system.key, "description": system.name}
    if latest is not None:
        root["version"] = str(latest.version)
    components: list[dict[str, Any]] = []
    depends: list[dict[str, Any]] = []
    card = _model_card(data)
    for release in data.releases:
        ref = f"{root_ref}/release:{release.version}"
        children = []
        for artifact in sorted(release.artifacts, key=lambda a: (a.kind, a.name)):
            child_ref = f"{ref}/{artifact.kind}:{artifact.name}"
            comp: dict[str, Any] = {
                "type": _COMPONENT_TYPE.get(artifact.kind, "file"),
                "bom-ref": child_ref,
                "name": artifact.name,
                "version": str(release.version),
                "hashes": [{"alg": "SHA-256", "content": artifact.sha256}],
                "externalReferences": [{"type": "distribution", "url": artifact.uri}] if artifact.uri else [],
            }
            if not comp["externalReferences"]:
                del comp["externalReferences"]
            if artifact.kind in _DATA_TYPE:
                comp["data"] = [{"type": _DATA_TYPE[artifact.kind], "name": artifact.name}]
            if artifact.kind == "model":
                comp["modelCard"] = card
            components.append(comp)
            children.append(child_ref)
        if not any(a.kind == "model" for a in release.artifacts):  # the model behind the release: a vendor's
            supplier = system.vendor_name or "not recorded"
            components.append(
                {
                    "type": "machine-learning-model",
                    "bom-ref": f"{ref}/model",
                    "name": f"{system.key} model",
                    "version": str(release.version),
                    "modelCard": card,
                    "description": f"model supplied by {supplier}; no model artifact in this release",
                }
            )
            children.append(f"{ref}/model")
        components.append({"type": "application", "bom-ref": ref, "name": f"{system.key} release {release.version}",
                           "version": str(release.version),
                           "hashes": [{"alg": "SHA-256", "content": release.content_hash}]})  # fmt: skip
        depends.append({"ref": ref, "dependsOn": children})
    depends.insert(0, {"ref": root_ref, "dependsOn": [d["ref"] for d in depends]})
    content = "|".join(c["bom-ref"] + ":" + c.get("hashes", [{}])[0].get("content", "") for c in components)
    doc = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": f"urn:uuid:{_uuid('cyclonedx', system.key, content)}",
        "version": 1,
        "metadata": {"timestamp": isoformat(ctx.now()).replace(".000000", ""), "component": root,
                     "tools": {"components": [{"type": "application", "name": "Charter"}]}},
        "components": components,
        "dependencies": depends,
    }  # fmt: skip
    validate_cyclonedx(doc)
    return doc


# --- OSCAL assessment results -------------------------------------------------------------------------------------


def _token(text: str) -> str:
    slug = _TOKEN.sub("-", text).strip("-").lower()
    return slug if slug and (slug[0].isalpha() or slug[0] == "_") else f"req-{slug}"


def oscal_from_coverage(cov: FrameworkCoverage, when: str) -> dict[str, Any]:
    findings = []
    for req in cov.requirements:
        if req.status == "not_applicable":
            continue
        controls = "; ".join(f"{c.control} ({c.status})" for c in req.controls) or "no control mapped"
        findings.append({
            "uuid": _uuid("finding", cov.system, req.ref, req.status),
            "title": f"{req.id} {req.title}"[:250],
            "description": f"{req.status}: {req.why}. Controls: {controls}.",
            "props": [{"name": "charter-status", "value": req.status}],
            "target": {
                "type": "objective-id",
                "target-id": _token(req.id),
                "status": {"state": "satisfied" if req.status == "met" else "not-satisfied"},
            },
        })  # fmt: skip
    excluded = [{"control-id": _token(r.id)} for r in cov.requirements if r.status == "not_applicable"]
    selection: dict[str, Any] = {"include-all": {}}
    if excluded:
        selection["exclude-controls"] = excluded
    result: dict[str, Any] = {
        "uuid": _uuid("result", cov.system, cov.framework, cov.digest()),
        "title": f"Coverage of {cov.title} for {cov.system}",
        "description": (f"Computed by Charter from the system's data: {cov.counts['met']} met, {cov.counts['partial']} "
                        f"partial, {cov.counts['missing']} missing, {cov.counts['not_applicable']} not applicable."),
        "start": when,
        "reviewed-controls": {"control-selections": [selection]},
    }  # fmt: skip
    if findings:
        result["findings"] = findings
    return {
        "assessment-results": {
            "uuid": _uuid("assessment-results", cov.system, cov.framework, cov.digest(), when),
            "metadata": {
                "title": f"Charter compliance coverage: {cov.system}, {cov.title}",
                "last-modified": when,
                "version": cov.digest()[:12],
                "oscal-version": OSCAL_VERSION,
                "props": [
                    {"name": "framework", "value": cov.framework},
                    {"name": "framework-version", "value": cov.version},
                ],
            },
            "import-ap": {"href": f"#charter-assessment-plan-{_token(cov.framework)}"},
            "results": [result],
        }
    }


def oscal(ctx: Ctx, system_key: str, framework_id: str) -> dict[str, Any]:
    ctx.require("compliance:export")
    doc = oscal_from_coverage(coverage(ctx, system_key, framework_id), isoformat(ctx.now()))
    validate_oscal_assessment_results(doc)
    return doc
