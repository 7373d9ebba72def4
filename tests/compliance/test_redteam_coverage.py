"""Red-team suites move coverage: a run that leaves HIGH findings open is partial; the fixed release's clean run
makes the suite met (a real run against the red-team tests' local weak target)."""

from __future__ import annotations

from typing import Any

from charter.compliance import queries
from tests.redteam.targets import TargetState, serve
from tests.redteam.test_runs import CHATBOT, start, submitted, system  # noqa: F401  (fixtures)
from tests.releases.conftest import submit


def suite_states(actors: Any) -> dict[str, tuple[str, str]]:
    cov = queries.coverage(actors.ctx("auditor"), CHATBOT, "owasp-llm-2025")
    return {c.control: (c.status, c.why) for r in cov.requirements for c in r.controls
            if c.control.startswith("redteam-suite:")}  # fmt: skip


def test_a_red_team_run_moves_its_suites_from_missing_to_partial_to_met(client_for, actors, system, submitted) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    before = suite_states(actors)
    assert before and all(s == "missing" for s, _ in before.values())
    eng = client_for("engineer")
    submit(actors, CHATBOT, "v1")
    submit(actors, CHATBOT, "v2")
    state = TargetState(mode="weak")
    with serve(state) as url:
        assert start(eng, url, submitted, release=1, concurrency=8, seed="release-1").status_code == 202
        weak = suite_states(actors)
        ran = {k for k, (s, _) in weak.items() if s != "missing"}
        assert ran and all(weak[k][0] == "partial" and "still open" in weak[k][1] for k in ran)
        state.mode = "fixed"
        assert start(eng, url, submitted, release=2, concurrency=8, seed="release-2").status_code == 202
    fixed = suite_states(actors)
    assert all(fixed[k][0] == "met" and "no HIGH or CRITICAL finding open" in fixed[k][1] for k in ran)
