"""`charter release ...` and `charter deploy ...` (also `charter release deploy ...`), through the API."""

from __future__ import annotations

from typing import Any

import typer

from charter.kit.cli import JsonOpt, client, fail, handle_errors, output, print_json

app = typer.Typer(help="Releases: submit, approve, promote through stages, roll back, diff.", no_args_is_help=True)
gate_app = typer.Typer(help="Deployment gates: evaluate a stage's policies for a release.", no_args_is_help=True)
deploy_app = typer.Typer(help="Deployments: verify a running artifact, list shadow suspicions.", no_args_is_help=True)
app.add_typer(deploy_app, name="deploy")
SUMMARY = ("version", "change_type", "summary", "requested_by", "submitted_at", "statuses")
MOVES = ("id", "stage", "kind", "from_version", "to_version", "actor", "at", "reason", "incident")


def sha256_of(path: str) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def parse_artifact(text: str) -> dict[str, str]:
    """'kind=model,name=clf,uri=s3://b/m.bin,file=./m.bin' (or sha256=<hex> instead of file=)."""
    fields: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep or key.strip() not in {"kind", "name", "uri", "sha256", "file"}:
            raise ValueError(
                f"--artifact {text!r}: use kind=...,name=...,uri=...,file=PATH (or sha256=HEX); "
                f"'{part}' is not one of those"
            )
        fields[key.strip()] = value.strip()
    if "file" in fields:
        fields["sha256"] = sha256_of(fields.pop("file"))
    missing = [k for k in ("kind", "name", "uri", "sha256") if k not in fields]
    if missing:
        raise ValueError(f"--artifact {text!r} lacks {', '.join(missing)} (give file=PATH to compute sha256)")
    return fields


def _statuses(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**r, "statuses": ", ".join(f"{k}: {v}" for k, v in r["statuses"].items())} for r in rows]


def _show(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(data)
        return
    ch = data["change"]
    typer.echo(
        f"{data['system']} release {data['version']}  ({ch['type']}) by {data['requested_by']}, {data['submitted_at']}"
    )
    typer.echo(f"  summary: {ch['summary']}")
    if ch["expected_impact"]:
        typer.echo(f"  expected impact: {ch['expected_impact']}")
    if ch["risk_keys"]:
        typer.echo(f"  risks touched: {', '.join(ch['risk_keys'])}")
    typer.echo(f"  content hash: {data['content_hash']}")
    for a in data["artifacts"]:
        typer.echo(f"  artifact {a['kind']:<8} {a['name']:<24} {a['sha256'][:16]}…  {a['uri']}")
    for s in data["stages"]:
        typer.echo(f"  stage {s['stage']:<10} {s['status']:<17} (next: {', '.join(s['allowed_transitions']) or '-'})")
    for d in data["approvals"]:
        valid = "" if d["valid"] else "  [IGNORED: bound to other content]"
        typer.echo(f"  {d['decision']:<7} {d['stage']:<10} by {d['user']} ({d['role']}): {d['comment']}{valid}")


@app.command("submit")
@handle_errors
def submit(
    system: str = typer.Argument(..., help="system key"),
    artifact: list[str] = typer.Option(..., "--artifact", help="kind=model,name=clf,uri=s3://...,file=PATH (repeat)"),
    summary: str = typer.Option(..., help="what changes"),
    change_type: str = typer.Option(
        ..., "--type", help="new_model, retrain, prompt_change, config_change or data_change"
    ),
    impact: str = typer.Option("", help="expected impact"),
    risk: list[str] = typer.Option(None, "--risk", help="key of a risk this change touches (repeat)"),
    as_json: bool = JsonOpt,
) -> None:
    """Submit a new, immutable release (SHA-256 computed from file=PATH)."""
    body = {
        "artifacts": [parse_artifact(a) for a in artifact],
        "change": {"summary": summary, "type": change_type, "expected_impact": impact, "risk_keys": risk or []},
    }
    with client() as c:
        data = c.post(f"/api/v1/systems/{system}/releases", body)
    if as_json:
        print_json(data)
    else:
        typer.echo(f"submitted {system} release {data['version']} (content hash {data['content_hash'][:16]}…)")


@app.command("list")
@handle_errors
def list_(system: str, as_json: bool = JsonOpt) -> None:
    """List a system's releases and their status per stage."""
    with client() as c:
        rows = c.get(f"/api/v1/systems/{system}/releases")
    output(rows if as_json else _statuses(rows), SUMMARY, as_json)


@app.command("show")
@handle_errors
def show(system: str, version: int, as_json: bool = JsonOpt) -> None:
    """Show a release: artifacts, change record, stages and approvals."""
    with client() as c:
        _show(c.get(f"/api/v1/systems/{system}/releases/{version}"), as_json)


@app.command("diff")
@handle_errors
def diff(system: str, v1: int, v2: int, as_json: bool = JsonOpt) -> None:
    """What changed between two releases: artifacts and change record."""
    with client() as c:
        d = c.get(f"/api/v1/systems/{system}/releases/{v1}/diff/{v2}")
    if as_json:
        print_json(d)
        return
    if d["same_content"]:
        typer.echo(f"releases {v1} and {v2} have the same content")
        return
    arts = d["artifacts"]
    for a in arts["added"]:
        typer.echo(f"+ {a['kind']} {a['name']}  {a['sha256'][:16]}…  {a['uri']}")
    for a in arts["removed"]:
        typer.echo(f"- {a['kind']} {a['name']}  {a['sha256'][:16]}…  {a['uri']}")
    for a in arts["changed"]:
        for field, (old, new) in a["changes"].items():
            typer.echo(f"~ {a['kind']} {a['name']} {field}: {old} -> {new}")
    for field, (old, new) in d["change"].items():
        typer.echo(f"~ change.{field}: {old} -> {new}")
    typer.echo(f"({arts['unchanged']} artifact(s) unchanged)")


@app.command("request")
@handle_errors
def request(system: str, version: int, stage: str = typer.Option(...), reason: str = typer.Option(None)) -> None:
    """Request promotion of a release to a stage (status: pending_approval)."""
    with client() as c:
        c.post(f"/api/v1/systems/{system}/releases/{version}/requests", {"stage": stage, "reason": reason})
    typer.echo(f"{system} release {version}: requested for {stage} (pending_approval)")


def _decide(system: str, version: int, stage: str, decision: str, comment: str) -> None:
    with client() as c:
        data = c.post(
            f"/api/v1/systems/{system}/releases/{version}/approvals",
            {"stage": stage, "decision": decision, "comment": comment},
        )
    status = next((s["status"] for s in data["stages"] if s["stage"] == stage), "?")
    typer.echo(f"{system} release {version}: {decision}d for {stage}; status there is now '{status}'")


@app.command("approve")
@handle_errors
def approve(system: str, version: int, stage: str = typer.Option(...), comment: str = typer.Option("")) -> None:
    """Approve a release for a stage (not your own; bound to its content hash)."""
    _decide(system, version, stage, "approve", comment)


@app.command("reject")
@handle_errors
def reject(system: str, version: int, stage: str = typer.Option(...), comment: str = typer.Option(...)) -> None:
    """Reject a release for a stage, saying what must change."""
    _decide(system, version, stage, "reject", comment)


@app.command("withdraw")
@handle_errors
def withdraw(system: str, version: int, stage: str = typer.Option(...), reason: str = typer.Option(...)) -> None:
    """Withdraw a release from a stage (a deployed one leaves the stage empty)."""
    with client() as c:
        c.post(f"/api/v1/systems/{system}/releases/{version}/withdraw", {"stage": stage, "reason": reason})
    typer.echo(f"{system} release {version}: withdrawn from {stage}")


@app.command("promote")
def promote(
    system: str,
    version: int,
    stage: str = typer.Option(...),
    reason: str = typer.Option(None),
    as_json: bool = JsonOpt,
) -> None:
    """Deploy a release to a stage. The gate is evaluated now; a refusal lists the failing rules (exit 1)."""
    from charter.client import ClientError

    try:
        with client() as c:
            data = c.post(f"/api/v1/systems/{system}/releases/{version}/promote", {"stage": stage, "reason": reason})
    except ClientError as exc:
        failed = exc.problem.get("failed_rules")
        if not failed:
            raise fail(
                f"{exc.detail}" + (f" [{exc.status}]" if exc.status else ""), 2 if exc.status == 422 else 1
            ) from None
        if as_json:
            print_json(exc.problem)
        else:
            typer.echo(
                f"refused: the gate to {stage} failed for {system} release {version} "
                f"(evaluation #{exc.problem.get('gate_evaluation_id')})",
                err=True,
            )
            for r in failed:
                typer.echo(f"  FAIL  {r['rule']} — {r['reason']}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        print_json(data)
    else:
        d = data["deployment"]
        was = f" (was release {d['from_version']})" if d["from_version"] else ""
        typer.echo(f"{system} release {version} is deployed at {stage}{was}; gate evaluation #{data['gate']['id']}")


@app.command("rollback")
@handle_errors
def rollback(
    system: str,
    stage: str = typer.Option(...),
    to: int = typer.Option(None, "--to", help="release version (default: the one deployed before)"),
    reason: str = typer.Option(..., help="why (kept in the history and the ledger)"),
    incident: str = typer.Option(None, help="incident key"),
    emergency: bool = typer.Option(False, "--emergency", help="log as an emergency rollback"),
    as_json: bool = JsonOpt,
) -> None:
    """Redeploy the previous (or a named) release at a stage. Never waits for approvals."""
    body = {"stage": stage, "to_version": to, "reason": reason, "incident": incident, "emergency": emergency}
    with client() as c:
        d = c.post(f"/api/v1/systems/{system}/rollback", body)
    if as_json:
        print_json(d)
        return
    typer.echo(
        f"{system} at {stage}: rolled back from release {d['from_version']} to release {d['to_version']} ({d['kind']})"
    )
    rb = d.get("runbook") or {}
    if rb.get("started"):
        typer.echo(f"rollback runbook started (run {rb.get('run_id')})")
    elif rb:
        typer.echo(f"warning: the rollback runbook was not started: {rb.get('error')}", err=True)


@app.command("history")
@handle_errors
def history(system: str, stage: str = typer.Option(None), as_json: bool = JsonOpt) -> None:
    """Every deployment pointer move: who, when, from, to, why."""
    with client() as c:
        output(c.get(f"/api/v1/systems/{system}/deployments/history", stage=stage), MOVES, as_json)


@app.command("deployed")
@handle_errors
def deployed(
    system: str,
    stage: str = typer.Option(None, help="with --at: the stage to ask about"),
    at: str = typer.Option(None, help="ISO time, e.g. 2026-03-01T12:00:00Z: what was deployed then"),
    as_json: bool = JsonOpt,
) -> None:
    """What is deployed at each stage now (or at one stage at a past time)."""
    with client() as c:
        if at:
            if not stage:
                raise ValueError("--at needs --stage")
            output(
                c.get(f"/api/v1/systems/{system}/deployments/at", stage=stage, at=at),
                ("stage", "version", "since"),
                as_json,
            )
            return
        data = c.get(f"/api/v1/systems/{system}/deployments")
    if as_json:
        print_json(data)
        return
    output(data["deployed"], ("stage", "version", "since"), False)
    shadows = data["possible_shadow_deployments"]
    if shadows:
        typer.echo(f"{len(shadows)} recent failed verification(s) — possible shadow deployments:")
        for v in shadows:
            typer.echo(f"  {v['at']} {v['stage']} {v['sha256'][:16]}… {v['result']} (caller {v['caller']})")


@app.command("stages")
@handle_errors
def stages(
    system: str,
    set_: str = typer.Option(None, "--set", help="comma-separated stages, e.g. sandbox,production"),
    reason: str = typer.Option(None),
    as_json: bool = JsonOpt,
) -> None:
    """Show (or set) the release stages a system goes through."""
    with client() as c:
        current = c.get(f"/api/v1/systems/{system}/release-stages")
        if set_:
            body = {
                "stages": [s.strip() for s in set_.split(",") if s.strip()],
                "version": current["version"],
                "reason": reason,
            }
            current = c.request("PUT", f"/api/v1/systems/{system}/release-stages", json=body)
    if as_json:
        print_json(current)
    else:
        typer.echo(f"{system}: {' -> '.join(current['stages'])}{'' if current['configured'] else ' (default)'}")


@deploy_app.command("verify")
def verify(
    system: str,
    stage: str = typer.Option("production"),
    sha256: str = typer.Option(None, help="SHA-256 of the running artifact"),
    file: str = typer.Option(None, help="compute the SHA-256 of this file"),
    as_json: bool = JsonOpt,
) -> None:
    """Does this artifact belong to the release deployed at the stage? Exit 0 yes, 1 no, 2 error."""
    from charter.client import ClientError

    if bool(sha256) == bool(file):
        raise fail("give exactly one of --sha256 or --file", 2)
    try:
        digest = sha256 or sha256_of(file)
        with client() as c:
            data = c.get(f"/api/v1/systems/{system}/deployments/verify", stage=stage, sha256=digest)
    except ClientError as exc:
        raise fail(f"{exc.detail}" + (f" [{exc.status}]" if exc.status else ""), 2) from None
    except OSError as exc:
        raise fail(str(exc), 2) from None
    if as_json:
        print_json(data)
    else:
        typer.echo(f"{'verified' if data['verified'] else 'NOT VERIFIED'}: {data['message']}")
    raise typer.Exit(0 if data["verified"] else 1)


@deploy_app.command("verifications")
@handle_errors
def verifications(system: str, flagged: bool = typer.Option(False, "--flagged"), as_json: bool = JsonOpt) -> None:
    """Recorded verifications (--flagged: possible shadow deployments only)."""
    with client() as c:
        rows = c.get(f"/api/v1/systems/{system}/deployments/verifications", flagged=True if flagged else None)
    output(rows, ("id", "at", "stage", "result", "deployed_version", "artifact_versions", "caller"), as_json)


@gate_app.command("check")
def check(
    system: str = typer.Argument(..., help="system key"),
    version: int = typer.Argument(..., help="release version"),
    stage: str = typer.Option(..., help="target stage: sandbox, pilot or production"),
    as_json: bool = JsonOpt,
    show_facts: bool = typer.Option(False, "--facts", help="include the facts document"),
) -> None:
    """Evaluate the gate. Exit 0 when it passes, 1 when it does not, 2 on usage or connection errors."""
    from charter.client import ClientError

    try:
        with client() as c:
            data = c.post(
                f"/api/v1/systems/{system}/releases/{version}/gate?stage={stage}"
                + ("&include_facts=true" if show_facts else "")
            )
    except ClientError as exc:
        raise fail(f"{exc.detail}" + (f" [{exc.status}]" if exc.status else ""), 2) from None
    if as_json:
        print_json(data)
    else:
        from charter.policy.cli import print_gate

        print_gate(data)
        if show_facts:
            print_json(data["facts"])
    raise typer.Exit(0 if data["passed"] else 1)
