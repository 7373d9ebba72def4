"""Evaluation datasets: samples, immutable versions and their content hash.

A sample is one task: `id`, `input` (text, or chat messages `[{role, content}]`), `reference` (the human expert's
answer, for the blinded benchmark), `expected` (acceptable outputs or grading notes, as Inspect AI's `target`),
`choices` (multiple choice), `tags` and `metadata` (JSON). A dataset version is an immutable tuple of samples with
unique ids, identified by the SHA-256 of a canonical JSON form: the same samples give the same hash whichever file
format they came from, and the order of the samples is not part of the content (the hash is over samples sorted by
id). Reading and writing files: `dataset_files.py`.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

HASH_DOMAIN = b"charter.evaluation.dataset.v1\n"
ROLES = ("system", "developer", "user", "assistant", "tool")
FIELDS = ("id", "input", "reference", "expected", "choices", "tags", "metadata")
RESERVED_METADATA = "charter"  # in formats without reference/tags fields (Inspect, Langfuse) they travel here


class DatasetError(ValueError):
    """Bad dataset input; says where (line, column, field) and what is allowed."""

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        column: int | None = None,
        field: str | None = None,
        item: int | None = None,
    ):
        self.message, self.line, self.column, self.field, self.item = message, line, column, field, item
        where = []
        if item is not None and line is None:
            where.append(f"item {item}")
        if line is not None:
            where.append(f"line {line}")
        if column is not None:
            where.append(f"column {column}")
        prefix = ", ".join(where)
        if field is not None:
            prefix = f"{prefix} ({field})" if prefix else f"field {field}"
        super().__init__(f"{prefix}: {message}" if prefix else message)


class ChatMessage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str


def _json_safe(value: Any, where: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where} holds {value}, which JSON cannot carry")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{where} has a non-text key {key!r}")
            _json_safe(item, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _json_safe(item, f"{where}[{i}]")
    elif not isinstance(value, str | int | float | bool | type(None)):
        raise ValueError(f"{where} holds a {type(value).__name__}, not a JSON value")


class Sample(BaseModel):
    """One task. Blank texts are refused; `expected` may be given as one text or several."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    id: str
    input: str | tuple[ChatMessage, ...]
    reference: str | None = None
    expected: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("id", mode="before")
    @classmethod
    def _id(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str):
            value = value.strip()
            if not value:
                raise ValueError("the id is empty")
        return value

    @field_validator("input")
    @classmethod
    def _input(cls, value: str | tuple[ChatMessage, ...]) -> str | tuple[ChatMessage, ...]:
        if isinstance(value, str):
            if not value.strip():
                raise ValueError("the input is empty")
        elif not any(m.content.strip() for m in value):
            raise ValueError("the input has no message with content")
        return value

    @field_validator("reference")
    @classmethod
    def _reference(cls, value: str | None) -> str | None:
        return value if value else None

    @field_validator("expected", mode="before")
    @classmethod
    def _expected(cls, value: Any) -> Any:
        if value is None or value == "":
            return ()
        if isinstance(value, str):
            return (value,)
        return value

    @field_validator("expected")
    @classmethod
    def _expected_items(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not item for item in value):
            raise ValueError("an expected answer is empty")
        return value

    @field_validator("choices")
    @classmethod
    def _choices(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        stripped = tuple(choice.strip() for choice in value)
        if any(not choice for choice in stripped):
            raise ValueError("a choice is empty")
        return stripped

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        tags = {tag.strip() for tag in value}
        bad = sorted(tag for tag in tags if not tag or "," in tag)
        if bad:
            raise ValueError(f"tag {bad[0]!r} is not allowed: tags are non-empty and hold no comma")
        return tuple(sorted(tags))

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, value: dict[str, Any]) -> dict[str, Any]:
        if RESERVED_METADATA in value:
            raise ValueError(f"the metadata key {RESERVED_METADATA!r} is reserved (it carries reference and tags)")
        _json_safe(value, "metadata")
        return value

    @property
    def is_chat(self) -> bool:
        return not isinstance(self.input, str)

    def input_json(self) -> str | list[dict[str, str]]:
        if isinstance(self.input, str):
            return self.input
        return [{"role": m.role, "content": m.content} for m in self.input]

    def canonical(self) -> dict[str, Any]:
        """The format-independent form the content hash is computed over."""
        return {
            "id": self.id,
            "input": self.input_json(),
            "reference": self.reference,
            "expected": list(self.expected),
            "choices": list(self.choices),
            "tags": list(self.tags),
            "metadata": self.metadata,
        }


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def make_sample(data: dict[str, Any], *, line: int | None = None, columns: dict[str, int] | None = None) -> Sample:
    """A Sample from plain fields; a DatasetError names the field (and its line/column) on bad input."""
    try:
        return Sample.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_input=False, include_url=False)
        first = errors[0]["loc"][:1]
        # in a union (text | messages) the deepest error is the one that says what is wrong
        error = max((e for e in errors if e["loc"][:1] == first), key=lambda e: len(e["loc"]))
        name = str(error["loc"][0]) if error["loc"] else None
        message = str(error["msg"]).removeprefix("Value error, ")
        if name == "input" and error["type"] in ("string_type", "tuple_type", "model_type"):
            message = "input must be text or a list of chat messages {role, content}"
        elif name == "input" and len(error["loc"]) > 2:
            part = ".".join(map(str, error["loc"][3:])) or "the message"
            if error["type"] == "literal_error":
                message = f"role must be one of {', '.join(ROLES)}"
            elif error["type"] == "missing":
                message = f"{part} is missing"
            elif error["type"] == "extra_forbidden":
                message = f"{part} is not allowed (a message has role and content)"
            else:
                message = f"{part}: {message}"
            message = f"message {int(error['loc'][2]) + 1}: {message}"
        elif name == "id" and error["type"].endswith("_type"):
            message = "the id must be text or an integer"
        elif name in ("expected", "choices", "tags") and (
            error["type"] == "string_type" or (len(error["loc"]) == 1 and error["type"].endswith("_type"))
        ):
            message = f"{name} must be a list of texts"
        elif name == "metadata" and error["type"] == "dict_type":
            message = "metadata must be a JSON object"
        column = (columns or {}).get(name) if name else None
        raise DatasetError(message, line=line, column=column, field=name) from None


def content_hash(samples: Iterable[Sample]) -> str:
    """sha256 over the canonical JSON of the samples sorted by id (order is not content)."""
    digest = hashlib.sha256(HASH_DOMAIN)
    for sample in sorted(samples, key=lambda s: s.id):
        digest.update(canonical_json(sample.canonical()))
        digest.update(b"\n")
    return f"sha256:{digest.hexdigest()}"


@dataclass(frozen=True)
class DatasetVersion:
    """An immutable version of a dataset: its samples (in file order) and their content hash."""

    samples: tuple[Sample, ...]
    content_hash: str = field(default="")

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for position, sample in enumerate(self.samples, start=1):
            if sample.id in seen:
                raise DatasetError(f"duplicate id {sample.id!r} (sample {position}); ids must be unique")
            seen.add(sample.id)
        if not self.samples:
            raise DatasetError("the dataset holds no samples")
        digest = content_hash(self.samples)
        if self.content_hash and self.content_hash != digest:
            raise DatasetError(f"content hash {self.content_hash} does not match the samples ({digest})")
        object.__setattr__(self, "content_hash", digest)

    @classmethod
    def of(cls, samples: Iterable[Sample]) -> DatasetVersion:
        return cls(tuple(samples))

    def __len__(self) -> int:
        return len(self.samples)

    def __iter__(self) -> Iterator[Sample]:
        return iter(self.samples)

    def ids(self) -> list[str]:
        return [sample.id for sample in self.samples]

    def get(self, sample_id: str) -> Sample:
        """The sample with this id (KeyError if there is none)."""
        index: dict[str, Sample] = self.__dict__.setdefault("_index", {s.id: s for s in self.samples})
        return index[sample_id]
