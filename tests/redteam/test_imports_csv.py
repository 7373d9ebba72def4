"""The generic CSV import: one row per detector score of one output."""

from __future__ import annotations

import pytest
import yaml

from charter.redteam.imports.common import Crosswalk, ReportInvalid, new_attempts
from charter.redteam.imports.csv import parse_generic_csv

WALK = Crosswalk.from_yaml_text(
    yaml.safe_dump(
        {
            "mappings": [
                {"id_2023": "LLM01:2023", "id_2025": "LLM01:2025", "relation": "equivalent"},
                {"id_2023": "LLM06:2023", "id_2025": "LLM02:2025", "relation": "equivalent"},
            ]
        }
    )
)

CSV = """\
probe,detector,attempt_id,output_index,score,prompt,output,owasp
injection,canary,a1,0,1.0,say the code,CNRY-1,LLM01:2025
injection,canary,a1,1,0.0,say the code,no,LLM01:2025
injection,refusal,a1,0,0.9,say the code,CNRY-1,
injection,refusal,a1,1,,say the code,no,
injection,canary,a2,0,0.2,say it,nope,
leak,pii,b1,0,0.5,"who is the customer?","jane@example.com, +1 202 555 0147",owasp:llm06
homegrown,judge,c1,0,0.1,x,y,
"""


def results(text: str) -> dict[tuple[str, str], dict[str, object]]:
    parsed = parse_generic_csv(text, filename="results.csv", crosswalk=WALK)
    return {(r["probe"], r["detector"]): r for r in parsed.as_json()["results"]}


def test_rows_group_into_attempts_with_outputs_and_detectors() -> None:
    parsed = parse_generic_csv(CSV, filename="results.csv", crosswalk=WALK)
    a1 = next(a for a in parsed.attempts if a.attempt_id == "a1")
    assert a1.outputs == ("CNRY-1", "no") and a1.scores == {"canary": (1.0, 0.0), "refusal": (0.9, None)}
    got = results(CSV)
    assert {k: (v["passed"], v["fails"], v["nones"], v["total"]) for k, v in got.items()} == {
        ("injection", "canary"): (2, 1, 0, 3),
        ("injection", "refusal"): (0, 1, 1, 1),
        ("leak", "pii"): (0, 1, 0, 1),
        ("homegrown", "judge"): (1, 0, 0, 1),
    }
    assert got["injection", "canary"]["owasp_2025_ids"] == ["LLM01:2025"]
    assert got["leak", "pii"]["owasp_2025_ids"] == ["LLM02:2025"]  # a 2023 id, remapped
    assert got["homegrown", "judge"]["unclassified"] is True


def test_a_hit_column_instead_of_scores_and_rows_without_attempt_ids() -> None:
    text = "probe,detector,hit,prompt,output\np,d,yes,q1,a1\np,d,no,q2,a2\np,d,,q3,\n"
    parsed = parse_generic_csv(text, crosswalk=WALK)
    (row,) = parsed.as_json()["results"]
    assert (row["passed"], row["fails"], row["nones"]) == (1, 1, 1)
    assert len(parsed.attempts) == 3


def test_reimporting_the_same_csv_adds_nothing() -> None:
    stored = {a.dedup_key for a in parse_generic_csv(CSV, crosswalk=WALK).attempts}
    assert new_attempts(parse_generic_csv(CSV, crosswalk=WALK).attempts, stored) == []
    rescored = CSV.replace("injection,canary,a2,0,0.2", "injection,canary,a2,0,0.8")
    assert [a.attempt_id for a in new_attempts(parse_generic_csv(rescored, crosswalk=WALK).attempts, stored)] == ["a2"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("probe,score\np,1\n", "results.csv:1: missing column(s): detector; found: probe, score"),
        ("probe,detector\np,d\n", "results.csv:1: missing column(s): score (or hit)"),
        ("probe,detector,score\np,d,high\n", "results.csv:2: score 'high' is not a number"),
        ("probe,detector,score\np,d,1.5\n", "results.csv:2: score 1.5 is outside 0..1"),
        ("probe,detector,score,owasp\np,d,1,LLM01\n", "results.csv:2: owasp: 'LLM01' does not say which OWASP list"),
        ("probe,detector,score,owasp\np,d,1,A03:2021\n", "results.csv:2: owasp: 'A03:2021' is not an OWASP LLM id"),
        ("probe,detector,score\np,d,1\np,d\n", "results.csv:3: fewer values than columns"),
        ("probe,detector,score\np,d,1,extra\n", "results.csv:2: more values than the 3 columns"),
        ("probe,detector,score,attempt_id\np,d,1,a\nq,d,1,a\n", "results.csv:3: attempt a is also in probe 'p'"),
        ('{"entry_type": "init"}\n', "results.csv:1: this is JSON, not CSV"),
        ("", "results.csv: empty file"),
    ],
)
def test_bad_rows_name_the_line(text: str, message: str) -> None:
    with pytest.raises(ReportInvalid) as err:
        parse_generic_csv(text, filename="results.csv", crosswalk=WALK)
    assert str(err.value).startswith(message)
