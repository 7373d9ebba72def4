"""Turning form input into service calls, and validation errors back into messages beside the fields."""

from __future__ import annotations

from pydantic import ValidationError
from starlette.datastructures import FormData

GENERAL = "__all__"


def field_errors(exc: ValidationError) -> dict[str, str]:
    """{field name: first message}; errors not tied to one field go under GENERAL."""
    out: dict[str, str] = {}
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p != "body"]
        key = loc[0] if loc else GENERAL
        msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        out.setdefault(key, msg)
    return out


def summary(errors: dict[str, str]) -> str:
    parts = [msg if key == GENERAL else f"{key.replace('_', ' ')}: {msg}" for key, msg in errors.items()]
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
