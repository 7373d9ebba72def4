"""The shipped catalogs match their sources, and the loader answers bad catalogs with file:line: field: message."""

from __future__ import annotations

import csv
import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from charter.compliance.catalog import (
    TIERS,
    CatalogError,
    Catalogs,
    UnknownReference,
    load_catalogs,
    parse_framework,
    split_ref,
)

ROOT = Path(__file__).resolve().parents[2]
FRAMEWORKS = ROOT / "src" / "charter" / "content" / "frameworks"
SOURCES = ROOT.parent / "shared" / "catalogs"
if not SOURCES.is_dir():  # a git worktree under ../wt/
    SOURCES = ROOT.parent.parent / "shared" / "catalogs"


@pytest.fixture(scope="module")
def shipped() -> Catalogs:
    return load_catalogs([FRAMEWORKS])


def kinds(catalogs: Catalogs, framework_id: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for req in catalogs.framework(framework_id).requirements:
        counts[req.kind] = counts.get(req.kind, 0) + 1
    return counts


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


# --- counts equal the sources -------------------------------------------------------------------------------------


def test_nist_ai_rmf_has_4_functions_19_categories_72_subcategories(shipped: Catalogs) -> None:
    assert kinds(shipped, "nist-ai-rmf-1.0") == {"function": 4, "category": 19, "subcategory": 72}
    subcategories = csv_rows(SOURCES / "nist-ai-rmf" / "nist_ai_rmf_1.0_subcategories.csv")
    shipped_ids = [r.id for r in shipped.framework("nist-ai-rmf-1.0").requirements if r.kind == "subcategory"]
    assert shipped_ids == [row["id"] for row in subcategories]
    assert shipped.requirement("nist-ai-rmf-1.0:GOVERN 1.1").title == subcategories[0]["statement"]


def test_nist_ai_600_1_has_the_12_risks(shipped: Catalogs) -> None:
    assert kinds(shipped, "nist-ai-600-1") == {"risk": 12}
    assert shipped.requirement("nist-ai-600-1:2.2").title == "Confabulation"


def test_eu_ai_act_has_113_articles_13_chapters_13_annexes(shipped: Catalogs) -> None:
    counts = kinds(shipped, "eu-ai-act")
    assert (counts["article"], counts["chapter"], counts["annex"]) == (113, 13, 13)
    assert shipped.requirement("eu-ai-act:Art. 9").parent == "Chapter III Section 2"
    assert shipped.requirement("eu-ai-act:Art. 50").parent == "Chapter IV"


def test_iso_42001_has_38_controls_in_9_groups_with_paraphrases_only(shipped: Catalogs) -> None:
    iso = shipped.framework("iso-iec-42001")
    assert kinds(shipped, "iso-iec-42001") == {"group": 9, "control": 38}
    groups = {r.id: 0 for r in iso.requirements if r.kind == "group"}
    for r in iso.requirements:
        if r.kind == "control":
            assert r.parent is not None
            groups[r.parent] += 1
    assert groups == {"A.2": 3, "A.3": 2, "A.4": 5, "A.5": 4, "A.6": 9, "A.7": 5, "A.8": 4, "A.9": 3, "A.10": 3}
    assert all(r.text is None for r in iso.requirements), "no ISO text may ship, only identifiers and paraphrases"
    assert "NOT ISO TEXT" in (FRAMEWORKS / "iso-iec-42001.yaml").read_text(encoding="utf-8")


def test_owasp_lists_have_ten_entries_each(shipped: Catalogs) -> None:
    assert [r.id for r in shipped.framework("owasp-llm-2025").requirements] == [
        f"LLM{i:02d}:2025" for i in range(1, 11)
    ]
    assert [r.id for r in shipped.framework("owasp-llm-2023").requirements] == [
        f"LLM{i:02d}:2023" for i in range(1, 11)
    ]
    assert shipped.requirement("owasp-llm-2025:LLM07:2025").title == "System Prompt Leakage"


def test_atlas_counts_are_those_of_atlas_yaml(shipped: Catalogs) -> None:
    atlas = yaml.load((SOURCES / "mitre-atlas" / "ATLAS.yaml").read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
    matrix = atlas["matrices"][0]
    assert kinds(shipped, "mitre-atlas") == {
        "tactic": len(matrix["tactics"]),
        "technique": len(matrix["techniques"]),
        "mitigation": len(matrix["mitigations"]),
    }
    subs = [r for r in shipped.framework("mitre-atlas").requirements if r.kind == "technique" and r.parent]
    assert len(subs) == sum("subtechnique-of" in t for t in matrix["techniques"])
    assert shipped.framework("mitre-atlas").version == str(atlas["version"])


def test_frameworks_json_lists_assessable_counts(shipped: Catalogs) -> None:
    summary = {s.id: (s.requirements, s.total) for s in shipped.summaries()}
    assert summary["nist-ai-rmf-1.0"] == (72, 95)
    assert summary["iso-iec-42001"] == (38, 47)
    assert summary["owasp-llm-2025"] == (10, 10)
    assert summary["mitre-atlas"][0] == 35


# --- licence obligations ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["owasp-llm-2025.yaml", "owasp-llm-2023.yaml", "owasp-llm-2023-to-2025.yaml"])
def test_owasp_derived_files_carry_attribution_licence_and_changes(name: str) -> None:
    header = "".join(
        line for line in (FRAMEWORKS / name).read_text(encoding="utf-8").splitlines(True) if line[0] == "#"
    )
    assert "OWASP Foundation" in header
    assert "https://creativecommons.org/licenses/by-sa/4.0/" in header
    assert "CC BY-SA 4.0" in header and "Changes:" in header


def test_each_shipped_framework_names_its_licence_and_source(shipped: Catalogs) -> None:
    for fw in shipped.frameworks.values():
        assert fw.attribution and fw.licence.name and fw.source.origin
    assert shipped.framework("eu-ai-act").attribution.startswith("Source: EUR-Lex, © European Union")
    assert "NIST" in shipped.framework("nist-ai-rmf-1.0").attribution
    assert shipped.framework("mitre-atlas").licence.spdx == "Apache-2.0"
    assert (FRAMEWORKS / "LICENSES" / "Apache-2.0.txt").is_file()
    assert (FRAMEWORKS / "LICENSES" / "CC-BY-SA-4.0.md").is_file()


# --- EU AI Act applicability ------------------------------------------------------------------------------------------


def test_eu_obligations_follow_tier_and_role(shipped: Catalogs) -> None:
    def ids(tier: str, role: str) -> set[str]:
        return {r.id for r in shipped.applicable("eu-ai-act", tier, role)}

    assert ids("minimal", "provider") == {"Art. 4", "Art. 5", "Art. 6"}
    assert ids("limited", "deployer") == {"Art. 4", "Art. 5", "Art. 6", "Art. 50"}
    assert ids("prohibited", "provider") == {"Art. 4", "Art. 5"}
    high_provider, high_deployer = ids("high", "provider"), ids("high", "deployer")
    assert {"Art. 9", "Art. 11", "Art. 16", "Art. 17", "Art. 43", "Art. 72", "Annex IV"} <= high_provider
    assert "Art. 26" not in high_provider and "Art. 26" in high_deployer and "Art. 27" in high_deployer
    assert "Art. 9" not in high_deployer
    assert {"Art. 73", "Art. 49", "Art. 50"} <= high_provider & high_deployer


def test_every_eu_obligation_row_has_tiers_roles_and_a_one_line_reason(shipped: Catalogs) -> None:
    rows = [r for r in shipped.framework("eu-ai-act").requirements if r.applicability]
    assert rows and all(r.assessable for r in rows)
    for r in rows:
        assert r.applicability is not None
        assert set(r.applicability.tiers) <= set(TIERS)
        assert "\n" not in r.applicability.reason and len(r.applicability.reason) > 20
    assert not [r for r in shipped.framework("eu-ai-act").requirements if r.assessable and not r.applicability]


# --- crosswalk and the OWASP version table ----------------------------------------------------------------------------


def test_owasp_2023_to_2025_table_has_the_shape_the_red_team_module_reads(shipped: Catalogs) -> None:
    doc = yaml.safe_load((FRAMEWORKS / "owasp-llm-2023-to-2025.yaml").read_text(encoding="utf-8"))
    assert list(doc) == ["mappings"]
    rows = doc["mappings"]
    assert len(rows) == 12
    assert all(list(row) == ["id_2023", "id_2025", "relation", "reason"] for row in rows)
    assert {row["id_2023"] for row in rows} == {f"LLM{i:02d}:2023" for i in range(1, 11)}
    assert {"id_2023": "LLM02:2023", "id_2025": "LLM05:2025", "relation": "equivalent"}.items() <= rows[1].items()
    assert sum(row["relation"] == "partial" for row in rows) == 5
    assert shipped.owasp_versions is not None and len(shipped.owasp_versions.mappings) == 12


def test_owasp_rows_are_also_crosswalk_entries(shipped: Catalogs) -> None:
    owasp = [e for e in shipped.crosswalk if e.from_.startswith("owasp-llm-2023:")]
    assert len(owasp) == 12
    implied = shipped.implied("owasp-llm-2025:LLM05:2025")
    assert [e.from_ for e in implied] == ["owasp-llm-2023:LLM02:2023"]
    assert shipped.implied("owasp-llm-2025:LLM06:2025") == [
        e for e in owasp if e.to == "owasp-llm-2025:LLM06:2025" and e.relation == "subset"
    ]


def test_split_ref_keeps_colons_inside_requirement_ids() -> None:
    assert split_ref("owasp-llm-2025:LLM01:2025") == ("owasp-llm-2025", "LLM01:2025")
    with pytest.raises(ValueError, match="<framework>:<requirement>"):
        split_ref("LLM01")


def test_unknown_framework_and_requirement_say_what_exists(shipped: Catalogs) -> None:
    with pytest.raises(UnknownReference, match="unknown framework 'eu-act'; known: eu-ai-act"):
        shipped.framework("eu-act")
    with pytest.raises(UnknownReference, match=r"no requirement 'Art. 500' in framework 'eu-ai-act'; did you mean"):
        shipped.requirement("eu-ai-act:Art. 500")


# --- organisation catalogs and their errors ---------------------------------------------------------------------------

GOOD = """\
id: acme-ai-policy
title: ACME AI policy
version: "2026.1"
publisher: ACME Corp.
source: {origin: ACME policy handbook, date: 2026-11-01}
licence: {name: Internal}
attribution: ACME Corp.
requirements:
  - {id: P1, title: Governance, kind: category, assessable: false}
  - {id: P1.1, title: Every AI system has an owner, kind: requirement, assessable: true, parent: P1}
"""


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems_of(directories: list[Path]) -> list[str]:
    with pytest.raises(CatalogError) as info:
        load_catalogs(directories)
    return [str(p) for p in info.value.problems]


def test_an_organisation_catalog_loads_beside_the_shipped_ones(tmp_path: Path) -> None:
    write(tmp_path / "org", "acme.yaml", GOOD)
    write(
        tmp_path / "org" / "crosswalks",
        "acme-to-iso.yaml",
        """\
        title: ACME to ISO
        entries:
          - {from: "acme-ai-policy:P1.1", to: "iso-iec-42001:A.3.2", relation: subset, reason: Owners are one AI role.}
        """,
    )
    catalogs = load_catalogs([FRAMEWORKS, tmp_path / "org"])
    assert catalogs.requirement("acme-ai-policy:P1.1").parent == "P1"
    assert [e.to for e in catalogs.crosswalk_of("acme-ai-policy:P1.1")] == ["iso-iec-42001:A.3.2"]
    assert "acme-ai-policy" in {s.id for s in catalogs.summaries()}


def test_bad_kinds_duplicate_ids_and_missing_parents_are_reported_with_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", GOOD + "  - {id: P2, title: Odd, kind: paragraph, assessable: true}\n")
    (kind_problem,) = problems_of([tmp_path])
    assert kind_problem.startswith(f"{path}:11: requirements[2].kind: Input should be 'function', 'category',")

    path.write_text(
        GOOD.replace("parent: P1}", "parent: P9}")
        + "  - {id: P1.1, title: Again, kind: requirement, assessable: true}\n"
    )
    assert problems_of([tmp_path]) == [
        f"{path}:10: requirements[1].parent: no requirement 'P9' in framework 'acme-ai-policy'",
        f"{path}:11: requirements[2].id: duplicate id 'P1.1' (first at requirements[1])",
    ]


def test_unknown_and_missing_fields_name_what_is_allowed(tmp_path: Path) -> None:
    text = GOOD.replace("licence: {name: Internal}\n", "licence: {name: Internal}\nowner: me\n")
    path = write(tmp_path, "bad.yaml", text.replace("title: Governance, ", ""))
    found = problems_of([tmp_path])
    assert (
        f"{path}:7: owner: unknown field (allowed: attribution, changes, id, licence, publisher, requirements, "
        "source, title, url, version)" in found
    )
    assert f"{path}:10: requirements[0].title: required field is missing" in found


def test_yaml_syntax_errors_and_duplicate_keys_have_their_line(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.yaml", GOOD.replace("publisher: ACME Corp.", "publisher: [ACME"))
    found = problems_of([tmp_path])
    assert len(found) == 1 and found[0].startswith(f"{path}:") and "not valid YAML" in found[0]
    path.write_text(GOOD.replace('version: "2026.1"', 'version: "2026.1"\nversion: "2026.2"'))
    assert problems_of([tmp_path]) == [f"{path}:4: version: the key appears twice (first on line 3)"]


def test_a_framework_id_used_twice_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "a", "one.yaml", GOOD)
    second = write(tmp_path / "b", "two.yaml", GOOD)
    found = problems_of([tmp_path / "a", tmp_path / "b"])
    assert found == [f"{second}:1: id: duplicate framework id 'acme-ai-policy' (also in {tmp_path / 'a' / 'one.yaml'})"]


def test_crosswalk_rows_naming_missing_requirements_are_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path / "crosswalks",
        "x.yaml",
        """\
        title: broken
        entries:
          - {from: "eu-ai-act:Art. 9", to: "nist-ai-rmf-1.0:MAP 5.1", relation: related, reason: fine}
          - {from: "eu-ai-act:Art. 999", to: "nist-ai-rmf-1.0:MAP 5.1", relation: related, reason: no such article}
          - {from: "eu-ai-act:Art. 9", to: "nist-rmf:MAP 5.1", relation: related, reason: no such framework}
          - {from: "eu-ai-act:Art. 9", to: "eu-ai-act:Art. 10", relation: related, reason: same framework}
          - {from: "eu-ai-act:Art. 9", to: "nist-ai-rmf-1.0:MAP 5.2", relation: overlaps, reason: bad relation}
        """,
    )
    found = problems_of([FRAMEWORKS, tmp_path])
    assert found[0].startswith(f"{path}:7: entries[4].relation: Input should be 'equivalent', 'subset' or 'related'")
    path.write_text(path.read_text().replace("relation: overlaps", "relation: related"))
    found = problems_of([FRAMEWORKS, tmp_path])
    assert found[0].startswith(f"{path}:4: entries[1].from: no requirement 'Art. 999' in framework 'eu-ai-act'")
    assert found[1].startswith(f"{path}:5: entries[2].to: unknown framework 'nist-rmf'; known: eu-ai-act")
    assert found[2] == f"{path}:6: entries[3].to: a crosswalk links two different frameworks"
    assert len(found) == 3


# --- property: the loader accepts any tree and finds any dangling parent on its own line -----------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    parents=st.lists(st.integers(min_value=-1, max_value=30), min_size=1, max_size=25),
    broken=st.integers(min_value=0, max_value=24),
)
def test_trees_load_and_a_dangling_parent_is_found_on_its_line(parents: list[int], broken: int) -> None:
    reqs = []
    for i, p in enumerate(parents):
        row = {"id": f"R{i}", "title": f"requirement {i}", "kind": "requirement", "assessable": True}
        if 0 <= p < i:
            row["parent"] = f"R{p}"
        reqs.append(row)
    doc = {k: v for k, v in yaml.safe_load(GOOD).items() if k != "requirements"} | {"requirements": reqs}
    fw = parse_framework(yaml.safe_dump(doc, sort_keys=False), "gen.yaml")
    assert [r.id for r in fw.requirements] == [f"R{i}" for i in range(len(parents))]

    index = broken % len(reqs)
    reqs[index]["parent"] = "GONE"
    text = yaml.safe_dump(doc, sort_keys=False)
    with pytest.raises(CatalogError) as info:
        parse_framework(text, "gen.yaml")
    (problem,) = info.value.problems
    assert problem.field == f"requirements[{index}].parent"
    assert problem.line is not None and "parent: GONE" in text.splitlines()[problem.line - 1]


def test_parent_loops_are_refused(tmp_path: Path) -> None:
    text = GOOD.replace("{id: P1, title: Governance, kind: category, assessable: false}",
                        "{id: P1, title: Governance, kind: category, assessable: false, parent: P1.1}")  # fmt: skip
    path = write(tmp_path, "loop.yaml", text)
    assert problems_of([tmp_path]) == [
        f"{path}:9: requirements[0].parent: parent chain of 'P1' loops",
        f"{path}:10: requirements[1].parent: parent chain of 'P1.1' loops",
    ]
    path.write_text(GOOD.replace("parent: P1}", "parent: P1.1}"))
    assert problems_of([tmp_path]) == [f"{path}:10: requirements[1].parent: a requirement cannot be its own parent"]


def test_requirements_without_an_applicability_table_apply_by_choice(shipped: Catalogs) -> None:
    assert shipped.requirement("nist-ai-rmf-1.0:MAP 1.1").applies_to("minimal", "deployer") is None
    assert len(shipped.applicable("nist-ai-rmf-1.0", "minimal", "deployer")) == 72
    assert shipped.requirement("eu-ai-act:Art. 26").applies_to("high", "provider") is False
