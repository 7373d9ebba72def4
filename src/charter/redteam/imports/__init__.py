"""Scanner-report imports: garak report JSON Lines, PyRIT memory exports (JSON/CSV), a generic CSV.

Every parser returns an `ImportResult`: the attempts (each with a dedup key, so re-importing a report adds
nothing), the per probe x detector results (passed, fails, nones, total, attack success rate, Wilson 95 %,
OWASP 2025 ids) and warnings; bad input raises `ReportInvalid` naming the file and the line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from charter.redteam.imports.common import ImportResult, ReportInvalid
from charter.redteam.imports.csv import parse_generic_csv, parse_generic_csv_file
from charter.redteam.imports.garak import parse_garak_file, parse_garak_report
from charter.redteam.imports.pyrit import parse_pyrit_export, parse_pyrit_file

Format = Literal["garak", "pyrit", "csv"]
FORMATS: tuple[Format, ...] = ("garak", "pyrit", "csv")


def import_file(fmt: str, path: Path, **options: Any) -> ImportResult:
    """Parse a report file in the named format (what ``charter redteam import --format`` calls)."""
    if fmt == "garak":
        return parse_garak_file(path, **options)
    if fmt == "pyrit":
        return parse_pyrit_file(path, **options)
    if fmt == "csv":
        return parse_generic_csv_file(path, **options)
    raise ReportInvalid(path.name, None, f"unknown format {fmt!r}; allowed: {', '.join(FORMATS)}")


def import_bytes(fmt: str, data: bytes, filename: str) -> ImportResult:
    """Parse an uploaded report (what the API receives); the same checks and errors as `import_file`."""
    if fmt not in FORMATS:
        raise ReportInvalid(filename, None, f"unknown format {fmt!r}; allowed: {', '.join(FORMATS)}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ReportInvalid(filename, None, f"not UTF-8 text (byte {exc.start}); export the report as UTF-8") from None
    if fmt == "garak":
        return parse_garak_report(text, filename=filename)
    if fmt == "pyrit":
        return parse_pyrit_export(text, filename=filename, fmt="csv" if filename.lower().endswith(".csv") else "json")
    return parse_generic_csv(text, filename=filename)


__all__ = ["FORMATS", "Format", "ImportResult", "ReportInvalid", "import_bytes", "import_file"]
