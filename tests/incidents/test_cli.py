"""`charter incident ...` and `charter notify ...` through the real CLI and HTTP client."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from tests.incidents.conftest import SYSTEM


def test_incident_help_is_fast() -> None:
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", "from charter.cli.main import app; app(['incident', '--help'])"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0 and "postmortem" in out.stdout
    assert time.perf_counter() - started < 3  # generous for a loaded CI box; the import itself is light


def test_the_incident_lifecycle_from_the_command_line(cli, system, tmp_path) -> None:
    r = cli(
        "engineer", "incident", "open", "Model generating harmful content", "--system", SYSTEM, "--severity", "HIGH"
    )
    assert r.exit_code == 0, r.output
    assert r.output.startswith("opened INC-2026-0001 (HIGH) on support-bot; commander: engineer")
    assert "playbook: INC-2026-0001 — incident-response-high" in r.output

    r = cli("engineer", "incident", "ack", "INC-2026-0001")
    assert r.output.strip().startswith("INC-2026-0001 acknowledged at")
    r = cli("approver", "incident", "ack", "INC-2026-0001")
    assert "was already acknowledged by engineer" in r.output

    assert cli("engineer", "incident", "update", "INC-2026-0001", "rolled the prompt back").exit_code == 0
    r = cli("engineer", "incident", "severity", "INC-2026-0001", "CRITICAL", "--reason", "spreading")
    assert r.output.strip() == "INC-2026-0001 is open (CRITICAL, version 3)"

    r = cli("engineer", "incident", "severity", "INC-2026-0001", "SEV1")
    assert r.exit_code == 2
    assert r.output.strip() == "error: unknown severity 'SEV1'; allowed: LOW, MEDIUM, HIGH, CRITICAL [422]"

    assert cli("engineer", "incident", "resolve", "INC-2026-0001").exit_code == 0
    r = cli("governance", "incident", "close", "INC-2026-0001")
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert r.output.startswith("error: incident INC-2026-0001 is CRITICAL: its postmortem must be approved")

    pm = tmp_path / "pm.yaml"
    pm.write_text(
        "summary: Filter bypass\nimpact_harm: unsafe answers\ndetection: user reports\n"
        "root_cause: prompt regression\nfive_whys: [a, b, c]\n"
    )
    assert cli("engineer", "incident", "postmortem", "edit", "INC-2026-0001", "--file", str(pm)).exit_code == 0
    assert cli("engineer", "incident", "postmortem", "submit", "INC-2026-0001").exit_code == 0
    r = cli("governance", "incident", "postmortem", "approve", "INC-2026-0001")
    assert r.output.strip() == "postmortem of INC-2026-0001: approved"
    r = cli("governance", "incident", "close", "INC-2026-0001")
    assert r.exit_code == 0, r.output
    r = cli("viewer", "incident", "postmortem", "export", "INC-2026-0001")
    assert r.output.startswith("# Postmortem: INC-2026-0001 — Model generating harmful content")

    r = cli("viewer", "incident", "show", "INC-2026-0001")
    assert "status: closed" in r.output and "rolled the prompt back" in r.output
    r = cli("viewer", "incident", "list", "--json")
    assert [i["key"] for i in json.loads(r.output)] == ["INC-2026-0001"]
    r = cli("viewer", "incident", "metrics", "--json")
    assert json.loads(r.output)["incidents"] == 1
    r = cli("engineer", "incident", "ack", "INC-2026-0001")
    assert r.exit_code == 1 and "is closed: only ongoing incidents can be acknowledged" in r.output


def test_serious_flag_needs_awareness_time_on_the_command_line(cli, system) -> None:
    cli("engineer", "incident", "open", "Data leak", "--system", SYSTEM, "--severity", "CRITICAL")
    r = cli("engineer", "incident", "serious", "INC-2026-0001", "--case", "widespread_or_critical_infrastructure")
    assert r.exit_code == 2 and "aware_at is required" in r.output
    r = cli(
        "engineer", "incident", "serious", "INC-2026-0001",
        "--case", "widespread_or_critical_infrastructure", "--aware-at", "2026-01-01T09:00:00Z",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "Art. 73(3)); report due 2026-01-03T09:00:00Z — 2d left" in r.output


def test_notification_channels_from_the_command_line(cli) -> None:
    r = cli(
        "engineer", "notify", "channel", "add", "pager", "--kind", "webhook", "--url", "https://hooks.example.com/x"
    )
    assert r.exit_code == 0, r.output
    assert "signing secret (shown once): " in r.output
    r = cli("engineer", "notify", "subscribe", "incident.*", "--channel", "1")
    assert r.exit_code == 0, r.output
    r = cli("engineer", "notify", "subscribe", "incident..x", "--channel", "1")
    assert r.exit_code == 2 and "is not an event type" in r.output
    r = cli("engineer", "notify", "subscriptions", "--json")
    assert json.loads(r.output)[0]["event_type"] == "incident.*"
