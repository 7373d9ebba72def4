"""The register's views: filtered list with pagination, heat map, the seed's report."""

from __future__ import annotations

import pytest
from tests.risk.conftest import make_system
from tests.risk.test_service import THREE_BY_THREE

from charter.kit.errors import NotFound, ValidationFailed
from charter.risk import queries
from charter.risk.matrices import service as matrices
from charter.risk.queries import RiskFilter
from charter.risk.schemas import MatrixInstall


def keys(actors, **flt) -> list[str]:  # type: ignore[no-untyped-def]
    items, _ = queries.list_risks(actors.ctx("viewer"), RiskFilter(**flt), limit=500)
    return [r.key for r in items]


@pytest.fixture
def register(actors, add_risk):  # type: ignore[no-untyped-def]
    make_system(actors, "hr-screener", "HR Screener")
    from charter.risk import service
    from charter.risk.schemas import RiskCreate

    add_risk("Hallucination in Medical Advice", category="safety", likelihood=4, impact=5)  # 1 HIGH 20
    add_risk("PII Leakage", likelihood=3, impact=4, owner="approver")  # 2 MEDIUM 12
    add_risk("Model theft", category="security")  # 3 UNASSESSED
    service.create_risk(
        actors.ctx("engineer"),
        RiskCreate(system="hr-screener", title="Gender bias", category="fairness", likelihood=5, impact=5),
    )  # 4 CRITICAL 25


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ({}, ["RISK-0001", "RISK-0002", "RISK-0003", "RISK-0004"]),
        ({"system": "support-chatbot"}, ["RISK-0001", "RISK-0002", "RISK-0003"]),
        ({"category": "Privacy"}, ["RISK-0002"]),
        ({"level": "HIGH"}, ["RISK-0001"]),
        ({"level": "unassessed"}, ["RISK-0003"]),
        ({"status": "identified"}, ["RISK-0003"]),
        ({"owner": "approver"}, ["RISK-0002"]),
        ({"q": "bias"}, ["RISK-0004"]),
        ({"open": False}, []),
        ({"overdue": True}, []),
    ],
)
def test_register_filters(actors, register, flt, expected) -> None:  # type: ignore[no-untyped-def]
    assert keys(actors, **flt) == expected


def test_overdue_filter_follows_each_risks_cadence(actors, register, clock) -> None:
    clock.advance(days=31)  # CRITICAL (30 d) and unassessed (30 d) are due
    assert keys(actors, overdue=True) == ["RISK-0003", "RISK-0004"]
    clock.advance(days=60)  # HIGH (90 d)
    assert keys(actors, overdue=True) == ["RISK-0001", "RISK-0003", "RISK-0004"]
    assert keys(actors, overdue=False) == ["RISK-0002"]
    item = queries.read_detail(actors.ctx("viewer"), "RISK-0001")
    assert item.overdue and item.needs_review


def test_pagination_by_score_walks_every_risk_once(actors, register) -> None:
    seen, cursor = [], None
    while True:
        items, cursor = queries.list_risks(actors.ctx("viewer"), RiskFilter(), sort="-score", limit=1, cursor=cursor)
        seen += [(r.key, r.score) for r in items]
        if not cursor:
            break
    assert seen == [("RISK-0004", 25), ("RISK-0001", 20), ("RISK-0002", 12), ("RISK-0003", None)]


def test_unknown_sort_and_filters_are_refused_saying_what_is_allowed(actors, register) -> None:
    with pytest.raises(ValidationFailed, match="cannot sort by 'colour'; allowed: created_at, key, next_review_at"):
        queries.list_risks(actors.ctx("viewer"), RiskFilter(), sort="colour")
    with pytest.raises(NotFound):
        queries.list_risks(actors.ctx("viewer"), RiskFilter(system="nope"))


def test_heat_map_counts_inherent_and_residual_per_cell(actors, register, treating) -> None:
    treating("Jailbreak", li=4, im=5, rli=2, rim=5)
    data = queries.heatmap(actors.ctx("viewer"), "support-chatbot")
    (grid,) = data["grids"]
    cell = {(c["likelihood"], c["impact"]): c for c in grid["cells"]}
    assert cell[(4, 5)]["inherent"] == 2 and cell[(4, 5)]["level"] == "HIGH"
    assert cell[(3, 4)]["inherent"] == 1 and cell[(3, 4)]["level"] == "MEDIUM"
    assert cell[(2, 5)]["residual"] == 1 and cell[(2, 5)]["inherent"] == 0
    assert (grid["inherent_total"], grid["residual_total"], data["unassessed"]) == (3, 1, 1)
    assert len(grid["cells"]) == 25
    assert grid["cells"][0]["likelihood"] == 5 and grid["cells"][0]["impact"] == 1  # top-left: almost certain


def test_heat_map_draws_one_grid_per_matrix_in_use(actors, register, add_risk) -> None:
    matrices.install_matrix(actors.ctx("governance"), MatrixInstall(source=THREE_BY_THREE))
    add_risk("New one", likelihood=3, impact=3)
    grids = queries.heatmap(actors.ctx("viewer"), None)["grids"]
    assert [(g["matrix"], len(g["cells"]), g["inherent_total"]) for g in grids] == [
        ("org-3x3", 9, 1),
        ("seed-5x5", 25, 3),
    ]


def test_report_follows_the_seed_format_sorted_by_score(actors, register) -> None:
    text = queries.report(actors.ctx("viewer"), "support-chatbot")
    lines = text.splitlines()
    assert lines[:7] == [
        "Risk Assessment: Customer Support Chatbot",
        "=" * 50,
        "",
        "Risk: Hallucination in Medical Advice",
        "Category: Safety",
        "Level: HIGH (Score: 20)",
        "Description: ",
    ]
    titles = [line.removeprefix("Risk: ") for line in lines if line.startswith("Risk: ")]
    assert titles == ["Hallucination in Medical Advice", "PII Leakage", "Model theft"]
    assert "Level: UNASSESSED" in lines
    assert lines.count("-" * 50) == 3


def test_report_without_a_system_has_one_section_per_system(actors, register, clock) -> None:
    clock.advance(days=40)
    text = queries.report(actors.ctx("viewer"), None)
    assert text.index("Risk Assessment: Customer Support Chatbot") < text.index("Risk Assessment: HR Screener")
    assert "(REVIEW OVERDUE)" in text


def test_report_of_a_system_without_risks_says_so(actors) -> None:
    make_system(actors, "empty-system", "Empty")
    assert queries.report(actors.ctx("viewer"), "empty-system").endswith("(no risks)\n")


def test_closed_risks_leave_the_report_and_heat_map_unless_asked(actors, add_risk) -> None:
    from charter.risk import service
    from charter.risk.schemas import Transition

    risk = add_risk("Withdrawn")
    service.transition_risk(actors.ctx("engineer"), risk.key, Transition(to="closed", version=1, reason="duplicate"))
    assert "Withdrawn" not in queries.report(actors.ctx("viewer"), "support-chatbot")
    assert "Withdrawn" in queries.report(actors.ctx("viewer"), "support-chatbot", include_closed=True)
    assert queries.heatmap(actors.ctx("viewer"), None, include_closed=True)["unassessed"] == 1
    assert queries.heatmap(actors.ctx("viewer"), None)["unassessed"] == 0
