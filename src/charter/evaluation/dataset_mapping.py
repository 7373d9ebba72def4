"""Mapping between file records and Sample fields, per format (see dataset_files.py for the formats).

Each `*_from` turns one record into the keyword fields of a Sample (or None to skip it) and raises FieldProblem
naming the record's field; each `*_to` turns a Sample into a record, raising DatasetError when the format cannot
carry the sample exactly (a later import must give back the same sample, hence the same content hash).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from charter.evaluation.datasets import FIELDS, RESERVED_METADATA, DatasetError, Sample

INSPECT_FIELDS = ("input", "target", "id", "choices", "metadata", "description")
INSPECT_AGENT_FIELDS = ("sandbox", "files", "setup", "checkpoint")
LANGFUSE_FIELDS = (
    "id",
    "input",
    "expectedOutput",
    "metadata",
    "status",
    "sourceTraceId",
    "sourceObservationId",
    "datasetId",
    "datasetName",
    "createdAt",
    "updatedAt",
)
LANGFUSE_STATUSES = ("ACTIVE", "ARCHIVED")
_MESSAGE_BOOKKEEPING = frozenset({"id", "source"})  # Inspect adds these to messages it writes; they carry no content


class FieldProblem(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field, self.message = field, message


@dataclass(frozen=True, slots=True)
class Options:
    input_key: str | None = None
    expected_key: str | None = None
    include_archived: bool = False


def _check_fields(record: dict[str, Any], allowed: tuple[str, ...], what: str = "field") -> None:
    for name in record:
        if name not in allowed:
            raise FieldProblem(name, f"unknown {what} {name!r}; allowed {what}s: {', '.join(allowed)}")


def _json_cell(text: str, field: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FieldProblem(field, f"invalid JSON in the cell: {exc.msg} at character {exc.pos + 1}") from None


def _is_text_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _parses_as_text_list(text: str) -> bool:
    if not text.lstrip().startswith("["):
        return False
    try:
        return _is_text_list(json.loads(text))
    except json.JSONDecodeError:
        return False


def _looks_like_messages(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(m, dict) and "role" in m for m in value)


def _parses_as_messages(text: str) -> bool:
    if not text.lstrip().startswith("["):
        return False
    try:
        return _looks_like_messages(json.loads(text))
    except json.JSONDecodeError:
        return False


def _messages(value: list[Any], field: str = "input") -> list[dict[str, Any]]:
    messages = []
    for number, message in enumerate(value, start=1):
        if not isinstance(message, dict):
            raise FieldProblem(field, f"message {number} is not an object {{role, content}}")
        extra = sorted(set(message) - {"role", "content"} - _MESSAGE_BOOKKEEPING)
        if extra:
            raise FieldProblem(field, f"message {number}: {extra[0]!r} is not supported (messages have role, content)")
        if not isinstance(message.get("content"), str):
            raise FieldProblem(field, f"message {number}: content must be text (other content parts are not supported)")
        messages.append({"role": message.get("role"), "content": message["content"]})
    return messages


def _metadata(value: Any, field: str = "metadata") -> dict[str, Any]:
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        value = _json_cell(value, field)
    if not isinstance(value, dict):
        raise FieldProblem(field, "metadata must be a JSON object")
    return dict(value)


def _unpack_reserved(metadata: dict[str, Any], fields: dict[str, Any]) -> None:
    """Move reference/tags (and choices, for Langfuse) out of metadata["charter"], where those files carry them."""
    if RESERVED_METADATA not in metadata:
        return
    reserved = metadata.pop(RESERVED_METADATA)
    if not isinstance(reserved, dict) or set(reserved) - {"reference", "tags", "choices"}:
        message = 'metadata "charter" is reserved: an object with "reference", "tags" and/or "choices"'
        raise FieldProblem("metadata", message)
    fields.update(reserved)


def _pack_reserved(sample: Sample, *, choices: bool = False) -> dict[str, Any]:
    metadata = dict(sample.metadata)
    reserved: dict[str, Any] = {}
    if choices and sample.choices:
        reserved["choices"] = list(sample.choices)
    if sample.reference is not None:
        reserved["reference"] = sample.reference
    if sample.tags:
        reserved["tags"] = list(sample.tags)
    if reserved:
        metadata[RESERVED_METADATA] = reserved
    return metadata


def _metadata_text(metadata: dict[str, Any]) -> str:
    return json.dumps(metadata, ensure_ascii=False, sort_keys=True) if metadata else ""


# ----------------------------------------------------------------------------- Charter CSV / JSON Lines


def native_from_cells(cells: dict[str, str], auto_id: str) -> dict[str, Any]:
    fields: dict[str, Any] = {"id": cells.get("id", "") or auto_id}
    text = cells.get("input", "")
    fields["input"] = _messages(_json_cell(text, "input")) if _parses_as_messages(text) else text
    if cells.get("reference"):
        fields["reference"] = cells["reference"]
    expected = cells.get("expected", "")
    fields["expected"] = json.loads(expected) if _parses_as_text_list(expected) else expected
    if cells.get("choices", "").strip():
        choices = _json_cell(cells["choices"], "choices")
        if not _is_text_list(choices):
            raise FieldProblem("choices", 'choices must be a JSON array of texts, e.g. ["Paris", "Rome"]')
        fields["choices"] = choices
    if cells.get("tags", "").strip():
        fields["tags"] = [tag for tag in cells["tags"].split(",") if tag.strip()]
    fields["metadata"] = _metadata(cells.get("metadata", ""))
    return fields


def native_to_cells(sample: Sample) -> dict[str, str]:
    if isinstance(sample.input, str):
        if _parses_as_messages(sample.input):
            raise DatasetError(
                f"sample {sample.id}: its text input would read back from CSV as chat messages; use jsonl"
            )
        text = sample.input
    else:
        text = json.dumps(sample.input_json(), ensure_ascii=False)
    if len(sample.expected) == 1 and not _parses_as_text_list(sample.expected[0]):
        expected = sample.expected[0]
    else:
        expected = json.dumps(list(sample.expected), ensure_ascii=False) if sample.expected else ""
    return {
        "id": sample.id,
        "input": text,
        "reference": sample.reference or "",
        "expected": expected,
        "choices": json.dumps(list(sample.choices), ensure_ascii=False) if sample.choices else "",
        "tags": ",".join(sample.tags),
        "metadata": _metadata_text(sample.metadata),
    }


def native_from_json(record: dict[str, Any], auto_id: str) -> dict[str, Any]:
    _check_fields(record, FIELDS)
    fields = {key: value for key, value in record.items() if value is not None}
    if fields.get("id") in (None, ""):
        fields["id"] = auto_id
    if isinstance(fields.get("input"), list):
        fields["input"] = _messages(fields["input"])
    return fields


def native_to_json(sample: Sample) -> dict[str, Any]:
    record: dict[str, Any] = {"id": sample.id, "input": sample.input_json()}
    if sample.reference is not None:
        record["reference"] = sample.reference
    if sample.expected:
        record["expected"] = sample.expected[0] if len(sample.expected) == 1 else list(sample.expected)
    for name in ("choices", "tags"):
        if getattr(sample, name):
            record[name] = list(getattr(sample, name))
    if sample.metadata:
        record["metadata"] = sample.metadata
    return record


# ----------------------------------------------------------------------------- Inspect AI


def _inspect_choices(value: Any) -> list[str]:
    """As Inspect's read_choices: a list, or text split on commas (on whitespace when there is no comma)."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return [str(choice) for choice in value if str(choice).strip()]
    if isinstance(value, str):
        parts = value.split(",")
        if len(parts) == 1:
            parts = value.split()
        return [part.strip() for part in parts if part.strip()]
    return [str(value)]


def inspect_from(record: dict[str, Any], auto_id: str) -> dict[str, Any]:
    for name in INSPECT_AGENT_FIELDS:
        if name in record:
            raise FieldProblem(name, f"Inspect's {name!r} is for agent tasks in a sandbox, which Charter does not run")
    _check_fields(record, INSPECT_FIELDS)
    raw_input = record.get("input")
    fields: dict[str, Any] = {"input": _messages(raw_input) if isinstance(raw_input, list) else raw_input}
    raw_id = record.get("id")
    fields["id"] = auto_id if raw_id is None or raw_id == "" else raw_id
    target = record.get("target")
    if isinstance(target, list):
        fields["expected"] = [str(item) for item in target]
    elif target is not None:
        fields["expected"] = str(target)
    fields["choices"] = _inspect_choices(record.get("choices"))
    metadata = _metadata(record.get("metadata"))
    description = record.get("description")
    if description:
        if not isinstance(description, str):
            raise FieldProblem("description", "description must be text")
        if "description" in metadata:
            raise FieldProblem("description", "both description and metadata.description are set; keep one")
        metadata["description"] = description
    _unpack_reserved(metadata, fields)
    fields["metadata"] = metadata
    return fields


def inspect_to(sample: Sample, *, cells: bool) -> dict[str, Any]:
    metadata = _pack_reserved(sample)
    target: str | list[str] = list(sample.expected) if len(sample.expected) > 1 else "".join(sample.expected)
    if not cells:
        record: dict[str, Any] = {"id": sample.id, "input": sample.input_json(), "target": target}
        if sample.choices:
            record["choices"] = list(sample.choices)
        if metadata:
            record["metadata"] = metadata
        return record
    if not isinstance(sample.input, str):
        raise DatasetError(f"sample {sample.id}: Inspect CSV holds text inputs only; use inspect_jsonl")
    if isinstance(target, list):
        raise DatasetError(f"sample {sample.id}: Inspect CSV holds one target; use inspect_jsonl")
    if any("," in choice for choice in sample.choices):
        raise DatasetError(f"sample {sample.id}: Inspect CSV splits choices on commas; use inspect_jsonl")
    choices = ",".join(sample.choices)
    if len(sample.choices) == 1 and len(choices.split()) > 1:
        choices += ","  # Inspect splits a lone choice on whitespace unless the cell has a comma
    return {
        "id": sample.id,
        "input": sample.input,
        "target": target,
        "choices": choices,
        "metadata": _metadata_text(metadata) or "{}",  # Inspect's csv_dataset fails on an empty metadata cell
    }


# ----------------------------------------------------------------------------- Langfuse


def _langfuse_input(value: Any, options: Options) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return _messages(value)
    if isinstance(value, dict):
        if options.input_key is not None:
            if not isinstance(value.get(options.input_key), str):
                raise FieldProblem("input", f"input has no text at key {options.input_key!r}")
            return value[options.input_key]
        if set(value) == {"messages"} and isinstance(value["messages"], list):
            return _messages(value["messages"])
        keys = ", ".join(sorted(value))
        raise FieldProblem("input", f"input is an object (keys {keys}): pass input_key to say which holds the prompt")
    raise FieldProblem("input", "input must be text, a list of chat messages or an object")


def _langfuse_expected(value: Any, options: Options) -> Any:
    if value is None or isinstance(value, str) or _is_text_list(value):
        return value
    if isinstance(value, dict) and options.expected_key is not None:
        if not isinstance(value.get(options.expected_key), str):
            raise FieldProblem("expectedOutput", f"expectedOutput has no text at key {options.expected_key!r}")
        return value[options.expected_key]
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def langfuse_from(record: dict[str, Any], auto_id: str, options: Options) -> dict[str, Any] | None:
    _check_fields(record, LANGFUSE_FIELDS)
    status = record.get("status", "ACTIVE")
    if status not in LANGFUSE_STATUSES:
        raise FieldProblem("status", f"status {status!r} is not one of {', '.join(LANGFUSE_STATUSES)}")
    if status == "ARCHIVED" and not options.include_archived:
        return None
    raw_id = record.get("id")
    fields: dict[str, Any] = {
        "id": auto_id if raw_id is None or raw_id == "" else raw_id,
        "input": _langfuse_input(record.get("input"), options),
        "expected": _langfuse_expected(record.get("expectedOutput"), options),
    }
    if isinstance(record.get("metadata"), str | int | float | bool | list):
        raise FieldProblem("metadata", "metadata must be a JSON object (Charter keeps metadata as key -> value)")
    metadata = dict(record.get("metadata") or {})
    _unpack_reserved(metadata, fields)
    fields["metadata"] = metadata
    return fields


def langfuse_to(sample: Sample) -> dict[str, Any]:
    metadata = _pack_reserved(sample, choices=True)
    expected: str | list[str] | None = None
    if sample.expected:
        expected = sample.expected[0] if len(sample.expected) == 1 else list(sample.expected)
    return {
        "id": sample.id,
        "input": sample.input_json(),
        "expectedOutput": expected,
        "metadata": metadata or None,
        "status": "ACTIVE",
    }
