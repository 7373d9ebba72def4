"""The one mapping from validation errors to sentences written for people (issue 13, finding 2; D33).

A Pydantic error names a rule ("String should match pattern '^[a-z0-9]…'"); a person needs the field and
what is allowed ("Key: use 3 to 64 lowercase letters, digits and dashes"). Each sentence starts with the
field's label; the rule comes from FIELD_RULES when the field has a format of its own, otherwise from the
error's type and its limits.
"""

from __future__ import annotations

import re
from typing import Any, Final

FIELD_LABELS: Final[dict[str, str]] = {
    "key": "Key",
    "name": "Name",
    "title": "Title",
    "username": "Username",
    "display_name": "Display name",
    "deployment_type": "Deployment type",
    "risk_tier": "EU AI Act tier",
    "risk_tier_reason": "Reason for the tier",
    "users_affected": "Users affected",
    "affected_users": "Users affected",
    "data_categories": "Data categories",
    "vendor_name": "Vendor",
    "owner": "Owner",
    "severity": "Severity",
    "harm_category": "Harm category",
    "system": "AI system",
    "category": "Category",
    "inherent": "Inherent risk",
    "residual": "Residual risk",
    "due_date": "Due date",
    "accepted_until": "Acceptance expires on",
    "justification": "Justification",
    "sha256": "SHA-256",
    "uri": "Location (URI)",
    "artifacts": "Artifacts",
    "summary": "Summary",
    "change_type": "Change type",
    "reason": "Reason",
    "comment": "Comment",
    "password": "Password",
    "email": "Email",
    "role": "Role",
    "threshold": "Threshold",
    "metric": "Metric",
    "window": "Window",
    "version": "Version",
}
FIELD_RULES: Final[dict[str, str]] = {
    "key": "use 3 to 64 lowercase letters, digits and dashes, starting with a letter or digit (e.g. support-bot)",
    "username": "use lowercase letters, digits, dots, dashes and underscores (e.g. ada.lovelace)",
    "sha256": "paste the 64 hexadecimal characters of the file's SHA-256 (sha256sum prints them)",
    "email": "enter an address like name@example.org",
    "metric": "use lowercase letters, digits and underscores, e.g. accuracy or latency_ms",
    "batch_id": "use letters, digits, dots, dashes and underscores",
}

REWRITES: Final[tuple[tuple[str, str, str], ...]] = (
    # (the start of a rule's own message, the field it is about, what a person should read)
    ("vendor_name is required", "vendor_name", "name the vendor: it is required for vendor APIs and vendor SaaS"),
    ("risk_tier_reason is required", "risk_tier_reason", "say why the system belongs in this tier"),
)
"""Messages of cross-field rules (model validators), which name no field of their own."""


def rewrite(message: str) -> tuple[str, str] | None:
    """(field, sentence) for a cross-field rule's message, if it is one we know."""
    text = message.removeprefix("Value error, ")
    for start, field, plain in REWRITES:
        if text.startswith(start):
            return field, f"{label_of(field)}: {plain}"
    return None


FILE_KINDS: Final[dict[str, str]] = {
    "application/pdf": "PDF",
    "text/plain": "text",
    "text/markdown": "Markdown",
    "text/csv": "CSV",
    "application/json": "JSON",
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "Excel",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "PowerPoint",
}


def file_kinds(media_types: list[str]) -> str:
    """['application/pdf', 'text/csv', ...] -> 'PDF, CSV or …' (the names people know files by)."""
    names = list(dict.fromkeys(FILE_KINDS.get(t, t.rsplit("/", 1)[-1].upper()) for t in media_types))
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def file_refusal(problem: dict[str, Any], detail: str) -> str:
    """An upload refused for its type or size, without MIME lists or setting names."""
    if problem.get("allowed"):
        return f"File: this kind of file is not kept as evidence; upload a {file_kinds(problem['allowed'])} file"
    return "File: " + re.sub(r"\s*\([^()]*CHARTER_[A-Z_]+\)", "", detail)


def label_of(field: str) -> str:
    return FIELD_LABELS.get(field) or field.replace("_", " ").capitalize()


def _choices(expected: Any) -> str:
    """ "'a', 'b' or 'c'" (Pydantic's `expected` text) -> 'a, b or c'."""
    return str(expected).replace("'", "")


def rule_text(field: str, err: dict[str, Any]) -> str:
    """What is allowed in the field, for this error."""
    kind = str(err.get("type", ""))
    ctx = err.get("ctx") or {}
    if kind in ("missing", "string_too_short") and ctx.get("min_length", 1) <= 1:
        return "this is required"
    if kind == "string_pattern_mismatch":
        return FIELD_RULES.get(field, "this value is not in the expected format")
    if kind == "string_too_short":
        return f"use at least {ctx['min_length']} characters"
    if kind == "string_too_long":
        return f"use at most {ctx['max_length']} characters"
    if kind == "too_short":
        n = ctx.get("min_length", 1)
        return "choose at least one" if n == 1 else f"choose at least {n}"
    if kind == "too_long":
        return f"choose at most {ctx.get('max_length')}"
    if kind in ("literal_error", "enum"):
        return f"choose one of {_choices(ctx.get('expected', ''))}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "enter a whole number, e.g. 1200"
    if kind in ("float_parsing", "float_type", "decimal_parsing"):
        return "enter a number, e.g. 0.85"
    if kind in ("greater_than_equal", "greater_than"):
        return f"enter a number of at least {ctx.get('ge', ctx.get('gt'))}"
    if kind in ("less_than_equal", "less_than"):
        return f"enter a number of at most {ctx.get('le', ctx.get('lt'))}"
    if kind.startswith("date") or kind.startswith("datetime"):
        return "enter a date like 2026-03-31"
    if kind in ("bool_parsing", "bool_type"):
        return "choose yes or no"
    if kind in ("url_parsing", "url_scheme", "url_type"):
        return "enter a full address starting with https://"
    if kind == "value_error":
        msg = str(err.get("msg", "")).removeprefix("Value error, ")
        return msg[:1].lower() + msg[1:] if msg else "this value is not allowed"
    if FIELD_RULES.get(field):
        return FIELD_RULES[field]
    return "this value is not allowed"


def sentence(field: str | None, err: dict[str, Any]) -> str:
    """'Key: use 3 to 64 lowercase letters…' — or, for an error of the whole form, the rule as a sentence."""
    text = rule_text(field or "", err)
    if not field:
        return text[:1].upper() + text[1:]
    return f"{label_of(field)}: {text}"


def refusal_sentence(field: str, detail: str) -> str:
    """A service's refusal shown beside the field it names."""
    text = detail.strip()
    if re.match(r"^unknown [a-z_ ]+ ''", text):  # a required choice left blank
        return f"{label_of(field)}: choose one"
    if text.lower().startswith(label_of(field).lower() + ":"):
        return text
    return f"{label_of(field)}: {text[:1].lower() + text[1:]}"
