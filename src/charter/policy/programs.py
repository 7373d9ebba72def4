"""Compiling gate rules against the facts schema: every problem with its rule, line and column; compiled
programs of stored policy versions cached by content (versions never change)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Protocol

from charter.kit.errors import ValidationFailed
from charter.policy.facts import environment
from charter.policy.rules import RuleDoesNotCompile, template_references
from charter.policy.schemas import RuleSpec

_compiled_lock = threading.Lock()


class HasRules(Protocol):
    @property
    def rules(self) -> Any: ...


def compile_rules(rules: Sequence[RuleSpec], source: str = "rules") -> list[Any]:
    """Compile and type-check every rule against the current facts schema. Every broken rule is reported
    with its id and the line and column of the error inside its expression (422)."""
    env = environment()
    programs: list[Any] = []
    errors: list[dict[str, Any]] = []
    for i, rule in enumerate(rules):
        try:
            programs.append(env.compile(rule.expression))
        except RuleDoesNotCompile as exc:
            errors.extend(
                {
                    "loc": ["rules", i, "expression"],
                    "rule": rule.id,
                    "line": p.line,
                    "column": p.column,
                    "msg": p.message,
                }
                for p in exc.problems
            )
        for ref in template_references(rule.message):
            ns = ref.split(".")[0]
            if ns not in env.schema:
                errors.append(
                    {
                        "loc": ["rules", i, "message"],
                        "rule": rule.id,
                        "line": 1,
                        "column": 1,
                        "msg": f"the message refers to '{{{ref}}}', but there is no facts namespace '{ns}'",
                    }
                )
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
        raise ValidationFailed(
            f"{source}: rule '{first['rule']}' does not compile at line {first['line']}, column {first['column']}: "
            f"{first['msg']}{more}",
            errors=errors,
        )
    return programs


def programs_for(policy: HasRules) -> list[Any]:
    """Compiled rules of a stored policy version, cached (versions are immutable)."""
    env = environment()
    key = tuple(r["expression"] for r in policy.rules)  # by content: ids are reused after a rollback
    with _compiled_lock:
        cached = env.programs.get(key)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    out: list[Any] = []
    for raw in policy.rules:
        try:
            out.append(env.compile(raw["expression"]))
        except RuleDoesNotCompile as exc:  # e.g. a provider's schema changed since the policy was saved
            out.append(exc)
    with _compiled_lock:
        if len(env.programs) > 2_000:
            env.programs.clear()
        env.programs[key] = out
    return out
