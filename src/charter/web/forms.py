"""Turning form input into service calls, and validation errors back into messages beside the fields."""

from __future__ import annotations

from pydantic import ValidationError
from starlette.datastructures import FormData

from charter.kit.errors import CharterError
from charter.web.messages import file_refusal, label_of, refusal_sentence, rewrite, sentence

GENERAL = "__all__"


def field_errors(exc: ValidationError) -> dict[str, str]:
    """{field name: first message, in plain language (web.messages)}; errors not tied to one field go under
    GENERAL."""
    out: dict[str, str] = {}
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p != "body"]
        key = loc[0] if loc else GENERAL
        known = rewrite(str(err.get("msg", ""))) if key == GENERAL else None
        if known:
            out.setdefault(*known)
            continue
        named = [p for p in loc if not p.isdigit()]  # ('artifacts', '0', 'sha256'): about the sha256
        text = sentence(named[-1] if named else None, dict(err))
        rows = [int(p) + 1 for p in loc if p.isdigit()]
        out.setdefault(key, f"In row {rows[0]}, {text}" if rows else text)
    return out


def refusal_errors(exc: CharterError) -> dict[str, str]:
    """A service's refusal: beside the one field it names (its problem's `errors`), or for the whole form."""
    problems = [e for e in exc.extra.get("errors") or () if isinstance(e, dict)]
    fields = {str(loc[-1]) for e in problems if (loc := [p for p in e.get("loc", ()) if p != "body"])}
    if exc.status == 413 and isinstance(exc.extra.get("limit"), int):
        mib = exc.extra["limit"] / 1_048_576
        return {"file": f"File: larger than the {mib:g} MiB limit for evidence; nothing was stored"}
    if fields == {"file"}:
        return {"file": file_refusal(problems[0], exc.detail)}
    known = rewrite(exc.detail)
    if known:
        return dict([known])
    if len(fields) == 1:
        (field,) = fields
        return {field: refusal_sentence(field, exc.detail)}
    return {GENERAL: exc.detail[:1].upper() + exc.detail[1:]}


def summary(errors: dict[str, str]) -> str:
    parts = []
    for key, msg in errors.items():
        lab = label_of(key)
        parts.append(msg if key == GENERAL or msg.startswith(lab + ":") else f"{lab}: {msg}")
    return "; ".join(parts)


def split_list(text: str) -> list[str]:
    """'a, b c' -> ['a', 'b', 'c'] (commas or whitespace)."""
    return [p for p in text.replace(",", " ").split() if p]


def optional_int(text: str) -> int | str | None:
    """'' -> None; digits -> int; anything else is passed through for the schema to refuse."""
    text = text.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        return text


def values(form: FormData) -> dict[str, str]:
    """The submitted text fields (for re-rendering a form after an error); files and the CSRF token left out."""
    return {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
