"""The role matrix of roles.py as a Markdown table, kept in docs/access.md.

`python -m charter.access.matrix [PATH]` rewrites the table between the markers in docs/access.md;
tests/access/test_roles.py fails when the document and roles.py disagree.
"""

from __future__ import annotations

import sys
from pathlib import Path

from charter.kit.roles import PERMISSIONS, ROLES, permissions_for

DOC_PATH = Path("docs/access.md")
START = "<!-- role-matrix:start -->"
END = "<!-- role-matrix:end -->"


def render_matrix() -> str:
    """One row per permission (in roles.py order), one column per role; ✓ where the role has it."""
    lines = [
        "| permission | allows | " + " | ".join(ROLES) + " |",
        "|---|---|" + "|".join(":-:" for _ in ROLES) + "|",
    ]
    for perm, what in PERMISSIONS.items():
        cells = " | ".join("✓" if perm in permissions_for(role) else "" for role in ROLES)
        lines.append(f"| `{perm}` | {what} | {cells} |")
    return "\n".join(lines) + "\n"


def update_doc(path: Path = DOC_PATH) -> None:
    """Replace the block between the markers with the current table."""
    text = path.read_text(encoding="utf-8")
    head, start, rest = text.partition(START)
    _old, end, tail = rest.partition(END)
    if not start or not end:
        raise SystemExit(f"{path}: markers {START} and {END} not found")
    path.write_text(f"{head}{START}\n{render_matrix()}{END}{tail}", encoding="utf-8")


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DOC_PATH
    update_doc(target)
    print(f"updated the role matrix in {target}")
