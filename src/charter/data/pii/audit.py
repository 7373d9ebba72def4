"""PII audit of a dataset (seed 003, phase 1: "assess the data required for the tool"): counts per column and
entity type with masked examples, as a report the integrator renders to evidence (JSON and Markdown)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from charter.data.pii.masking import mask_value
from charter.data.pii.scan import ScanRecord

TEXT_COLUMN = "(text)"


@dataclass
class AuditRow:
    """One (column, entity type): how many spans, in how many records, and a few masked examples."""

    column: str
    entity: str
    count: int = 0
    records: int = 0
    examples: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "entity": self.entity,
            "count": self.count,
            "records": self.records,
            "examples": list(self.examples),
        }


@dataclass
class AuditReport:
    source: str
    format: str
    records: int
    records_with_pii: int
    rows: list[AuditRow]
    not_looked_for: tuple[str, ...] = ()
    threshold: float | None = None

    @property
    def entities(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for row in self.rows:
            totals[row.entity] = totals.get(row.entity, 0) + row.count
        return dict(sorted(totals.items()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "format": self.format,
            "records": self.records,
            "records_with_pii": self.records_with_pii,
            "entities": self.entities,
            "rows": [row.to_dict() for row in self.rows],
            "not_looked_for": list(self.not_looked_for),
            "threshold": self.threshold,
        }

    def to_markdown(self) -> str:
        lines = [
            f"# PII audit of {self.source}",
            "",
            f"- format: {self.format}",
            f"- records scanned: {self.records}",
            f"- records with PII: {self.records_with_pii}",
        ]
        if self.threshold is not None:
            lines.append(f"- minimum score reported: {self.threshold}")
        if self.not_looked_for:
            lines.append(f"- not looked for (no NLP backend): {', '.join(self.not_looked_for)}")
        lines += ["", "| column | entity | count | records | masked examples |", "|---|---|---:|---:|---|"]
        for row in self.rows:
            examples = ", ".join(f"`{e}`" for e in row.examples)
            lines.append(f"| {_cell(row.column)} | {row.entity} | {row.count} | {row.records} | {_cell(examples)} |")
        if not self.rows:
            lines.append("| — | none found | 0 | 0 | |")
        return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def audit(
    records: Iterable[ScanRecord],
    *,
    source: str,
    fmt: str,
    not_looked_for: tuple[str, ...] = (),
    threshold: float | None = None,
    examples: int = 3,
    column: str | None = None,
) -> AuditReport:
    """Aggregate scanned records. Only masked values are kept (distinct ones, up to ``examples`` per row). A scan
    error propagates: an audit is complete or it is not produced. ``column`` names the single field scanned with
    ``--field`` (its records carry no field name)."""
    rows: dict[tuple[str, str], AuditRow] = {}
    total = with_pii = 0
    for record in records:
        total += 1
        if record.fields:
            with_pii += 1
        for f in record.fields:
            name = f.field or column or TEXT_COLUMN
            seen: set[str] = set()
            for span in f.spans:
                row = rows.setdefault((name, span.entity), AuditRow(name, span.entity))
                row.count += 1
                if span.entity not in seen:
                    seen.add(span.entity)
                    row.records += 1
                if len(row.examples) < examples:
                    masked = mask_value(f.text[span.start : span.end], span.entity)
                    if masked not in row.examples:
                        row.examples.append(masked)
    ordered = sorted(rows.values(), key=lambda r: (r.column, -r.count, r.entity))
    return AuditReport(source, fmt, total, with_pii, ordered, not_looked_for, threshold)
