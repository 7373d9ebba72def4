"""Risk matrices as data: the seed's 5x5 scoring, exhaustive; properties; YAML errors with file/line/field."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from charter.kit.content import ContentInvalid
from charter.kit.errors import ValidationFailed
from charter.risk.content import MATRIX_DIR, parse_categories, parse_matrix, shipped_categories, shipped_default
from charter.risk.matrices.rules import LEVEL_ORDER, LevelBand, MatrixSpec, ScalePoint, level_rank

SEED = shipped_default()


def seed_level(score: int) -> str:
    """Seed 002's Risk.risk_level, verbatim."""
    if score <= 5:
        return "LOW"
    elif score <= 12:
        return "MEDIUM"
    elif score <= 20:
        return "HIGH"
    else:
        return "CRITICAL"


SEED_LIKELIHOOD = ["RARE", "UNLIKELY", "POSSIBLE", "LIKELY", "ALMOST_CERTAIN"]
SEED_IMPACT = ["NEGLIGIBLE", "MINOR", "MODERATE", "MAJOR", "CATASTROPHIC"]
ALL_CELLS = [(li, im) for li in range(1, 6) for im in range(1, 6)]


@pytest.mark.parametrize(("likelihood", "impact"), ALL_CELLS)
def test_every_cell_of_the_seed_matrix_scores_like_the_seed(likelihood: int, impact: int) -> None:
    scored = SEED.score(SEED_LIKELIHOOD[likelihood - 1], SEED_IMPACT[impact - 1])
    assert scored.score == likelihood * impact
    assert scored.level == seed_level(likelihood * impact)
    assert (scored.likelihood, scored.impact) == (likelihood, impact)


def test_seed_examples_score_20_high_and_12_medium() -> None:
    assert (SEED.score("LIKELY", "CATASTROPHIC").score, SEED.score("LIKELY", "CATASTROPHIC").level) == (20, "HIGH")
    assert (SEED.score("POSSIBLE", "MAJOR").score, SEED.score("POSSIBLE", "MAJOR").level) == (12, "MEDIUM")


def test_seed_level_bands_count_cells_per_level() -> None:
    counts: dict[str, int] = {}
    for li, im in ALL_CELLS:
        level = SEED.score(li, im).level
        counts[level] = counts.get(level, 0) + 1
    # 1..5 LOW: 10 cells; 6..12 MEDIUM: 9; 15..20 HIGH: 5; 25 CRITICAL: 1.
    assert counts == {"LOW": 10, "MEDIUM": 9, "HIGH": 5, "CRITICAL": 1}


@pytest.mark.parametrize("text", ["4", 4, "LIKELY", "likely", "Likely", " likely "])
def test_scale_points_resolve_by_value_key_or_label(text: object) -> None:
    assert SEED.resolve("likelihood", text).value == 4  # type: ignore[arg-type]


def test_almost_certain_resolves_from_its_label_with_a_space() -> None:
    assert SEED.resolve("likelihood", "Almost certain").value == 5


@pytest.mark.parametrize("text", ["0", "6", "SOMETIMES", ""])
def test_values_off_the_scale_are_refused_naming_the_allowed_ones(text: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        SEED.score(text, 1)
    assert "likelihood" in err.value.detail
    assert "1 RARE" in err.value.detail and "5 ALMOST_CERTAIN" in err.value.detail


def test_seed_cadence_and_acceptance_bands() -> None:
    assert {b.key: b.review_days for b in SEED.levels} == {"LOW": 365, "MEDIUM": 180, "HIGH": 90, "CRITICAL": 30}
    assert {b.key for b in SEED.levels if b.requires_acceptance} == {"HIGH", "CRITICAL"}


def test_shipped_categories_are_the_eight_of_seed_002() -> None:
    assert [c.key for c in shipped_categories()] == [
        "safety", "fairness", "privacy", "security", "transparency", "societal", "legal", "reputational",
    ]  # fmt: skip


# ----------------------------------------------------------------------------- property tests


@st.composite
def matrices(draw: st.DrawFn) -> MatrixSpec:
    n_l = draw(st.integers(2, 7))
    n_i = draw(st.integers(2, 7))
    top = n_l * n_i
    reachable = sorted({a * b for a in range(1, n_l + 1) for b in range(1, n_i + 1)})
    n_levels = draw(st.integers(1, min(4, len(reachable))))
    keys = sorted(
        draw(st.sets(st.sampled_from(LEVEL_ORDER), min_size=n_levels, max_size=n_levels)), key=LEVEL_ORDER.index
    )
    cuts = sorted(draw(st.sets(st.sampled_from(reachable[:-1]), min_size=n_levels - 1, max_size=n_levels - 1)))
    bounds = [*cuts, top]
    return MatrixSpec(
        name="prop-matrix",
        version=1,
        title="generated",
        likelihood=[ScalePoint(value=v, key=f"L{v}", label=f"L{v}") for v in range(1, n_l + 1)],
        impact=[ScalePoint(value=v, key=f"I{v}", label=f"I{v}") for v in range(1, n_i + 1)],
        levels=[
            LevelBand(key=k, label=k.title(), max_score=b, review_days=30 * (i + 1))
            for i, (k, b) in enumerate(zip(keys, bounds, strict=True))
        ],
    )


@given(matrices(), st.data())
def test_score_is_likelihood_times_impact_within_range(m: MatrixSpec, data: st.DataObject) -> None:
    li = data.draw(st.integers(1, len(m.likelihood)))
    im = data.draw(st.integers(1, len(m.impact)))
    scored = m.score(li, im)
    assert scored.score == li * im
    assert 1 <= scored.score <= m.max_score
    assert scored.level in [b.key for b in m.levels]


@given(matrices(), st.data())
def test_level_never_goes_down_as_the_score_goes_up(m: MatrixSpec, data: st.DataObject) -> None:
    cells = st.tuples(st.integers(1, len(m.likelihood)), st.integers(1, len(m.impact)))
    a, b = data.draw(cells), data.draw(cells)
    sa, sb = m.score(*a), m.score(*b)
    if sa.score <= sb.score:
        assert level_rank(sa.level) <= level_rank(sb.level)
    # More likelihood or more impact never lowers the level.
    if a[0] <= b[0] and a[1] <= b[1]:
        assert level_rank(sa.level) <= level_rank(sb.level)


# ----------------------------------------------------------------------------- YAML validation errors


def _seed_text() -> str:
    return (MATRIX_DIR / "seed-5x5.yaml").read_text()


def _problems(text: str, filename: str = "org/matrix.yaml") -> list[str]:
    with pytest.raises(ContentInvalid) as err:
        parse_matrix(text, filename)
    return [str(p) for p in err.value.problems]


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


def test_a_wrong_type_names_file_line_and_field() -> None:
    text = _seed_text().replace("max_score: 12", "max_score: twelve")
    line = _line_of(text, "max_score: twelve")
    assert _problems(text) == [
        f"org/matrix.yaml:{line}: levels[1].max_score: "
        "Input should be a valid integer, unable to parse string as an integer"
    ]


def test_a_missing_field_names_the_line_of_its_parent() -> None:
    text = _seed_text().replace("{key: HIGH, label: High, max_score: 20,", "{key: HIGH, label: High,")
    line = _line_of(text, "key: HIGH")
    assert _problems(text) == [f"org/matrix.yaml:{line}: levels[2].max_score: Field required"]


def test_bands_out_of_order_are_refused_at_the_offending_band() -> None:
    text = _seed_text().replace("max_score: 20", "max_score: 10")
    line = _line_of(text, "key: HIGH")
    problems = _problems(text)
    assert problems[0] == f"org/matrix.yaml:{line}: levels[2].max_score: must be greater than the previous band's (12)"


def test_unknown_level_names_are_refused_with_the_vocabulary() -> None:
    text = _seed_text().replace("key: CRITICAL", "key: EXTREME")
    assert _problems(text)[0].endswith("levels[3].key: must be one of LOW, MEDIUM, HIGH, CRITICAL")


def test_last_band_must_reach_the_top_score() -> None:
    text = _seed_text().replace("max_score: 25", "max_score: 30")
    assert _problems(text)[0].endswith("levels[3].max_score: the last band must end at the highest score, 25")


def test_scale_values_must_run_in_order() -> None:
    text = _seed_text().replace("{value: 3, key: POSSIBLE", "{value: 7, key: POSSIBLE")
    line = _line_of(text, "key: POSSIBLE")
    assert f"org/matrix.yaml:{line}: likelihood[2].value: must be 3: values run 1, 2, 3… in order" in _problems(text)


def test_unknown_fields_and_duplicate_keys_are_named() -> None:
    text = _seed_text().replace("acceptance_max_days: 365", "acceptance_max_days: 365\ncolour: red\nversion: 2")
    problems = _problems(text)
    assert problems == [
        f"org/matrix.yaml:{_line_of(text, 'version: 2')}: version: "
        f"the key appears twice (first on line {_line_of(text, 'version: 1')})"
    ]
    text = _seed_text().replace("acceptance_max_days: 365", "acceptance_max_days: 365\ncolour: red")
    unknown = "unknown field (check the spelling; the documentation lists the fields)"
    assert _problems(text) == [f"org/matrix.yaml:{_line_of(text, 'colour')}: colour: {unknown}"]


def test_yaml_syntax_errors_name_the_line() -> None:
    text = "name: broken\nversion: 1\nlikelihood: [1, 2\n"
    (problem,) = _problems(text)
    assert problem.startswith("org/matrix.yaml:4: not valid YAML:")


def test_an_empty_file_is_refused() -> None:
    assert _problems("") == ["org/matrix.yaml:1: the file is empty"]


def test_all_problems_are_reported_at_once() -> None:
    text = _seed_text().replace("version: 1", "version: 0").replace("title: Seed", "title: ''\nxtitle: Seed")
    fields = [p.split(": ")[1] for p in _problems(text)]
    assert {"version", "title", "xtitle"} <= set(fields)


def test_category_file_duplicates_are_named() -> None:
    text = "categories:\n  - {key: privacy, label: Privacy}\n  - {key: privacy2, label: privacy}\n"
    with pytest.raises(ContentInvalid) as err:
        parse_categories(text, "cats.yaml")
    assert str(err.value.problems[0]) == "cats.yaml:3: categories[1].label: duplicate label (also at categories[0])"


def test_every_shipped_matrix_file_is_valid_and_named_after_itself() -> None:
    for path in Path(MATRIX_DIR).glob("*.yaml"):
        spec = parse_matrix(path.read_text(), str(path))
        assert path.stem == spec.name
