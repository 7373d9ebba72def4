"""The role matrix: the one place that says which role may do what.

Permissions are also the scope vocabulary of machine tokens: a token acts with the
permissions of its owner's role, narrowed to its scopes. docs/access.md documents this table.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

Role = Literal["admin", "governance", "approver", "engineer", "auditor", "viewer"]
ROLES: Final[tuple[Role, ...]] = get_args(Role)

# Every permission Charter knows, with what it allows.
PERMISSIONS: Final[dict[str, str]] = {
    "systems:read": "read AI systems",
    "systems:write": "register and edit AI systems",
    "systems:transition": "move an AI system between lifecycle stages",
    "systems:classify": "set an AI system's EU AI Act risk tier",
    "audit:read": "read the audit ledger",
    "audit:verify": "verify the ledger and export it",
    "audit:checkpoint": "create a signed ledger checkpoint",
    "users:read": "list users",
    "users:manage": "create, change and disable users",
    "tokens:manage": "create and revoke tokens for any user",
    "tokens:own": "create and revoke one's own tokens",
    "risks:read": "read the risk register",
    "risks:write": "add, assess and treat risks",
    "risks:accept": "accept a residual risk",
    "risks:matrix": "install risk matrices",
    "sops:read": "read procedure templates and runs",
    "sops:manage": "install procedure templates",
    "reviews:run": "start procedure runs and answer their items",
    "reviews:signoff": "sign off (approve or reject) a procedure run",
    "reviews:exception": "approve an exception for a failed required item",
    "evidence:read": "read and download evidence",
    "evidence:write": "attach evidence",
    "releases:read": "read releases",
    "releases:request": "submit releases and request promotion",
    "releases:approve": "approve or reject releases",
    "releases:deploy": "promote and roll back releases",
    "prompts:read": "read and serve prompts, their versions, diffs and label history",
    "prompts:write": "create prompt versions and move unprotected labels",
    "prompts:manage": "choose which prompt labels are protected (they then move only through releases)",
    "policies:read": "read gate policies",
    "policies:manage": "create and change gate policies",
    "gate:check": "evaluate a deployment gate",
    "deploy:verify": "verify a running artifact against the deployed release",
    "metrics:read": "read metrics, alerts and drift",
    "metrics:write": "push metrics and drift data",
    "alerts:manage": "create and change alert rules",
    "evals:read": "read evaluation datasets, targets, runs, benchmarks and calibrations",
    "evals:write": "import evaluation datasets, add targets, start runs, benchmarks, calibrations and schedules",
    "evals:rate": "rate answers in a blinded expert benchmark",
    "incidents:read": "read incidents",
    "incidents:write": "open, update and handle incidents",
    "incidents:manage": "change escalation policies and close incidents",
    "redteam:read": "read red-team runs, attempts and findings",
    "redteam:write": "run probe suites against a system and import scanner reports",
    "redteam:triage": "triage red-team findings (triaged, false positive, reopen)",
    "redteam:accept": "accept a red-team finding's risk",
    "data:read": "read the dataset register, lineage and PII audits",
    "data:write": "register and change datasets, run PII audits",
    "data:delete": "record the deletion of a dataset",
    "lineage:write": "send OpenLineage events",
    "pii:guard": "send text through the PII guard and restore vendor answers",
    "pii:manage": "set per-vendor PII egress policies",
    "feedback:read": "read interactions, end-user feedback, review queues and reviews",
    "feedback:write": "flag or rate an AI output (end-user feedback)",
    "feedback:manage": "create feedback keys and review queues, change feedback settings",
    "interactions:write": "send AI interactions (and poll held outputs' decisions)",
    "queues:review": "take items of review queues and approve, edit or reject them",
    "telemetry:write": "send OpenTelemetry traces (OTLP/HTTP) for AI systems",
    "notifications:own": "read one's notifications and choose one's own channels and subscriptions",
    "notifications:manage": "manage organisation-wide notification channels and read the delivery log",
    "compliance:read": "read framework catalogs, control mappings and coverage",
    "compliance:manage": "edit control mappings, install organisation catalogs, set applicability, record coverage",
    "compliance:export": "build evidence packs and exports (CycloneDX, OSCAL, model cards)",
}

_READ = {p for p in PERMISSIONS if p.endswith(":read")} - {"users:read"}

ROLE_PERMISSIONS: Final[dict[str, frozenset[str]]] = {
    "viewer": frozenset((_READ - {"audit:read"}) | {"notifications:own", "feedback:write"}),
    "auditor": frozenset(_READ | {"audit:verify", "users:read", "notifications:own", "compliance:export"}),
    "engineer": frozenset(
        _READ
        | {
            "systems:write",
            "systems:transition",
            "tokens:own",
            "risks:write",
            "reviews:run",
            "evidence:write",
            "releases:request",
            "releases:deploy",
            "prompts:write",
            "gate:check",
            "deploy:verify",
            "metrics:write",
            "telemetry:write",
            "alerts:manage",
            "evals:write",
            "evals:rate",
            "incidents:write",
            "redteam:write",
            "redteam:triage",
            "data:write",
            "lineage:write",
            "pii:guard",
            "notifications:own",
            "feedback:write",
            "feedback:manage",
            "interactions:write",
            "queues:review",
        }
    ),
    "approver": frozenset(
        _READ
        | {
            "tokens:own",
            "reviews:run",
            "reviews:signoff",
            "evidence:write",
            "releases:approve",
            "gate:check",
            "evals:rate",
            "incidents:write",
            "notifications:own",
            "feedback:write",
            "queues:review",
        }
    ),
    "governance": frozenset(
        _READ
        | {
            "systems:write",
            "systems:transition",
            "systems:classify",
            "tokens:own",
            "users:read",
            "audit:verify",
            "audit:checkpoint",
            "risks:write",
            "risks:accept",
            "risks:matrix",
            "sops:manage",
            "reviews:run",
            "reviews:signoff",
            "reviews:exception",
            "evidence:write",
            "releases:approve",
            "prompts:manage",
            "policies:manage",
            "gate:check",
            "alerts:manage",
            "evals:write",
            "evals:rate",
            "incidents:write",
            "incidents:manage",
            "redteam:write",
            "redteam:triage",
            "redteam:accept",
            "data:write",
            "data:delete",
            "lineage:write",
            "pii:guard",
            "pii:manage",
            "notifications:own",
            "notifications:manage",
            "compliance:manage",
            "compliance:export",
            "feedback:write",
            "feedback:manage",
            "queues:review",
        }
    ),
    "admin": frozenset(PERMISSIONS),
}


def permissions_for(role: str) -> frozenset[str]:
    return ROLE_PERMISSIONS.get(role, frozenset())
