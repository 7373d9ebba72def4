"""What a procedure run can be attached to: a system, a release or an incident, checked to exist."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import select

from charter.kit.errors import NotFound, ValidationFailed

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

# subject type → (module, model class, column a person knows it by, or None)
SUBJECTS: Final[dict[str, tuple[str, str, str | None]]] = {
    "system": ("charter.inventory.models", "AISystem", "key"),
    "release": ("charter.releases.models", "Release", None),
    "incident": ("charter.incidents.models", "Incident", "key"),
}


def _model(subject_type: str) -> tuple[Any, str | None]:
    if subject_type not in SUBJECTS:
        raise ValidationFailed(
            f"subject_type must be one of: {', '.join(SUBJECTS)}; got '{subject_type}'",
            errors=[{"loc": ["subject_type"], "msg": "unknown subject type"}],
        )
    module_name, cls_name, key_col = SUBJECTS[subject_type]
    try:
        model = getattr(importlib.import_module(module_name), cls_name)
    except (ImportError, AttributeError):
        raise ValidationFailed(
            f"subject type '{subject_type}' is not available in this installation",
            errors=[{"loc": ["subject_type"], "msg": "module not installed"}],
        ) from None
    return model, key_col


def label(obj: Any, subject_type: str) -> str:
    if subject_type == "release":
        return f"release {obj.id} (v{getattr(obj, 'version', '?')})"
    return str(getattr(obj, "key", obj.id))


def resolve(
    session: Session, subject_type: str, subject_id: int | None = None, subject_key: str | None = None
) -> tuple[int, str]:
    """The subject's id and a label for titles; NotFound when it does not exist."""
    model, key_col = _model(subject_type)
    if subject_id is None and subject_key is None:
        raise ValidationFailed(
            "give subject_id" + (f" or subject_key (the {subject_type}'s {key_col})" if key_col else ""),
            errors=[{"loc": ["subject_id"], "msg": "required"}],
        )
    if subject_id is not None:
        obj = session.get(model, subject_id)
        missing = f"no {subject_type} with id {subject_id}"
    else:
        if key_col is None:
            raise ValidationFailed(
                f"a {subject_type} is named by subject_id, not subject_key",
                errors=[{"loc": ["subject_key"], "msg": "not supported for this subject type"}],
            )
        obj = session.execute(select(model).where(getattr(model, key_col) == subject_key)).scalar_one_or_none()
        missing = f"no {subject_type} with {key_col} '{subject_key}'"
    if obj is None:
        raise NotFound(missing, entity=subject_type)
    return int(obj.id), label(obj, subject_type)


def describe(session: Session, subject_type: str, subject_id: int) -> str:
    """A label for a stored subject, or '<type> <id>' when its module or row is gone."""
    try:
        model, _ = _model(subject_type)
    except ValidationFailed:
        return f"{subject_type} {subject_id}"
    obj = session.get(model, subject_id)
    return label(obj, subject_type) if obj is not None else f"{subject_type} {subject_id}"
