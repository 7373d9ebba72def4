"""What the always-on detectors look for: entity names (Presidio's where Presidio has one), context words, and
the patterns run inside pre-filtered zones of the text.

Speed comes from the layout: the whole text is crossed by a few cheap pre-filter regexes (a numeric zone, an
upper-case alphanumeric zone; the literal anchors of triggers.py); the specific patterns below run only on what the
zones hold (numeric rules on a zone's *shape*, cached), and validators only on the matches that context could lift
over the threshold.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from charter.data.pii import validators as v

#: Default reporting threshold. Weak-checksum identifiers score below it unless a context word is near.
DEFAULT_THRESHOLD = 0.4
CONTEXT_BOOST = 0.35
MIN_SCORE_WITH_CONTEXT = 0.4


@dataclass(frozen=True, slots=True)
class EntitySpec:
    name: str
    context: tuple[str, ...]
    #: numbers whose meaning depends on the words around them: "order", "version", "invoice" lower the score
    ambiguous: bool = False
    presidio: bool = True


# Listed in tie-break order: on equal score and length the entity listed first wins.
ENTITY_SPECS: tuple[EntitySpec, ...] = (
    EntitySpec("SECRET", ("api key", "apikey", "token", "secret", "password", "passwd", "credential"), presidio=False),
    EntitySpec("CREDIT_CARD", ("credit", "card", "visa", "mastercard", "amex", "cc", "discover", "jcb", "diners")),
    EntitySpec("IBAN_CODE", ("iban", "bank", "account", "sepa", "transfer")),
    EntitySpec("EMAIL_ADDRESS", ("email", "e-mail", "mail", "contact")),
    EntitySpec("CRYPTO", ("bitcoin", "btc", "wallet", "ethereum", "eth", "crypto")),
    EntitySpec("IT_FISCAL_CODE", ("codice fiscale", "fiscal code", "cf")),
    EntitySpec("ES_NIF", ("nif", "dni", "documento")),
    EntitySpec("ES_NIE", ("nie", "extranjero")),
    EntitySpec("FI_PERSONAL_IDENTITY_CODE", ("henkilötunnus", "hetu", "personal identity code")),
    EntitySpec("BR_CPF", ("cpf", "cadastro"), presidio=False),
    EntitySpec("FR_NIR", ("nir", "sécurité sociale", "securite sociale", "insee", "social security"), presidio=False),
    EntitySpec("KR_RRN", ("rrn", "resident registration", "주민등록번호"), ambiguous=True),
    EntitySpec("SE_PERSONNUMMER", ("personnummer", "personal number"), ambiguous=True),
    EntitySpec("PL_PESEL", ("pesel",), ambiguous=True),
    EntitySpec("TR_NATIONAL_ID", ("kimlik", "tckn", "tc no", "national id"), ambiguous=True),
    EntitySpec("ZA_ID_NUMBER", ("id number", "identity number", "south african id"), ambiguous=True),
    EntitySpec("TH_TNIN", ("thai id", "national id", "citizen id"), ambiguous=True),
    EntitySpec("IN_AADHAAR", ("aadhaar", "aadhar", "uidai", "uid"), ambiguous=True),
    EntitySpec("IN_PAN", ("pan", "permanent account", "income tax")),
    EntitySpec("US_SSN", ("ssn", "social security", "ss#"), ambiguous=True),
    EntitySpec("US_ITIN", ("itin", "taxpayer", "tax id", "individual taxpayer"), ambiguous=True),
    EntitySpec("DATE_TIME", ("born", "birth", "dob", "d.o.b", "birthday", "birthdate"), ambiguous=True),
    EntitySpec(
        "PHONE_NUMBER",
        ("phone", "tel", "telephone", "mobile", "cell", "call", "fax", "whatsapp", "sms"),
        ambiguous=True,
    ),
    EntitySpec("AU_ABN", ("abn", "australian business number", "business number"), ambiguous=True),
    EntitySpec("DE_TAX_ID", ("steuer", "idnr", "steuer-id", "tax id", "identifikationsnummer"), ambiguous=True),
    EntitySpec("UK_NHS", ("nhs", "national health", "health service", "patient"), ambiguous=True),
    EntitySpec("AU_TFN", ("tfn", "tax file"), ambiguous=True),
    EntitySpec("CA_SIN", ("sin", "social insurance"), ambiguous=True),
    EntitySpec("NL_BSN", ("bsn", "burgerservicenummer", "sofinummer"), ambiguous=True, presidio=False),
    EntitySpec("AU_ACN", ("acn", "australian company number", "company number"), ambiguous=True),
    EntitySpec("IP_ADDRESS", ("ip", "ipv4", "ipv6", "host", "client", "server", "address"), ambiguous=True),
    EntitySpec("URL", ("url", "link", "website", "site", "visit")),
)
SPECS: dict[str, EntitySpec] = {s.name: s for s in ENTITY_SPECS}
ENTITIES: tuple[str, ...] = tuple(s.name for s in ENTITY_SPECS)
PRIORITY: dict[str, int] = {name: i for i, name in enumerate(ENTITIES)}
#: Entity types the optional NLP backend adds; the always-on detectors never look for them.
NLP_ENTITIES: tuple[str, ...] = ("PERSON", "LOCATION")


def trie_regex(words: Iterable[str]) -> str:
    """An alternation of ``words`` factored by common prefixes (CPython's ``re`` tries alternatives in turn, so
    "ph(?:one|...)" is several times faster than "phone|phoenix|...")."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        branches = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return build(trie)


#: words that say a number is something else ("order 123456782", "version 1.2.3.4")
NEGATIVE_WORDS = [
    "order",
    "invoice",
    "inv",
    "tracking",
    "ticket",
    "ref",
    "reference",
    "version",
    "ver",
    "build",
    "release",
    "sku",
    "serial",
    "isbn",
    "po",
    "batch",
    "txn",
    "transaction",
    "receipt",
    "booking",
    "confirmation",
]
NEGATIVE: frozenset[str] = frozenset({"<negative>"})
#: context word (lower case) -> the entities it is evidence for (or NEGATIVE). One regex, run on the lower-cased
#: window before a candidate, finds any of them (as a word, optionally with a plural or verb ending).
CONTEXT_WORDS: dict[str, frozenset[str]] = {}
for _spec in ENTITY_SPECS:
    for _word in _spec.context:
        CONTEXT_WORDS[_word] = CONTEXT_WORDS.get(_word, frozenset()) | {_spec.name}
for _word in NEGATIVE_WORDS:
    assert _word not in CONTEXT_WORDS, _word
    CONTEXT_WORDS[_word] = NEGATIVE
CONTEXT_ANY = re.compile(r"(?<![a-z0-9])(" + trie_regex(CONTEXT_WORDS) + r")(?:s|es|ed|ing)?(?![a-z])")


# ---------------------------------------------------------------------------------------------------------------
# Zones. A numeric zone starts at a digit not glued to a word, a dot, or a word-hyphen ("v1.2", "INV-2024"), runs
# over digits and separators, ends on a digit, and is at least 6 characters long. An alphanumeric zone starts at an
# upper-case letter not glued to a word and runs over upper-case letters, digits, spaces and hyphens.
NUMERIC_ZONE = re.compile(r"[0-9](?<![\w.][0-9])(?<![\w]-[0-9])[0-9 ()./-]{4,}[0-9]")
ALNUM_ZONE = re.compile(r"[A-Z](?<![\w][A-Z])[A-Z0-9]{3}[A-Z0-9 -]{4,}")
#: Numeric patterns may look past a zone's end into the word glued to it (ES_NIF's check letter, FI's century
#: sign, a letter that disqualifies a card number): up to 6 non-space characters.
OVERHANG = re.compile(r"\S{0,6}")

#: (base score, end offset) when a match is the entity.
Hit = tuple[float, int]
#: phonenumbers regions tried for national formats, as in Presidio's PhoneRecognizer (NANP first for 3-3-4).
TRUNK_ZERO_REGIONS = ("GB", "FR", "DE", "IN", "IL", "BR")
NANP_REGIONS = ("US", "CA")


class ZoneMatch:
    """A rule match inside a zone: the zone's text and the match's span and named groups (the subset of
    ``re.Match`` that checks use). Zone rules run once per zone *shape*, so matches are rebuilt from spans."""

    __slots__ = ("_end", "_groups", "_start", "string")

    def __init__(self, string: str, start: int, end: int, groups: dict[str, tuple[int, int]]) -> None:
        self.string = string
        self._start = start
        self._end = end
        self._groups = groups

    def group(self, name: str | int = 0) -> str:
        if name == 0:
            return self.string[self._start : self._end]
        start, end = self._groups[str(name)]
        return self.string[start:end] if start >= 0 else ""

    def start(self) -> int:
        return self._start

    def end(self) -> int:
        return self._end


#: a zone's shape: digits -> "0", lower-case letters -> "a". Numeric rules only look at shapes (digit values are
#: checked by ``bound``/``validate``), so their regex work is done once per distinct shape.
SHAPE = str.maketrans({**{str(d): "0" for d in range(10)}, **{ch: "a" for ch in "abcdefghijklmnopqrstuvwxyz"}})


@dataclass(frozen=True, slots=True)
class Check:
    """One entity a zone pattern may be. ``bound`` is cheap (the shape only) and is an upper bound of the base
    score; ``validate`` (checksum, numbering plan) runs only when context could lift the bound over the threshold.
    Offsets are in ``match.string``."""

    entity: str
    bound: float | Callable[[ZoneMatch], float]
    validate: Callable[[ZoneMatch], Hit | None]


@dataclass(frozen=True, slots=True)
class ZoneRule:
    """A pattern run inside zones (numeric rules: on the zone's shape, so digit classes other than [0-9] are not
    allowed; value conditions go in the checks)."""

    pattern: re.Pattern[str]
    checks: tuple[Check, ...]


def _by_separator(separated: float, plain: float) -> Callable[[ZoneMatch], float]:
    return lambda m: separated if m.group("sep") else plain


def _fixed(score: float) -> float:
    return score


def _stdnum(entity: str, separated: float, plain: float | None = None) -> Check:
    if plain is None:

        def validate(m: ZoneMatch) -> Hit | None:
            return (separated, m.end()) if v.national_id(entity, m.group(0)) else None

        return Check(entity, separated, validate)
    bound = _by_separator(separated, plain)

    def validate_formatted(m: ZoneMatch) -> Hit | None:
        return (bound(m), m.end()) if v.national_id(entity, m.group(0)) else None

    return Check(entity, bound, validate_formatted)


def _nhs_bound(m: ZoneMatch) -> float:
    return 0.4 if m.group("sep") == " " else 0.3


def _nhs(m: ZoneMatch) -> Hit | None:
    return (_nhs_bound(m), m.end()) if v.national_id("UK_NHS", m.group(0)) else None


def _card(m: ZoneMatch) -> Hit | None:
    return (0.85, m.end()) if v.credit_card(m.group(0)) else None


def _ip(m: ZoneMatch) -> Hit | None:
    score = v.ip_address_score(m.group(0))
    return None if score is None else (score, m.end())


_TIME_AFTER = re.compile(r"(?:[T ]|, )[0-9]{1,2}:[0-9]{2}")


def _date_bound(m: ZoneMatch) -> float:
    """0 for shapes no date has: a 3-digit first group, or a 4-digit year at both ends."""
    first, last = len(m.group("a")), len(m.group("c"))
    return 0.0 if first == 3 or (first == 4 and last != 2) else 0.5


def _numeric_date(m: ZoneMatch) -> Hit | None:
    if _TIME_AFTER.match(m.string, m.end()):  # an event timestamp ("2024-03-01T12:00"), not a date of birth
        return None
    valid = v.numeric_date(m.group("a"), m.group("b"), m.group("c"), m.group("sep"))
    return (0.5, m.end()) if valid else None


def _phone(regions: tuple[str, ...], separated: float, plain: float, digits: tuple[int, int], *prefixes: str) -> Check:
    """A national phone number: ``prefixes`` are what it must start with (the trunk "0", a mobile digit). For
    NANP, area code and exchange never start with 0 or 1: such shapes are not worth a numbering-plan lookup."""
    nanp = regions == NANP_REGIONS

    def bound(m: ZoneMatch) -> float:
        text = m.group(0)
        if prefixes and (not text.startswith(prefixes) or text.startswith(("00", "(00"))):  # "00": international
            return 0.0
        if nanp:
            number = v.digits_of(text)[-10:]
            if number[0] in "01" or number[3] in "01":
                return 0.0
        return plain if text.isdigit() else separated

    def validate(m: ZoneMatch) -> Hit | None:
        candidate = m.group(0)
        for _ in range(3):  # a greedy candidate may have swallowed the next number: drop trailing groups
            if digits[0] <= len(v.digits_of(candidate)) <= digits[1] and v.phone_number(candidate, regions):
                return bound(m), m.start() + len(candidate)
            head, sep, _tail = candidate.rpartition(" ")
            if not sep:
                return None
            candidate = head.rstrip(" .-(")
        return None

    return Check("PHONE_NUMBER", bound, validate)


def _international_phone(m: ZoneMatch) -> Hit | None:
    """The longest prefix (dropping trailing space-separated groups) that is a valid international number."""
    candidate = m.group(0)
    while candidate.endswith(")") and candidate.count(")") > candidate.count("("):  # "(phone +44 20 7946 0958)"
        candidate = candidate[:-1]
    for _ in range(3):
        if 8 <= len(v.digits_of(candidate)) <= 15 and v.phone_number(candidate, ()):
            return 0.75, m.start() + len(candidate)
        head, sep, _tail = candidate.rpartition(" ")
        if not sep:
            return None
        candidate = head.rstrip(" .-(")
    return None


def _iban(m: ZoneMatch) -> Hit | None:
    """The IBAN at the head of the match: trailing words swallowed by the grouped pattern are dropped."""
    candidate = m.group(0)
    for _ in range(4):
        if v.iban_code(candidate):
            return 0.95, m.start() + len(candidate)
        head, sep, _tail = candidate.rpartition(" ")
        if not sep:
            return None
        candidate = head
    return None


def _rule(pattern: str, *checks: Check) -> ZoneRule:
    return ZoneRule(re.compile(pattern), checks)


# Digit groups: never start right after "<digit><separator>" nor end before "<separator><digit>" with the same
# separator, so that a 12-digit window inside a 16-digit card is not an Aadhaar number.
NUMERIC_RULES: tuple[ZoneRule, ...] = (
    _rule(
        r"(?<![0-9])(?<![0-9][ -])(?:[0-9]{4}(?P<sep>[ -])[0-9]{4}(?P=sep)[0-9]{4}(?P=sep)[0-9]{4}"
        r"(?:(?P=sep)[0-9]{3})?(?!(?P=sep)[0-9])|[0-9]{4}(?P<sep2>[ -])[0-9]{6}(?P=sep2)[0-9]{4,5}(?!(?P=sep2)[0-9])"
        r"|[0-9]{13,19})(?![0-9])",
        Check("CREDIT_CARD", _fixed(0.85), _card),
    ),
    _rule(
        r"(?<![0-9])(?<![0-9][ -])[0-9]{3}(?P<sep>[ -]?)[0-9]{2}(?P=sep)[0-9]{4}(?![0-9])(?!(?P=sep)[0-9])",
        _stdnum("US_SSN", 0.6, 0.3),
        _stdnum("US_ITIN", 0.6, 0.3),
    ),
    _rule(
        r"(?<![0-9])(?<![0-9][ .-])[0-9]{3}(?P<sep>[ .-]?)[0-9]{3}(?P=sep)[0-9]{3}(?![0-9])(?!(?P=sep)[0-9])",
        _stdnum("AU_TFN", 0.3),
        _stdnum("CA_SIN", 0.3),
        _stdnum("NL_BSN", 0.3),
        _stdnum("AU_ACN", 0.3),
    ),
    _rule(
        r"(?<![0-9])(?<![0-9][ .-])[0-9]{3}(?P<sep>[ .-]?)[0-9]{3}(?P=sep)[0-9]{4}(?![0-9])(?!(?P=sep)[0-9])",
        Check("UK_NHS", _nhs_bound, _nhs),
        _phone(NANP_REGIONS, 0.6, 0.3, (10, 10)),
    ),
    _rule(
        r"(?<![0-9])(?<![0-9] )[0-9]{2}(?P<sep> ?)[0-9]{3}(?P=sep)[0-9]{3}(?P=sep)[0-9]{3}(?![0-9])(?!(?P=sep)[0-9])",
        _stdnum("AU_ABN", 0.5, 0.3),
        _stdnum("DE_TAX_ID", 0.4, 0.3),
    ),
    _rule(
        r"(?<![0-9])[0-9]{11}(?![0-9])",
        _stdnum("PL_PESEL", 0.5),
        _stdnum("TR_NATIONAL_ID", 0.5),
        _stdnum("BR_CPF", 0.3),
    ),
    _rule(
        r"(?<![0-9])(?<![0-9][ -])[0-9]{4}(?P<sep>[ -]?)[0-9]{4}(?P=sep)[0-9]{4}(?![0-9])(?!(?P=sep)[0-9])",
        _stdnum("IN_AADHAAR", 0.5, 0.3),
    ),
    _rule(
        r"(?<![0-9])[0-9]{13}(?![0-9])", _stdnum("ZA_ID_NUMBER", 0.5), _stdnum("TH_TNIN", 0.4), _stdnum("KR_RRN", 0.3)
    ),
    _rule(r"(?<![0-9])[0-9]{6}-[0-9]{7}(?![0-9])", _stdnum("KR_RRN", 0.6)),
    _rule(r"(?<![0-9])[0-9]-[0-9]{4}-[0-9]{5}-[0-9]{2}-[0-9](?![0-9])", _stdnum("TH_TNIN", 0.6)),
    _rule(r"(?<![0-9])(?:[0-9]{2})?[0-9]{6}[-+][0-9]{4}(?![0-9])", _stdnum("SE_PERSONNUMMER", 0.6)),
    _rule(
        r"(?<![0-9])[0-9]{6}[-+A-FU-Y][0-9]{3}[0-9A-FHJ-NPR-Y](?![0-9A-Za-z])",
        _stdnum("FI_PERSONAL_IDENTITY_CODE", 0.7),
    ),
    _rule(
        r"(?<![0-9])[0-9](?P<sep> ?)[0-9]{2}(?P=sep)[0-9]{2}(?P=sep)(?:[0-9]{2}|[0-9][AB])"
        r"(?P=sep)[0-9]{3}(?P=sep)[0-9]{3}(?P=sep)[0-9]{2}(?![0-9])",
        _stdnum("FR_NIR", 0.6),
    ),
    _rule(r"(?<![0-9])[0-9]{3}\.[0-9]{3}\.[0-9]{3}-[0-9]{2}(?![0-9])", _stdnum("BR_CPF", 0.7)),
    _rule(r"(?<![0-9])[0-9]{8}[ -]?[A-HJ-NP-TV-Z](?![A-Za-z0-9])", _stdnum("ES_NIF", 0.7)),
    _rule(r"(?<![0-9.])(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?![0-9]|\.[0-9])", Check("IP_ADDRESS", _fixed(0.6), _ip)),
    _rule(
        r"(?<![0-9])(?P<a>[0-9]{1,4})(?P<sep>[-/.])(?P<b>[0-9]{1,2})(?P=sep)(?P<c>[0-9]{2,4})(?![0-9])",
        Check("DATE_TIME", _date_bound, _numeric_date),
    ),
    _rule(
        r"\+ ?[0-9]++(?:[ .-]?\(?[0-9]++\)?)*+",
        Check("PHONE_NUMBER", _fixed(0.75), _international_phone),
    ),
    _rule(
        r"(?<![0-9])(?:[0-9][ .-]?)?\([0-9]{3}\) ?[0-9]{3}[ .-][0-9]{4}(?![0-9])",
        _phone(NANP_REGIONS, 0.6, 0.6, (10, 11)),
    ),
    _rule(
        r"(?<![0-9])[0-9][ .-][0-9]{3}[ .-][0-9]{3}[ .-][0-9]{4}(?![0-9])",
        _phone(NANP_REGIONS, 0.6, 0.6, (11, 11), "1"),
    ),
    _rule(
        r"(?<![0-9])(?<![0-9][ .-])(?:\([0-9]{2,5}\) ?|[0-9]{2,5}[ .-]?)[0-9]++(?:[ .-][0-9]++){0,3}+",
        _phone(TRUNK_ZERO_REGIONS, 0.5, 0.3, (9, 12), "0", "(0"),
    ),
    _rule(r"(?<![0-9])[0-9]{5}[ -]?[0-9]{5}(?![0-9])", _phone(("IN",), 0.5, 0.3, (10, 10), "6", "7", "8", "9")),
)

ALNUM_RULES: tuple[ZoneRule, ...] = (
    _rule(
        r"(?<![A-Z0-9])[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}(?![A-Za-z0-9])", Check("IBAN_CODE", _fixed(0.95), _iban)
    ),
    _rule(r"(?<![A-Z0-9])[XYZ][ -]?[0-9]{7}[ -]?[A-HJ-NP-TV-Z](?![A-Za-z0-9])", _stdnum("ES_NIE", 0.7)),
    _rule(
        r"(?<![A-Z0-9])[A-Z]{6}[0-9LMNPQRSTUV]{2}[A-EHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]"
        r"(?![A-Za-z0-9])",
        _stdnum("IT_FISCAL_CODE", 0.8),
    ),
    _rule(r"(?<![A-Z0-9])[A-Z]{3}[ABCFGHJLPT][A-Z][0-9]{4}[A-Z](?![A-Za-z0-9])", _stdnum("IN_PAN", 0.5)),
)
