"""The role matrix, principals and separation of duties, without a database; docs/access.md stays in sync."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from charter.access.matrix import DOC_PATH, render_matrix, update_doc
from charter.kit.errors import PermissionDenied
from charter.kit.principal import SYSTEM, Principal, require_distinct
from charter.kit.roles import PERMISSIONS, ROLE_PERMISSIONS, ROLES, permissions_for

WRITES = {p for p in PERMISSIONS if not p.endswith(":read")}


def test_every_role_has_a_row_and_only_known_permissions() -> None:
    assert set(ROLE_PERMISSIONS) == set(ROLES)
    for perms in ROLE_PERMISSIONS.values():
        assert perms <= set(PERMISSIONS)


def test_admin_may_do_everything() -> None:
    assert permissions_for("admin") == frozenset(PERMISSIONS)


def test_viewer_only_reads_and_never_the_audit_trail_or_users() -> None:
    viewer = permissions_for("viewer")
    # ':own': one's own settings; feedback:write: anyone who can see an AI output may flag it (issue 19)
    assert all(p.endswith((":read", ":own")) or p == "feedback:write" for p in viewer), viewer
    assert "audit:read" not in viewer and "users:read" not in viewer
    assert "systems:read" in viewer


def test_auditor_reads_everything_and_verifies_but_changes_nothing_it_audits() -> None:
    auditor = permissions_for("auditor")
    assert {p for p in PERMISSIONS if p.endswith(":read")} <= auditor
    assert "audit:verify" in auditor
    # verifying the ledger and building evidence packs / exports read what exists and change nothing audited
    changes = {p for p in auditor & WRITES if not p.endswith(":own")} - {"audit:verify", "compliance:export"}
    assert changes == set(), changes


def test_only_admins_manage_users_and_others_tokens() -> None:
    for perm in ("users:manage", "tokens:manage"):
        assert {r for r in ROLES if perm in permissions_for(r)} == {"admin"}


def test_engineers_register_but_do_not_classify_risk() -> None:
    engineer = permissions_for("engineer")
    assert {"systems:write", "systems:transition"} <= engineer
    assert "systems:classify" not in engineer
    assert "systems:classify" in permissions_for("governance")


def test_an_unknown_role_may_do_nothing() -> None:
    assert permissions_for("superuser") == frozenset()
    with pytest.raises(PermissionDenied):
        Principal(kind="user", user_id=1, name="x", role="superuser").require("systems:read")


@given(st.sampled_from(ROLES), st.sets(st.sampled_from(sorted(PERMISSIONS))))
def test_scopes_only_narrow_a_role(role: str, scopes: set[str]) -> None:
    p = Principal(kind="token", user_id=1, name="ci@x", role=role, scopes=frozenset(scopes), token_id=1)
    assert p.permissions == permissions_for(role) & scopes
    for perm in PERMISSIONS:
        assert p.can(perm) == (perm in scopes and perm in permissions_for(role))


def test_a_missing_scope_is_named_as_a_scope_not_a_role_problem() -> None:
    p = Principal(
        kind="token", user_id=1, name="ci@eng", role="engineer", scopes=frozenset({"systems:read"}), token_id=3
    )
    with pytest.raises(PermissionDenied) as err:
        p.require("systems:write")
    assert err.value.extra == {"required": "systems:write"}
    assert err.value.detail == (
        "this token lacks the scope 'systems:write' (register and edit AI systems); its scopes are: systems:read"
    )


def test_a_missing_role_permission_names_role_and_permission() -> None:
    with pytest.raises(PermissionDenied) as err:
        Principal(kind="user", user_id=1, name="vera", role="viewer").require("systems:write")
    assert err.value.detail == "role 'viewer' may not register and edit AI systems (needs 'systems:write')"


def test_an_unknown_permission_is_a_programming_error_not_a_403() -> None:
    with pytest.raises(KeyError):
        SYSTEM.require("systems:delete")


def test_the_ledger_names_users_tokens_and_the_system() -> None:
    assert Principal(kind="user", user_id=1, name="ada", role="engineer").actor == "user:ada"
    assert Principal(kind="token", user_id=1, name="ci@ada", role="engineer", token_id=9).actor == "token:9:ci@ada"
    assert SYSTEM.actor == "system:charter"


def test_separation_of_duties_refuses_approving_ones_own_work() -> None:
    ada = Principal(kind="user", user_id=7, name="ada", role="admin")
    with pytest.raises(PermissionDenied) as err:
        require_distinct(ada, 7, "approve")
    assert err.value.extra == {"rule": "separation-of-duties"}
    assert "cannot approve your own work" in err.value.detail
    require_distinct(ada, 8, "approve")
    require_distinct(ada, None, "approve")
    # A machine token acts for its user: it cannot approve that user's work either.
    token = Principal(kind="token", user_id=7, name="ci@ada", role="admin", token_id=1)
    with pytest.raises(PermissionDenied):
        require_distinct(token, 7, "approve")


# ----------------------------------------------------------------------------- docs/access.md


def test_the_documented_matrix_is_the_one_in_roles_py() -> None:
    doc = Path(__file__).resolve().parents[2] / DOC_PATH
    assert render_matrix() in doc.read_text(), (
        "docs/access.md is out of date with src/charter/access/roles.py; regenerate it with "
        "`.venv/bin/python -m charter.access.matrix`"
    )


def test_the_rendered_matrix_has_a_row_per_permission_and_a_column_per_role() -> None:
    table = render_matrix()
    header = table.splitlines()[0]
    assert all(f" {role} " in header for role in ROLES)
    for perm, what in PERMISSIONS.items():
        [row] = [line for line in table.splitlines() if line.startswith(f"| `{perm}` ")]
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[1] == what
        assert cells[2:] == ["✓" if perm in permissions_for(r) else "" for r in ROLES]


def test_update_doc_replaces_only_the_marked_block(tmp_path: Path) -> None:
    doc = tmp_path / "access.md"
    doc.write_text("intro\n<!-- role-matrix:start -->\nold\n<!-- role-matrix:end -->\noutro\n")
    update_doc(doc)
    text = doc.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n")
    assert "old" not in text and render_matrix() in text
