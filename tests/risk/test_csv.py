"""CSV export and all-or-nothing CSV import."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select
from tests.risk.conftest import CHATBOT

from charter.kit.errors import ValidationFailed
from charter.ledger.models import LedgerEntry
from charter.risk import csvio, queries
from charter.risk.models import Risk
from charter.risk.queries import RiskFilter

HEADER = "system,title,description,category,owner,likelihood,impact,residual_likelihood,residual_impact\n"


def count(session) -> int:  # type: ignore[no-untyped-def]
    return int(session.execute(select(func.count(Risk.id))).scalar_one())


def do_import(actors, text: str, role: str = "engineer", dry_run: bool = False):  # type: ignore[no-untyped-def]
    return csvio.import_csv(actors.ctx(role), text.encode("utf-8"), dry_run=dry_run)


def errors_of(actors, text: str) -> list[tuple[int, str, str]]:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed) as err:
        do_import(actors, text)
    assert err.value.detail.startswith("nothing was imported")
    return [(e["row"], e["column"], e["msg"]) for e in err.value.extra["errors"]]


def test_a_valid_file_imports_every_row(actors, system) -> None:
    text = HEADER + (
        f"{CHATBOT},Hallucination in Medical Advice,Chatbot may provide incorrect medical information,"
        "Safety,,LIKELY,CATASTROPHIC,,\n"
        f'{CHATBOT},PII Leakage,"May expose customer\npersonal information",privacy,approver,3,4,2,4\n'
        f"{CHATBOT},Model theft,,security,,,,,\n"
    )
    result = do_import(actors, text)
    assert result.created == ["RISK-0001", "RISK-0002", "RISK-0003"]
    items, _ = queries.list_risks(actors.ctx("viewer"), RiskFilter())
    assert [(r.title, r.score, r.level, r.status, r.owner) for r in items] == [
        ("Hallucination in Medical Advice", 20, "HIGH", "assessed", "engineer"),
        ("PII Leakage", 12, "MEDIUM", "assessed", "approver"),  # residual counts only once mitigated
        ("Model theft", None, "UNASSESSED", "identified", "engineer"),
    ]
    assert items[1].residual_score == 8 and items[1].description == "May expose customer\npersonal information"
    actions = actors.session.execute(select(LedgerEntry.action, LedgerEntry.reason)).all()
    assert ("risk.identified", "CSV import, row 3") in actions
    assert actions[-1][0] == "risk.imported"


def test_every_bad_row_is_reported_with_row_and_column_and_nothing_is_imported(actors, system) -> None:
    text = HEADER + (
        f"{CHATBOT},Good row,,privacy,,3,4,,\n"  # row 2: fine
        f"{CHATBOT},,,privacy,,,,,\n"  # row 3: title missing
        f"nope,Unknown system,,privacy,,,,,\n"  # row 4
        f"{CHATBOT},Bad category,,weather,,,,,\n"  # row 5
        f"{CHATBOT},Bad scale,,privacy,,9,4,,\n"  # row 6
        f"{CHATBOT},Half pair,,privacy,,3,,,\n"  # row 7
        f"{CHATBOT},Residual above,,privacy,,2,2,3,3\n"  # row 8
        f"{CHATBOT},Good row,,privacy,,1,1,,\n"  # row 9: duplicate of row 2
        f"{CHATBOT},Ghost owner,,privacy,ghost,,,,\n"  # row 10
        f"{CHATBOT},Too many,,privacy,,,,,,extra\n"  # row 11
    )
    problems = errors_of(actors, text)
    assert [(row, column) for row, column, _ in problems] == [
        (3, "title"),
        (4, "system"),
        (5, "category"),
        (6, "likelihood"),
        (7, "impact"),
        (8, "residual_likelihood"),
        (9, "title"),
        (10, "owner"),
        (11, "row"),
    ]
    msgs = dict(((row, column), msg) for row, column, msg in problems)
    assert msgs[(4, "system")] == "no AI system with key 'nope'"
    assert msgs[(6, "likelihood")].startswith("likelihood 9 is not on the seed-5x5@1 scale")
    assert msgs[(7, "impact")] == "required together with likelihood"
    assert msgs[(9, "title")] == "same system and title as row 2"
    assert count(actors.session) == 0
    assert actors.session.execute(select(LedgerEntry.seq).where(LedgerEntry.action.like("risk.%"))).first() is None


def test_a_title_already_in_the_register_is_a_row_error(actors, system, add_risk) -> None:
    add_risk("PII Leakage")
    problems = errors_of(actors, HEADER + f"{CHATBOT},PII Leakage,,privacy,,,,,\n")
    assert problems[0][:2] == (2, "title") and "RISK-0001" in problems[0][2]
    assert count(actors.session) == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("title,category\nx,privacy\n", [(1, "system", "required column is missing")]),
        (
            "system,title,category,colour\n",
            [
                (
                    1,
                    "colour",
                    "unknown column; allowed: system, title, description, category, owner, likelihood, impact, "
                    "residual_likelihood, residual_impact, matrix, rationale",
                )
            ],
        ),
        ("system,title,category,title\n", [(1, "title", "column given twice")]),
    ],
)
def test_header_problems_are_reported(actors, system, text: str, expected) -> None:  # type: ignore[no-untyped-def]
    assert errors_of(actors, text) == expected


def test_a_key_column_with_values_is_refused(actors, system) -> None:
    problems = errors_of(actors, f"key,system,title,category\nRISK-0009,{CHATBOT},x,privacy\n")
    assert problems == [(2, "key", "RISK-0009: import only adds new risks; leave key empty")]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"system,title,category\n", "has a header but no rows"),
        ("system,title,category\nx,é,privacy\n".encode("latin-1"), "not UTF-8"),
    ],
)
def test_unreadable_files_are_refused(actors, system, content: bytes, message: str) -> None:
    with pytest.raises(ValidationFailed, match=message):
        csvio.import_csv(actors.ctx("engineer"), content)


def test_dry_run_validates_without_importing(actors, system) -> None:
    result = do_import(actors, HEADER + f"{CHATBOT},One,,privacy,,1,1,,\n", dry_run=True)
    assert (result.dry_run, result.rows, result.created) == (True, 1, [])
    assert count(actors.session) == 0


def test_a_utf8_bom_from_excel_is_accepted(actors, system) -> None:
    result = csvio.import_csv(
        actors.ctx("engineer"), ("\ufeff" + HEADER + f"{CHATBOT},Ünïcode,,privacy,,,,,\n").encode()
    )
    assert result.created == ["RISK-0001"]


def test_a_viewer_cannot_import(actors, system) -> None:
    from charter.kit.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        do_import(actors, HEADER + f"{CHATBOT},One,,privacy,,,,,\n", role="viewer")


def test_export_has_every_risk_and_neutralises_formulas(actors, add_risk) -> None:
    add_risk('=HYPERLINK("http://evil")', likelihood=2, impact=3)
    add_risk("Plain", category="safety")
    text = csvio.export_csv(actors.ctx("auditor"), RiskFilter())
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0]) == csvio.EXPORT_COLUMNS
    assert [r["key"] for r in rows] == ["RISK-0001", "RISK-0002"]
    assert rows[0]["title"] == '\'=HYPERLINK("http://evil")'
    assert (rows[0]["inherent_score"], rows[0]["level"], rows[0]["matrix"]) == ("6", "MEDIUM", "seed-5x5@1")
    assert (rows[1]["level"], rows[1]["likelihood"], rows[1]["matrix"]) == ("UNASSESSED", "", "")


def test_an_export_without_its_key_column_imports_back(actors, system, add_risk) -> None:
    add_risk("Round trip", likelihood=2, impact=3)
    text = csvio.export_csv(actors.ctx("viewer"), RiskFilter())
    rows = list(csv.DictReader(io.StringIO(text)))
    rows[0]["key"] = ""
    rows[0]["title"] = "Round trip, again"
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    result = csvio.import_csv(actors.ctx("engineer"), buf.getvalue().encode())
    again = queries.read_detail(actors.ctx("viewer"), result.created[0])
    assert (again.title, again.score, again.matrix) == ("Round trip, again", 6, "seed-5x5")
