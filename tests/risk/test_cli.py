"""The seed 002 example through the real CLI, over HTTP, against a running server."""

from __future__ import annotations

from pathlib import Path

from tests.risk.conftest import CHATBOT

SEED_REPORT_HEAD = (
    "Risk Assessment: Customer Support Chatbot\n" + "=" * 50 + "\n\n"
    "Risk: Hallucination in Medical Advice\n"
    "Category: Safety\n"
    "Level: HIGH (Score: 20)\n"
    "Description: Chatbot may provide incorrect medical information\n"
)


def test_seed_002_example_scores_and_orders_the_report_through_the_cli(cli, system) -> None:
    # PII Leakage first, so the report's order comes from the scores, not from insertion.
    r = cli(
        "engineer", "risk", "add", "--system", CHATBOT, "--title", "PII Leakage", "--category", "Privacy",
        "--description", "May expose customer personal information", "--likelihood", "POSSIBLE", "--impact", "MAJOR",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert r.output.strip() == "RISK-0001 [assessed] PII Leakage: MEDIUM (Score: 12)"
    r = cli(
        "engineer", "risk", "add", "--system", CHATBOT, "--title", "Hallucination in Medical Advice",
        "--category", "Safety", "--description", "Chatbot may provide incorrect medical information",
        "--likelihood", "LIKELY", "--impact", "CATASTROPHIC",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert r.output.strip() == "RISK-0002 [assessed] Hallucination in Medical Advice: HIGH (Score: 20)"

    report = cli("viewer", "risk", "report", "--system", CHATBOT)
    assert report.exit_code == 0, report.output
    assert report.output.startswith(SEED_REPORT_HEAD)
    assert report.output.index("Risk: Hallucination in Medical Advice") < report.output.index("Risk: PII Leakage")
    assert "Category: Privacy\nLevel: MEDIUM (Score: 12)\nDescription: May expose customer personal information\n" in (
        report.output
    )

    listing = cli("viewer", "risk", "list", "--system", CHATBOT, "--sort", "-score", "--json")
    assert listing.exit_code == 0, listing.output
    import json

    rows = json.loads(listing.output)
    assert [(x["title"], x["score"], x["level"]) for x in rows] == [
        ("Hallucination in Medical Advice", 20, "HIGH"),
        ("PII Leakage", 12, "MEDIUM"),
    ]


def test_cli_treats_accepts_and_refuses_with_one_line_errors(cli, system) -> None:
    assert cli("engineer", "risk", "add", "-s", CHATBOT, "-t", "Prompt injection", "-c", "security",
               "-l", "4", "-i", "4").exit_code == 0  # fmt: skip
    r = cli("engineer", "risk", "move", "RISK-0001", "mitigated")
    assert r.exit_code == 1
    assert r.output.strip().startswith("error: risk RISK-0001 cannot move from 'assessed' to 'mitigated'")
    assert "Allowed from 'assessed': treating" in r.output
    assert "Traceback" not in r.output

    assert cli("engineer", "risk", "move", "RISK-0001", "treating").exit_code == 0
    r = cli("engineer", "risk", "mitigate", "RISK-0001", "Input filtering and tool allow-list", "--due", "2026-02-01")
    assert r.exit_code == 0, r.output
    assert r.output.strip() == "RISK-0001/M1 [planned] Input filtering and tool allow-list"
    assert cli("engineer", "risk", "mitigate", "RISK-0001", "-n", "1", "--status", "done").exit_code == 0
    r = cli("engineer", "risk", "assess", "RISK-0001", "--residual-likelihood", "2", "--residual-impact", "4")
    assert r.exit_code == 0, r.output
    assert "residual: MEDIUM (Score: 8)" in r.output

    # The engineer may not accept; the governance lead may.
    r = cli("engineer", "risk", "accept", "RISK-0001", "--justification", "x" * 30, "--until", "2026-06-30")
    assert r.exit_code == 1
    assert "may not accept a residual risk" in r.output
    r = cli("governance", "risk", "accept", "RISK-0001", "--justification", "Residual within appetite after filtering",
            "--until", "2026-06-30")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert r.output.strip() == "RISK-0001 accepted by governance until 2026-06-30"


def test_cli_import_lists_every_row_problem_and_imports_nothing(cli, system, tmp_path: Path) -> None:
    bad = tmp_path / "risks.csv"
    bad.write_text(
        "system,title,category,likelihood,impact\n"
        f"{CHATBOT},Good row,privacy,3,4\n"
        f"{CHATBOT},Bad likelihood,privacy,9,4\n"
        "no-such-system,Bad system,privacy,,\n"
    )
    r = cli("engineer", "risk", "import", str(bad))
    assert r.exit_code == 2
    assert "nothing was imported" in r.output
    assert f"{bad}: row 3, column likelihood:" in r.output
    assert f"{bad}: row 4, column system: no AI system with key 'no-such-system'" in r.output
    assert cli("viewer", "risk", "list", "--json").output.strip() == "[]"


def test_cli_matrix_install_reports_file_line_and_field(cli, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "name: tiny-3x3\nversion: 1\ntitle: Tiny\n"
        "likelihood:\n  - {value: 1, key: LOW_L, label: Low}\n  - {value: 2, key: MID_L, label: Medium}\n"
        "  - {value: 3, key: HIGH_L, label: High}\n"
        "impact:\n  - {value: 1, key: LOW_I, label: Low}\n  - {value: 2, key: MID_I, label: Medium}\n"
        "  - {value: 3, key: HIGH_I, label: High}\n"
        "levels:\n  - {key: LOW, label: Low, max_score: 2, review_days: 365}\n"
        "  - {key: MEDIUM, label: Medium, max_score: 4, review_days: 180}\n"
        "  - {key: HIGH, label: High, max_score: eight, review_days: 60}\n"
    )
    r = cli("governance", "risk", "matrix", "install", str(broken))
    assert r.exit_code == 2
    assert f"error: {broken}:15: levels[2].max_score:" in r.output
    fixed = tmp_path / "tiny.yaml"
    fixed.write_text(broken.read_text().replace("max_score: eight", "max_score: 9"))
    r = cli("governance", "risk", "matrix", "install", str(fixed))
    assert r.exit_code == 0, r.output
    assert r.output.strip() == "risk matrix tiny-3x3@1 (Tiny): active"


def test_cli_views_heatmap_show_list_export_and_facts(cli, system, clock, tmp_path: Path) -> None:
    import json

    cli("engineer", "risk", "add", "-s", CHATBOT, "-t", "Outage", "-c", "safety", "-l", "5", "-i", "5")
    cli("engineer", "risk", "add", "-s", CHATBOT, "-t", "Unscored", "-c", "legal")
    heat = cli("viewer", "risk", "heatmap", "-s", CHATBOT)
    assert heat.exit_code == 0, heat.output
    assert "Almost certain" in heat.output and "Catastrophic" in heat.output
    assert "total: 1 inherent, 0 residual" in heat.output and "not yet assessed: 1" in heat.output
    show = cli("viewer", "risk", "show", "RISK-0001")
    assert "inherent 5x5 = 25 CRITICAL (seed-5x5@1, user:engineer)" in show.output
    clock.advance(days=31)
    listing = cli("viewer", "risk", "list", "--overdue")
    assert listing.exit_code == 0 and "! 2026-01-31" in listing.output
    out = tmp_path / "risks.csv"
    assert cli("auditor", "risk", "export", "-o", str(out)).output.strip() == f"wrote 2 risk(s) to {out}"
    assert out.read_text().splitlines()[1].startswith("RISK-0001,support-chatbot,Outage")
    facts = json.loads(cli("viewer", "risk", "facts", "-s", CHATBOT).output)
    assert (facts["open_critical_keys"], facts["overdue_reviews"], facts["open_unassessed"]) == (["RISK-0001"], 2, 1)
