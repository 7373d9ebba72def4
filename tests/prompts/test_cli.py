"""`charter prompt ...` against a real server: push a folder idempotently, bad files as one line and nothing
stored, protect labels, export a folder that pushes back unchanged, import a Langfuse export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.prompts.conftest import SYSTEM
from tests.releases.conftest import cli  # noqa: F401  (the CLI against a real HTTP server)

GREETING = "---\nconfig:\n  model: gpt-4o\n  temperature: 0.2\ntags: [support]\n---\nHello {{ name }}!\n"
FAQ = (
    "---\ntype: chat\nmessages:\n  - role: system\n    content: You answer FAQs.\n"
    "  - role: user\n    content: '{{ q }}'\n---\n"
)


def test_push_is_idempotent_and_export_round_trips(cli: Any, system: Any, tmp_path: Path) -> None:  # noqa: F811
    folder = tmp_path / "prompts"
    (folder / "support").mkdir(parents=True)
    (folder / "greeting.prompt.md").write_text(GREETING)
    (folder / "support" / "faq.prompt.md").write_text(FAQ)
    first = cli("engineer", "prompt", "push", SYSTEM, str(folder))
    assert first.exit_code == 0, first.output
    assert "2 new, 0 changed, 0 unchanged; created 2 version(s)" in first.output
    again = cli("engineer", "prompt", "push", SYSTEM, str(folder))
    assert "0 new, 0 changed, 2 unchanged; created 0 version(s)" in again.output
    shown = json.loads(cli("engineer", "prompt", "show", SYSTEM, "support/faq", "--json").output)
    assert shown["type"] == "chat" and shown["messages"][1] == {"role": "user", "content": "{{ q }}"}

    out = tmp_path / "exported"
    assert cli("engineer", "prompt", "export", SYSTEM, "--dir", str(out)).exit_code == 0
    assert (out / "support" / "faq.prompt.md").exists()
    back = cli("engineer", "prompt", "push", SYSTEM, str(out))
    assert "2 unchanged; created 0 version(s)" in back.output


def test_a_bad_file_is_one_line_with_file_line_and_column_and_stores_nothing(
    cli: Any,  # noqa: F811
    system: Any,
    tmp_path: Path,
) -> None:
    folder = tmp_path / "prompts"
    folder.mkdir()
    (folder / "greeting.prompt.md").write_text(GREETING)
    (folder / "broken.prompt.md").write_text("---\ntype: text\n---\nHello\n  {{ name }\n")
    r = cli("engineer", "prompt", "push", SYSTEM, str(folder))
    assert r.exit_code == 1
    assert r.output.startswith("error: 1 problem in prompt files: broken.prompt.md:5:11:")
    assert len(r.output.strip().splitlines()) == 1
    assert json.loads(cli("engineer", "prompt", "list", SYSTEM, "--json").output) == []


def test_protect_then_a_direct_move_is_refused(cli: Any, system: Any, tmp_path: Path) -> None:  # noqa: F811
    template = tmp_path / "t.txt"
    template.write_text("Hello {{ name }}\n")
    assert cli("engineer", "prompt", "create", SYSTEM, "greeting", "--file", str(template)).exit_code == 0
    denied = cli("engineer", "prompt", "protect", SYSTEM, "production", "staging")
    assert denied.exit_code == 1 and "prompts:manage" in denied.output
    ok = cli("governance", "prompt", "protect", SYSTEM, "production", "staging")
    assert ok.exit_code == 0 and "protected labels are now production, staging" in ok.output
    refused = cli("engineer", "prompt", "label", SYSTEM, "greeting", "staging", "--version", "1")
    assert refused.exit_code == 1 and "is protected" in refused.output


def test_import_a_langfuse_export(cli: Any, system: Any, tmp_path: Path) -> None:  # noqa: F811
    document = tmp_path / "langfuse.json"
    document.write_text(
        json.dumps(
            {
                "data": [
                    {
                        "name": "qa",
                        "version": 1,
                        "type": "text",
                        "prompt": "Answer {{question}}",
                        "labels": ["staging"],
                    },
                ]
            }
        )
    )
    r = cli("engineer", "prompt", "import", SYSTEM, str(document), "--format", "langfuse")
    assert r.exit_code == 0 and "1 version(s) read, 1 created: qa@1" in r.output
    rendered = cli("engineer", "prompt", "render", SYSTEM, "qa@staging", "--var", "question=why?")
    assert rendered.output.strip() == "Answer why?"
