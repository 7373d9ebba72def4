"""Prompt registry use cases that change state: create a version, move an unprotected label, protect labels,
push a folder, import from Langfuse or MLflow. Each checks its permission, changes rows, appends to the ledger;
flushes, never commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from charter.context import Ctx
from charter.inventory.models import AISystem
from charter.inventory.queries import get_system
from charter.kit.errors import Conflict, StaleVersion, ValidationFailed
from charter.ledger.chain import snapshot
from charter.prompts import exchange, rules
from charter.prompts.errors import PromptError
from charter.prompts.files import PromptFile, plan_push
from charter.prompts.labels import LabelProtected, Via, check_cycles, set_label
from charter.prompts.models import Prompt, PromptLabel, PromptLabelEvent, PromptSettings, PromptVersion
from charter.prompts.queries import find_prompt, latest_hashes, protected, version_row
from charter.prompts.schemas import ImportIn, LabelMove, PushIn, SettingsIn, VersionCreate
from charter.prompts.templates import PromptContent


@dataclass(frozen=True)
class Created:
    system: AISystem
    prompt: Prompt
    row: PromptVersion
    created: bool


def _tags(tags: Sequence[str] | None) -> list[str] | None:
    if tags is None:
        return None
    for tag in tags:
        if not isinstance(tag, str) or not tag.strip() or len(tag) > 64:
            raise ValidationFailed(
                f"tag {tag!r} is not valid: non-empty text of at most 64 characters",
                errors=[{"loc": ["body", "tags"], "msg": "invalid tag"}],
            )
    return sorted({t.strip() for t in tags})


def _content(data: dict[str, Any], where: str | None = None) -> PromptContent:
    try:
        return PromptContent.from_dict(data)
    except PromptError as exc:
        raise rules.PromptInputError(exc, where) from None


def _lock_prompt(ctx: Ctx, system: AISystem, name: str) -> Prompt | None:
    stmt = select(Prompt).where(Prompt.system_id == system.id, Prompt.name == name)
    if ctx.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()  # numbering: concurrent versions of one prompt queue on its row
    return ctx.session.execute(stmt.execution_options(populate_existing=True)).scalar_one_or_none()


def add_version(
    ctx: Ctx,
    system: AISystem,
    name: str,
    content: PromptContent,
    *,
    message: str = "",
    tags: Sequence[str] | None = None,
    base_version: int | None = None,
) -> Created:
    """A new immutable version of `name` (the prompt is created with its first). The same content as the latest
    version creates nothing (`created` false): pushes are idempotent."""
    rules.check_name(name)
    clean_tags = _tags(tags)
    prompt = _lock_prompt(ctx, system, name)
    latest = prompt.latest if prompt is not None else 0
    if base_version is not None and base_version != latest:
        raise Conflict(
            f"prompt '{name}' is at version {latest}, you edited version {base_version}: someone created a version "
            "meanwhile. Look at the latest (charter prompt diff), then apply your change again.",
            current_version=latest,
        )
    if prompt is not None and prompt.type != content.type:
        raise Conflict(f"prompt '{name}' is a {prompt.type} prompt; a new version must be {prompt.type} too")
    now = ctx.now()
    if prompt is not None:
        last = version_row(ctx.session, prompt, prompt.latest) if prompt.latest else None
        if last is not None and last.hash == content.hash:
            if clean_tags is not None and clean_tags != list(prompt.tags or []):
                before = snapshot(prompt, exclude=frozenset({"id"}))
                prompt.tags = clean_tags
                prompt.updated_at = now
                prompt.version += 1
                ctx.session.flush()
                ctx.record(
                    "prompt.tagged", "prompt", f"{system.key}/{name}", before, snapshot(prompt, frozenset({"id"}))
                )
            return Created(system, prompt, last, False)
    number = latest + 1
    check_cycles(ctx, system, name, content, number)
    if prompt is None:
        prompt = Prompt(
            system_id=system.id,
            name=name,
            type=content.type,
            tags=clean_tags or [],
            latest=number,
            created_by=ctx.principal.name,
            created_at=now,
            updated_at=now,
            version=1,
        )
        ctx.session.add(prompt)
    else:
        prompt.latest = number
        prompt.updated_at = now
        prompt.version += 1
        if clean_tags is not None:
            prompt.tags = clean_tags
    ctx.session.flush()
    row = PromptVersion(
        prompt_id=prompt.id,
        number=number,
        hash=content.hash,
        content=content.to_dict(),
        variables=sorted(content.variables()),
        includes=[str(ref) for ref in content.include_refs()],
        message=message,
        author=ctx.principal.name,
        author_id=ctx.principal.user_id,
        created_at=now,
    )
    ctx.session.add(row)
    ctx.session.flush()
    ctx.record(
        "prompt.version.created",
        "prompt",
        f"{system.key}/{name}",
        after={"version": number, "hash": content.hash, "type": content.type, "message": message},
        reason=message or None,
    )
    return Created(system, prompt, row, True)


def create_version(ctx: Ctx, key: str, data: VersionCreate) -> Created:
    ctx.require("prompts:write")
    system = get_system(ctx.session, key)
    content = _content(data.content_dict())
    return add_version(
        ctx, system, data.name, content, message=data.message, tags=data.tags, base_version=data.base_version
    )


def move_label(ctx: Ctx, key: str, name: str, label: str, data: LabelMove) -> PromptLabelEvent:
    """Move an unprotected label to a version (protected labels: LabelProtected, naming the release process)."""
    ctx.require("prompts:write")
    rules.check_label(label)
    system = get_system(ctx.session, key)
    prompt = find_prompt(ctx.session, system, name)
    row = version_row(ctx.session, prompt, data.version)
    if label in protected(ctx.session, system.id):
        raise LabelProtected(key, name, label, data.version, rules.sha256_hex(row.hash))
    pointer = ctx.session.get(PromptLabel, (prompt.id, label))
    current = pointer.number if pointer is not None else 0
    if data.current is not None and data.current != current:
        raise StaleVersion(f"label '{label}' of {key}/{name}", data.current, current)
    if current == data.version:
        raise Conflict(f"label '{label}' of {key}/{name} already points at version {data.version}")
    event = set_label(ctx, system, prompt, label, data.version, data.reason, Via("direct"))
    if event is None:  # pragma: no cover - set_label moves whenever the target differs
        raise AssertionError("label did not move")
    return event


def save_settings(ctx: Ctx, key: str, data: SettingsIn) -> PromptSettings:
    """Which labels of the system's prompts are protected (governance)."""
    ctx.require("prompts:manage")
    system = get_system(ctx.session, key)
    labels = sorted({rules.check_label(label) for label in data.protected_labels})
    row = ctx.session.get(PromptSettings, system.id)
    now = ctx.now()
    if row is None:
        if data.version not in (None, 0):
            raise StaleVersion(f"prompt settings of {key}", data.version, 0)
        row = PromptSettings(
            system_id=system.id, protected_labels=labels, updated_by=ctx.principal.actor, updated_at=now, version=1
        )
        ctx.session.add(row)
        before = {"protected_labels": list(rules.DEFAULT_PROTECTED)}
    else:
        if data.version is not None and data.version != row.version:
            raise StaleVersion(f"prompt settings of {key}", data.version, row.version)
        before = {"protected_labels": list(row.protected_labels)}
        row.protected_labels = labels
        row.updated_by = ctx.principal.actor
        row.updated_at = now
        row.version += 1
    ctx.session.flush()
    ctx.record("prompt.settings", "system", key, before=before, after={"protected_labels": labels}, reason=data.reason)
    return row


# ----------------------------------------------------------------------------- prompts as code, exchange


def _ordered(files: Sequence[PromptFile]) -> list[PromptFile]:
    """Files in an order where included prompts come before the prompts including them (then by name)."""
    by_name = {f.name: f for f in files}
    done: set[str] = set()
    out: list[PromptFile] = []

    def visit(f: PromptFile, seen: frozenset[str]) -> None:
        if f.name in done or f.name in seen:
            return
        for ref in f.content.include_refs():
            if ref.name in by_name:
                visit(by_name[ref.name], seen | {f.name})
        done.add(f.name)
        out.append(f)

    for f in sorted(files, key=lambda f: f.name):
        visit(f, frozenset())
    return out


def push(ctx: Ctx, key: str, data: PushIn) -> dict[str, Any]:
    """Sync a folder of prompt files: new and changed prompts get a version, unchanged ones nothing. The whole
    folder is checked first; one bad file stores nothing."""
    ctx.require("prompts:write")
    system = get_system(ctx.session, key)
    files = []
    for item in data.files:
        rules.check_name(item.name)
        body = item.model_dump(include={"type", "template", "messages", "config"})
        if item.type == "chat":
            body.pop("template")
        else:
            body.pop("messages")
        files.append(PromptFile(item.path, item.name, _content(body, item.path), tuple(item.tags), item.message))
    names = [f.name for f in files]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValidationFailed(f"prompt name(s) given by more than one file: {', '.join(twice)}; keep one per prompt")
    plan = plan_push(files, latest_hashes(ctx.session, system))
    created: list[str] = []
    if not data.dry_run:
        for f in _ordered(files):
            done = add_version(ctx, system, f.name, f.content, message=f.message or data.message or "", tags=f.tags)
            if done.created:
                created.append(f"{f.name}@{done.row.number}")
    return {**plan.to_dict(), "created": created, "dry_run": data.dry_run}


def import_prompts(ctx: Ctx, key: str, data: ImportIn) -> dict[str, Any]:
    """Versions from a Langfuse or MLflow export, oldest first per prompt; unchanged content creates nothing.
    Unprotected labels are set; protected ones are listed as skipped (they move only through a release)."""
    ctx.require("prompts:write")
    system = get_system(ctx.session, key)
    try:
        reader = exchange.from_langfuse if data.format == "langfuse" else exchange.from_mlflow
        versions = reader(data.document)
    except PromptError as exc:
        raise rules.PromptInputError(exc) from None
    guarded = set(protected(ctx.session, system.id))
    created: list[str] = []
    labelled: list[str] = []
    skipped: list[str] = []
    for item in sorted(versions, key=lambda v: (v.name, v.version or 0)):
        done = add_version(ctx, system, item.name, item.content, message=item.message or "", tags=item.tags or None)
        if done.created:
            created.append(f"{item.name}@{done.row.number}")
        for label in item.labels:
            if label in guarded or label == rules.LATEST:
                skipped.append(f"{item.name}@{label}")
                continue
            rules.check_label(label)
            moved = set_label(
                ctx, system, done.prompt, label, done.row.number, f"imported from {data.format}", Via("direct")
            )
            if moved is not None:
                labelled.append(f"{item.name}@{label} → {done.row.number}")
    return {"versions": len(versions), "created": created, "labels": labelled, "skipped_protected": skipped}
