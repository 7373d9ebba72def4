"""Events of the release process that other domains subscribe to; releases imports none of them.

    from charter.releases.hooks import DeploymentMoved, on_artifacts_submitted, on_deployment_moved

    @on_deployment_moved
    def follow(ctx: Ctx, moved: DeploymentMoved) -> None: ...

- `on_artifacts_submitted(fn)`: `fn(ctx, system_key, system_id, artifacts)` runs when a release is submitted, before
  anything is stored; raising a CharterError refuses the release (e.g. a `kind=prompt` artifact naming a prompt
  version that does not exist, or with another hash).
- `on_deployment_moved(fn)`: `fn(ctx, moved)` runs after a deployment pointer moved (promote, rollback, emergency,
  withdraw), after its ledger entry, in the same transaction. Unlike alert hooks, a subscriber that raises undoes
  the move: what follows a deployment (the prompt labels it moves) commits with it or not at all.

Subscribers live in their domain's `hooks.py`; `discover()` imports every one (charter.kit.registry) before the
first event, so what a deployment does never depends on which modules happened to be imported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from charter.context import Ctx
from charter.kit.registry import load_all


@dataclass(frozen=True)
class DeploymentMoved:
    system_id: int
    system_key: str
    stage: str
    kind: str  # promote | rollback | emergency | withdraw
    from_release_id: int | None
    from_version: int | None
    to_release_id: int | None
    to_version: int | None
    deployment_id: int
    gate_evaluation_id: int | None
    reason: str | None


ArtifactsHook = Callable[[Ctx, str, int, list[dict[str, Any]]], None]
MovedHook = Callable[[Ctx, DeploymentMoved], None]
_artifact_hooks: list[ArtifactsHook] = []
_moved_hooks: list[MovedHook] = []
_discovered = False


def on_artifacts_submitted(fn: ArtifactsHook) -> ArtifactsHook:
    """Register `fn(ctx, system_key, system_id, artifacts)` (usable as a decorator). Idempotent."""
    if fn not in _artifact_hooks:
        _artifact_hooks.append(fn)
    return fn


def on_deployment_moved(fn: MovedHook) -> MovedHook:
    """Register `fn(ctx, moved)` for every deployment pointer move (usable as a decorator). Idempotent."""
    if fn not in _moved_hooks:
        _moved_hooks.append(fn)
    return fn


def discover() -> None:
    """Import every domain's `hooks` module once: subscribers register on import."""
    global _discovered
    if not _discovered:
        load_all("hooks")
        _discovered = True


def artifacts_submitted(ctx: Ctx, system_key: str, system_id: int, artifacts: list[dict[str, Any]]) -> None:
    discover()
    for fn in list(_artifact_hooks):
        fn(ctx, system_key, system_id, artifacts)


def deployment_moved(ctx: Ctx, moved: DeploymentMoved) -> None:
    discover()
    for fn in list(_moved_hooks):
        fn(ctx, moved)
