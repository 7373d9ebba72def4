"""Reads of the prompt registry (also what the console shows): check the permission, never write.

Serving (`resolve`) answers `name@label` / `name@version` with every include spliced in. Its result is cached
under the ledger head (kit.cache.HeadCache): every version and label move is ledgered, so the head changes with
each one and a cached answer is right while the head is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from charter.context import Ctx
from charter.inventory.models import AISystem
from charter.inventory.queries import get_system
from charter.kit.cache import HeadCache
from charter.kit.errors import NotFound
from charter.ledger.head import session_head
from charter.prompts import rules
from charter.prompts.compose import IncludedPrompt, ResolvedPrompt
from charter.prompts.compose import resolve as compose
from charter.prompts.diff import PromptDiff, diff_prompts
from charter.prompts.errors import IncludeError, PromptError
from charter.prompts.exchange import ExchangeVersion, to_langfuse, to_mlflow
from charter.prompts.models import Prompt, PromptLabel, PromptLabelEvent, PromptSettings, PromptVersion
from charter.prompts.schemas import LabelEventRead, LabelRead, PromptRead, SettingsRead, VersionRead
from charter.prompts.templates import ChatMessage, PromptContent, PromptRef, canonical_json
from charter.releases.models import Release

# ----------------------------------------------------------------------------- rows


def find_prompt(session: Session, system: AISystem, name: str) -> Prompt:
    found = session.execute(
        select(Prompt).where(Prompt.system_id == system.id, Prompt.name == name)
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(f"system '{system.key}' has no prompt named '{name}'", entity="prompt")
    return found


def version_row(session: Session, prompt: Prompt, number: int, system_key: str = "") -> PromptVersion:
    row = session.execute(
        select(PromptVersion).where(PromptVersion.prompt_id == prompt.id, PromptVersion.number == number)
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(
            f"prompt '{prompt.name}' has no version {number}; its versions are 1 to {prompt.latest}",
            entity="prompt_version",
        )
    return row


def label_rows(session: Session, prompt_id: int) -> list[PromptLabel]:
    return list(
        session.execute(select(PromptLabel).where(PromptLabel.prompt_id == prompt_id).order_by(PromptLabel.label))
        .scalars()
        .all()
    )


def settings_row(session: Session, system_id: int) -> PromptSettings | None:
    return session.get(PromptSettings, system_id)


def protected(session: Session, system_id: int) -> list[str]:
    row = settings_row(session, system_id)
    return rules.protected_labels(row.protected_labels if row is not None else None)


def content_of(row: PromptVersion) -> PromptContent:
    """A stored version's content (checked when it was created: not parsed again)."""
    data = row.content
    messages = (
        None if data.get("messages") is None else [ChatMessage(m["role"], m["content"]) for m in data["messages"]]
    )
    return PromptContent.trusted(data["type"], template=data.get("template"), messages=messages, config=data["config"])


def number_for(session: Session, prompt: Prompt, label: str | None, version: int | None) -> int:
    """The version number a label or version selects (label `latest`: the newest)."""
    if version is not None:
        return version
    if label is None or label == rules.LATEST:
        if prompt.latest == 0:
            raise NotFound(f"prompt '{prompt.name}' has no versions yet", entity="prompt_version")
        return prompt.latest
    row = session.get(PromptLabel, (prompt.id, label))
    if row is None:
        labels = ", ".join(r.label for r in label_rows(session, prompt.id)) or "none"
        raise NotFound(
            f"prompt '{prompt.name}' has no label '{label}' (its labels: {labels}; 'latest' is the newest version)",
            entity="prompt_label",
        )
    return row.number


# ----------------------------------------------------------------------------- read models


def to_read(session: Session, system: AISystem, prompt: Prompt) -> PromptRead:
    return PromptRead(
        system=system.key,
        name=prompt.name,
        type=prompt.type,
        tags=list(prompt.tags or []),
        latest=prompt.latest,
        labels={r.label: r.number for r in label_rows(session, prompt.id)},
        protected_labels=protected(session, system.id),
        created_by=prompt.created_by,
        created_at=prompt.created_at,
        updated_at=prompt.updated_at,
        version=prompt.version,
    )


def version_read(
    session: Session, system: AISystem, prompt: Prompt, row: PromptVersion, created: bool = True
) -> VersionRead:
    data = row.content
    labels = [r.label for r in label_rows(session, prompt.id) if r.number == row.number]
    if row.number == prompt.latest:
        labels.append(rules.LATEST)
    return VersionRead(
        system=system.key,
        name=prompt.name,
        version=row.number,
        name_at_version=f"{prompt.name}@{row.number}",
        hash=row.hash,
        sha256=rules.sha256_hex(row.hash),
        type=data["type"],
        template=data.get("template"),
        messages=data.get("messages"),
        config=data["config"],
        variables=list(row.variables),
        includes=list(row.includes),
        message=row.message,
        author=row.author,
        created_at=row.created_at,
        labels=labels,
        created=created,
    )


def list_prompts(ctx: Ctx, key: str, q: str | None = None, tag: str | None = None) -> list[PromptRead]:
    ctx.require("prompts:read")
    system = get_system(ctx.session, key)
    stmt = select(Prompt).where(Prompt.system_id == system.id).order_by(Prompt.name)
    if q:
        stmt = stmt.where(Prompt.name.contains(q, autoescape=True))
    rows = ctx.session.execute(stmt).scalars().all()
    return [to_read(ctx.session, system, p) for p in rows if tag is None or tag in (p.tags or [])]


def read_prompt(ctx: Ctx, key: str, name: str) -> PromptRead:
    ctx.require("prompts:read")
    system = get_system(ctx.session, key)
    return to_read(ctx.session, system, find_prompt(ctx.session, system, name))


def list_versions(ctx: Ctx, key: str, name: str) -> list[VersionRead]:
    ctx.require("prompts:read")
    system = get_system(ctx.session, key)
    prompt = find_prompt(ctx.session, system, name)
    rows = ctx.session.execute(
        select(PromptVersion).where(PromptVersion.prompt_id == prompt.id).order_by(PromptVersion.number.desc())
    ).scalars()
    return [version_read(ctx.session, system, prompt, row) for row in rows]


def read_version(ctx: Ctx, key: str, name: str, label: str | None = None, version: int | None = None) -> VersionRead:
    """One version as stored (includes not spliced), by number or label."""
    ctx.require("prompts:read")
    system = get_system(ctx.session, key)
    prompt = find_prompt(ctx.session, system, name)
    number = number_for(ctx.session, prompt, label, version)
    return version_read(ctx.session, system, prompt, version_row(ctx.session, prompt, number))


def diff(ctx: Ctx, key: str, name: str, old: str, new: str) -> PromptDiff:
    """Diff two versions, each given as a number or a label."""
    ctx.require("prompts:read")
    system = get_system(ctx.session, key)
    prompt = find_prompt(ctx.session, system, name)
    rows = []
    for selector in (old, new):
        number = int(selector) if selector.isdigit() else number_for(ctx.session, prompt, selector, None)
        rows.append(version_row(ctx.session, prompt, number))
    a, b = rows
    return diff_prompts(content_of(a), content_of(b), old_label=f"{name}@{a.number}", new_label=f"{name}@{b.number}")


def labels(ctx: Ctx, key: str, name: str) -> list[LabelRead]:
    ctx.require("prompts:read")
    system = get_system(ctx.session, key)
    prompt = find_prompt(ctx.session, system, name)
    guarded = set(protected(ctx.session, system.id))
    return [
        LabelRead(
            name=name,
            label=r.label,
            version=r.number,
            protected=r.label in guarded,
            updated_by=r.updated_by,
            updated_at=r.updated_at,
        )
        for r in label_rows(ctx.session, prompt.id)
    ]


def history(ctx: Ctx, key: str, name: str, label: str | None = None) -> list[LabelEventRead]:
    """Every label move of a prompt, newest first: who, when, from → to, why, the release, gate and approvals."""
    ctx.require("prompts:read")
    system = get_system(ctx.session, key)
    prompt = find_prompt(ctx.session, system, name)
    stmt = (
        select(PromptLabelEvent, Release.version)
        .outerjoin(Release, Release.id == PromptLabelEvent.release_id)
        .where(PromptLabelEvent.prompt_id == prompt.id)
        .order_by(PromptLabelEvent.id.desc())
    )
    if label is not None:
        stmt = stmt.where(PromptLabelEvent.label == label)
    return [
        LabelEventRead(
            id=e.id,
            name=name,
            label=e.label,
            from_version=e.from_number,
            to_version=e.to_number,
            kind=e.kind,
            actor=e.actor,
            at=e.at,
            reason=e.reason,
            release=release_version,
            deployment_id=e.deployment_id,
            gate_evaluation_id=e.gate_evaluation_id,
            approvals=list(e.approvals or []),
            evaluation=e.evaluation,
        )
        for e, release_version in ctx.session.execute(stmt).all()
    ]


def read_settings(ctx: Ctx, key: str) -> SettingsRead:
    ctx.require("prompts:read")
    system = get_system(ctx.session, key)
    row = settings_row(ctx.session, system.id)
    return SettingsRead(
        system=key,
        protected_labels=rules.protected_labels(row.protected_labels if row else None),
        version=row.version if row else None,
        updated_by=row.updated_by if row else None,
        updated_at=row.updated_at if row else None,
    )


def latest_hashes(session: Session, system: AISystem) -> dict[str, str]:
    """name → hash of the latest version, for every prompt of the system (the push plan compares with it)."""
    rows = session.execute(
        select(Prompt.name, PromptVersion.hash)
        .join(PromptVersion, (PromptVersion.prompt_id == Prompt.id) & (PromptVersion.number == Prompt.latest))
        .where(Prompt.system_id == system.id)
    ).all()
    return {name: digest for name, digest in rows}


# ----------------------------------------------------------------------------- serving


@dataclass(frozen=True)
class Served:
    """What the serving API answers: the resolved prompt's JSON and its ETag."""

    body: dict[str, Any]
    etag: str
    raw: bytes


_served: HeadCache[tuple[str, str, str | None, int | None], Served] = HeadCache("prompts.served", 16_384)


def _resolver(session: Session, system: AISystem) -> Any:
    def lookup(ref: PromptRef) -> IncludedPrompt:
        prompt = session.execute(
            select(Prompt).where(Prompt.system_id == system.id, Prompt.name == ref.name)
        ).scalar_one_or_none()
        if prompt is None:
            raise LookupError(f"system '{system.key}' has no prompt named '{ref.name}'")
        try:
            number = number_for(session, prompt, ref.label, ref.version)
            row = version_row(session, prompt, number)
        except NotFound as exc:
            raise LookupError(exc.detail) from None
        content = content_of(row)
        return IncludedPrompt(prompt.name, row.number, content.template or "", row.hash, content.type)

    return lookup


def resolved(session: Session, system: AISystem, name: str, label: str | None, version: int | None) -> ResolvedPrompt:
    prompt = find_prompt(session, system, name)
    number = number_for(session, prompt, label, version)
    row = version_row(session, prompt, number)
    written = f"{name}@{version if version is not None else label or rules.LATEST}"
    try:
        return compose(content_of(row), _resolver(session, system), name=name, version=number, ref=written)
    except IncludeError as exc:
        raise rules.IncludeFailed(exc) from None


def resolve(ctx: Ctx, key: str, name: str, label: str | None = None, version: int | None = None) -> Served:
    """The prompt `name@label` (default `production`) or `name@version`, includes spliced in, with its ETag."""
    ctx.require("prompts:read")
    if label is None and version is None:
        label = "production"
    head = session_head(ctx.session)
    cache_key = (key, name, label, version)
    hit = _served.get(cache_key, head)
    if hit is not None:
        return hit
    system = get_system(ctx.session, key)
    found = resolved(ctx.session, system, name, label, version)
    body = {**found.to_dict(), "system": key, "label": label}
    served = Served(body, f'"{rules.sha256_hex(found.resolved_hash)[:32]}"', canonical_json(body))
    _served.put(cache_key, head, served)
    return served


def render(
    ctx: Ctx, key: str, name: str, variables: dict[str, Any], label: str | None, version: int | None, strict: bool
) -> dict[str, Any]:
    """Render the resolved prompt with `variables` (missing ones: 422 naming each; strict: unknown ones too)."""
    ctx.require("prompts:read")
    system = get_system(ctx.session, key)
    found = resolved(ctx.session, system, name, label, version)
    try:
        output = found.content.render(variables, strict=strict)
    except PromptError as exc:
        raise rules.PromptInputError(exc, found.name_at_version) from None
    return {
        "name": name,
        "version": found.version,
        "name_at_version": found.name_at_version,
        "type": found.content.type,
        "output": output,
    }


def export(ctx: Ctx, key: str, fmt: str) -> list[dict[str, Any]]:
    """Every version of every prompt of the system, in Langfuse's or MLflow's JSON shape (labels on their version)."""
    ctx.require("prompts:read")
    system = get_system(ctx.session, key)
    rows = ctx.session.execute(
        select(Prompt, PromptVersion)
        .join(PromptVersion, PromptVersion.prompt_id == Prompt.id)
        .where(Prompt.system_id == system.id)
        .order_by(Prompt.name, PromptVersion.number)
    ).all()
    out = []
    for prompt, row in rows:
        labels = tuple(r.label for r in label_rows(ctx.session, prompt.id) if r.number == row.number)
        item = ExchangeVersion(
            prompt.name,
            row.number,
            content_of(row),
            labels,
            tuple(prompt.tags or ()),
            row.message or None,
            row.author,
            row.created_at,
        )
        try:
            out.append(to_langfuse(item) if fmt == "langfuse" else to_mlflow(item))
        except PromptError as exc:
            raise rules.PromptInputError(exc, f"{prompt.name}@{row.number}") from None
    return out
