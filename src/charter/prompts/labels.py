"""Label moves: the one place a label pointer changes, with its history row and ledger entry.

A label moves directly (`charter prompt label`) unless the system protects it; a protected label (default:
`production`) moves only when a release that names the prompt version is deployed at the stage of the same name
(charter.prompts.hooks), and moves back when that release is rolled back or withdrawn. Every move checks that the
label's new target does not close an include cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from charter.context import Ctx
from charter.inventory.models import AISystem
from charter.kit.errors import Conflict, NotFound
from charter.prompts import rules
from charter.prompts.compose import IncludedPrompt
from charter.prompts.compose import resolve as compose
from charter.prompts.errors import IncludeCycleError, IncludeDepthError
from charter.prompts.models import Prompt, PromptLabel, PromptLabelEvent
from charter.prompts.queries import content_of, number_for, version_row
from charter.prompts.templates import PromptContent, PromptRef


class LabelProtected(Conflict):
    """A protected label moved outside a release."""

    type_slug = "label-protected"
    title = "Label protected"

    def __init__(self, system: str, name: str, label: str, number: int, sha256: str) -> None:
        super().__init__(
            f"label '{label}' of {system}/{name} is protected: it moves only through the release process. Submit a "
            f"release with the artifact kind=prompt,name={name},uri=prompt:{name}@{number},sha256={sha256}, get it "
            f"approved and promote it to the '{label}' stage (charter release submit, request, approve, promote)",
            label=label,
            protected=True,
            artifact={"kind": "prompt", "name": name, "uri": f"prompt:{name}@{number}", "sha256": sha256},
        )


@dataclass(frozen=True)
class Via:
    """How a label moved: directly, or by a release deployment (which release, gate evaluation, approvals)."""

    kind: str = "direct"
    release_id: int | None = None
    release_version: int | None = None
    deployment_id: int | None = None
    gate_evaluation_id: int | None = None
    approvals: list[dict[str, Any]] = field(default_factory=list)
    evaluation: dict[str, Any] | None = None


def check_cycles(
    ctx: Ctx, system: AISystem, name: str, content: PromptContent, number: int, label: str | None = None
) -> None:
    """Resolve `content` (version `number` of `name`) as if it were `name@latest` — and `name@label` when a label is
    about to point at it — and refuse an include cycle or nesting too deep. References that do not resolve yet are
    leaves here (serving names them)."""

    def lookup(ref: PromptRef) -> IncludedPrompt:
        if ref.name == name and (ref.version == number or ref.label in (label, rules.LATEST)):
            return IncludedPrompt(name, number, content.template or "", content.hash, content.type)
        prompt = ctx.session.execute(
            select(Prompt).where(Prompt.system_id == system.id, Prompt.name == ref.name)
        ).scalar_one_or_none()
        try:
            if prompt is None:
                raise LookupError(ref.name)
            row = version_row(ctx.session, prompt, number_for(ctx.session, prompt, ref.label, ref.version))
        except (LookupError, NotFound):  # a reference that does not resolve yet is a leaf here
            return IncludedPrompt(ref.name, 0, "", "", "text")
        found = content_of(row)
        return IncludedPrompt(ref.name, row.number, found.template or "", row.hash, found.type)

    try:
        compose(content, lookup, name=name, version=number, ref=f"{name}@{label or number}")
    except (IncludeCycleError, IncludeDepthError) as exc:
        raise rules.PromptInputError(exc) from None
    except Exception:  # noqa: S110 - other include problems (a chat prompt included) surface when served
        pass


def set_label(
    ctx: Ctx, system: AISystem, prompt: Prompt, label: str, target: int | None, reason: str | None, via: Via
) -> PromptLabelEvent | None:
    """Point `label` at version `target` (None: remove the label); history row and ledger entry. No-op if unchanged."""
    row = ctx.session.get(PromptLabel, (prompt.id, label))
    current = row.number if row is not None else None
    if current == target:
        return None
    now = ctx.now()
    if target is not None:
        version = version_row(ctx.session, prompt, target)
        check_cycles(ctx, system, prompt.name, content_of(version), target, label)
    if row is None and target is not None:
        ctx.session.add(
            PromptLabel(prompt_id=prompt.id, label=label, number=target, updated_by=ctx.principal.actor, updated_at=now)
        )
    elif row is not None and target is None:
        ctx.session.delete(row)
    elif row is not None and target is not None:
        row.number = target
        row.updated_by = ctx.principal.actor
        row.updated_at = now
        row.version += 1
    event = PromptLabelEvent(
        prompt_id=prompt.id,
        label=label,
        from_number=current,
        to_number=target,
        kind=via.kind,
        actor=ctx.principal.actor,
        user_id=ctx.principal.user_id,
        at=now,
        reason=reason,
        release_id=via.release_id,
        release_version=via.release_version,
        deployment_id=via.deployment_id,
        gate_evaluation_id=via.gate_evaluation_id,
        approvals=via.approvals,
        evaluation=via.evaluation,
    )
    ctx.session.add(event)
    ctx.session.flush()
    ctx.record(
        f"prompt.label.{via.kind}",
        "prompt",
        f"{system.key}/{prompt.name}",
        before={"label": label, "version": current},
        after={
            "label": label,
            "version": target,
            "event_id": event.id,
            **({"release": via.release_version, "deployment_id": via.deployment_id} if via.release_id else {}),
        },
        reason=reason,
    )
    return event


def before_releases(ctx: Ctx, prompt: Prompt, label: str) -> int | None:
    """Where `label` pointed before releases took it over: the `from` of the oldest move in the latest unbroken run
    of release-driven moves (None: it was unset). A prompt the deployed release does not name goes back there."""
    events = ctx.session.execute(
        select(PromptLabelEvent.kind, PromptLabelEvent.from_number)
        .where(PromptLabelEvent.prompt_id == prompt.id, PromptLabelEvent.label == label)
        .order_by(PromptLabelEvent.id.desc())
    ).all()
    before: int | None = None
    for kind, from_number in events:
        if kind == "direct":
            break
        before = from_number
    return before
