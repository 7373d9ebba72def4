"""Evaluation facts for release gates (the `evaluation` namespace of charter.policy.facts).

    evaluation.benchmark_passed && evaluation.benchmark_tasks >= 20
    'faq' in evaluation.suites_passed && evaluation.pass_rate_lower['faq'] >= 0.8
    evaluation.judge_alpha['gpt-judge'] >= 0.6

Suites are the system's datasets; each is judged by its newest completed run. Undefined numbers are -1.0.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from charter.evaluation.benchmarks import report
from charter.evaluation.models import (
    EvalBenchmark,
    EvalCalibration,
    EvalDataset,
    EvalDatasetVersion,
    EvalRun,
    EvalTarget,
)
from charter.policy.facts import FactsRequest, register_facts_provider
from charter.releases.models import Release

SCHEMA: Final[dict[str, str]] = {
    "runs": "int",
    "suites_passed": "list(string)",
    "suites_failed": "list(string)",
    "pass_rate": "map(string, double)",
    "pass_rate_lower": "map(string, double)",
    "dataset_hash": "map(string, string)",
    "run_age_days": "map(string, double)",
    "target_release": "map(string, int)",
    "benchmark_passed": "bool",
    "benchmark_tasks": "int",
    "benchmark_win_or_tie_lower": "double",
    "benchmark_krippendorff_alpha": "double",
    "judges_calibrated": "list(string)",
    "judge_alpha": "map(string, double)",
    "judge_kappa": "map(string, double)",
    "judge_n": "map(string, int)",
}


def _num(value: Any) -> float:
    return -1.0 if value is None else float(value)


def gate_facts(session: Session, system_id: int, now: datetime) -> dict[str, Any]:
    rows = session.execute(
        select(EvalRun, EvalDataset.name, EvalDatasetVersion.content_hash)
        .join(EvalDatasetVersion, EvalDatasetVersion.id == EvalRun.dataset_version_id)
        .join(EvalDataset, EvalDataset.id == EvalDatasetVersion.dataset_id)
        .where(EvalRun.system_id == system_id, EvalRun.status == "completed")
        .order_by(EvalRun.id)
    ).all()
    newest: dict[str, tuple[EvalRun, str]] = {}
    for run, name, digest in rows:
        newest[name] = (run, digest)
    facts: dict[str, Any] = {k: {} for k, v in SCHEMA.items() if v.startswith("map")}
    passed, failed = [], []
    for name, (run, digest) in sorted(newest.items()):
        scores = list((run.summary or {}).values())
        facts["pass_rate"][name] = min((_num(s["pass_rate"]) for s in scores), default=-1.0)
        facts["pass_rate_lower"][name] = min((float(s["pass_rate_wilson95"][0]) for s in scores), default=-1.0)
        facts["dataset_hash"][name] = digest
        finished = run.finished_at or now
        facts["run_age_days"][name] = round((now - finished).total_seconds() / 86400, 3)
        release = session.get(Release, run.release_id) if run.release_id else None
        facts["target_release"][name] = release.version if release else -1
        if run.passed is True:
            passed.append(name)
        elif run.passed is False:
            failed.append(name)
    benchmark = session.execute(
        select(EvalBenchmark).where(EvalBenchmark.system_id == system_id).order_by(EvalBenchmark.id.desc()).limit(1)
    ).scalar_one_or_none()
    rep = report(session, benchmark) if benchmark else {}
    judges = session.execute(
        select(EvalTarget.name, EvalCalibration)
        .join(EvalCalibration, EvalCalibration.judge_id == EvalTarget.id)
        .order_by(EvalCalibration.id)
    ).all()
    for judge, calibration in judges:  # the newest calibration of each judge wins
        facts["judge_alpha"][judge] = _num(calibration.stats.get("krippendorff_alpha"))
        facts["judge_kappa"][judge] = _num(calibration.stats.get("cohen_kappa"))
        facts["judge_n"][judge] = calibration.n
    return {
        **facts,
        "runs": len(rows),
        "suites_passed": passed,
        "suites_failed": failed,
        "benchmark_passed": bool(rep.get("passed")),
        "benchmark_tasks": int(rep.get("tasks_total", 0)),
        "benchmark_win_or_tie_lower": float(rep["majority"]["win_or_tie_wilson95"][0]) if "majority" in rep else -1.0,
        "benchmark_krippendorff_alpha": _num(rep.get("krippendorff_alpha")) if rep else -1.0,
        "judges_calibrated": sorted(facts["judge_alpha"]),
    }


def provide(request: FactsRequest) -> dict[str, Any]:
    return gate_facts(request.session, request.system.id, request.now)


def _register() -> None:
    # Runs, ratings and calibrations change only through ledger-recorded changes; run ages may be seconds old.
    register_facts_provider("evaluation", provide, schema=SCHEMA, cacheable=True)


_register()
