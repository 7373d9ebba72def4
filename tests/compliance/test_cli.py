"""`charter compliance ...` against the API: JSON for scripts, one-line errors and non-zero exits."""

from __future__ import annotations

import json
from pathlib import Path

from charter.context import install_shipped
from tests.compliance.conftest import CliAgainstApi
from tests.compliance.helpers import ACME, setup_acme
from tests.conftest import Actors


def test_frameworks_json_lists_id_title_version_and_assessable_requirements(cli: CliAgainstApi, actors: Actors) -> None:
    install_shipped(actors.ctx("admin"))
    result = cli("viewer", "compliance", "frameworks", "--json")
    assert result.exit_code == 0, result.output
    rows = {r["id"]: r for r in json.loads(result.output)}
    assert set(rows["nist-ai-rmf-1.0"]) == {"id", "title", "version", "requirements"}
    assert rows["nist-ai-rmf-1.0"]["requirements"] == 72 and rows["owasp-llm-2025"]["requirements"] == 10


def test_coverage_gaps_map_and_history(cli: CliAgainstApi, actors: Actors) -> None:
    setup_acme(actors.ctx("admin"))
    actors.session.commit()
    out = cli("auditor", "compliance", "coverage", "chatbot", "--framework", "acme-ai-policy", "--json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["counts"] == {"met": 0, "partial": 1, "missing": 2, "not_applicable": 0}
    table = cli("auditor", "compliance", "gaps", "chatbot", "--framework", "acme-ai-policy")
    assert "chatbot / acme-ai-policy (high tier, provider): 0 met, 1 partial, 2 missing" in table.output

    mapped = cli("governance", "compliance", "map", "inventory:system-register", "acme-ai-policy:P1.3",
                 "--reason", "The register names the owner.")  # fmt: skip
    assert mapped.exit_code == 0 and "inventory:system-register → acme-ai-policy:P1.3: satisfies" in mapped.output
    out = cli("governance", "compliance", "coverage", "chatbot", "-f", "acme-ai-policy", "--record", "--json")
    assert json.loads(out.output)["counts"]["met"] == 1  # the register entry has an owner and a classified tier


def test_bad_input_is_one_line_and_a_non_zero_exit(cli: CliAgainstApi, actors: Actors, tmp_path: Path) -> None:
    install_shipped(actors.ctx("admin"))
    actors.session.commit()
    bad = cli("auditor", "compliance", "coverage", "nobody", "--framework", "eu-act")
    assert bad.exit_code == 1 and bad.output.count("\n") == 1 and bad.output.startswith("error: ")
    bad = cli("governance", "compliance", "map", "alert:accuracy-low", "eu-ai-act:Art. 1000", "--reason", "typo")
    assert bad.exit_code == 2 and "no requirement 'Art. 1000' in framework 'eu-ai-act'" in bad.output
    broken = tmp_path / "acme.yaml"
    broken.write_text(ACME.replace("kind: category", "kind: chapterette"))
    bad = cli("governance", "compliance", "install", str(broken))
    assert bad.exit_code == 2 and "acme.yaml:9: requirements[0].kind:" in bad.output
    broken.write_text(ACME)
    ok = cli("governance", "compliance", "install", str(broken))
    assert ok.exit_code == 0 and "installed acme-ai-policy 2026.1: 3 assessable requirements" in ok.output


def test_show_a_catalog_and_a_requirement(cli: CliAgainstApi, actors: Actors) -> None:
    install_shipped(actors.ctx("admin"))
    actors.session.commit()
    whole = cli("viewer", "compliance", "show", "owasp-llm-2025")
    assert whole.exit_code == 0 and "CC BY-SA 4.0" in whole.output and "LLM01:2025" in whole.output
    one = cli("viewer", "compliance", "show", "eu-ai-act", "Art. 9", "--json")
    data = json.loads(one.output)
    assert data["ref"] == "eu-ai-act:Art. 9" and data["mappings"] and data["crosswalk"]
    bad = cli("viewer", "compliance", "show", "eu-ai-act", "Art. 999")
    assert bad.exit_code == 1 and "no requirement 'Art. 999' in framework 'eu-ai-act'" in bad.output
