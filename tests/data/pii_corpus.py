"""Labelled PII sentences and near misses, generated with Faker (fixed seed) and check digits computed here.

Shared by the accuracy tests and benchmarks/pii.py. Every identifier is computed by this module's own
implementation of its checksum (not by the library under test); test_pii_accuracy cross-checks a sample of them
against python-stdnum / phonenumbers, the reference libraries.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from faker import Faker

Gold = tuple[int, int, str]


@dataclass
class Labelled:
    text: str
    spans: list[Gold] = field(default_factory=list)


def luhn_digit(payload: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


_D = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
]
_P = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
]
_INV = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9]


def verhoeff_digit(payload: str) -> str:
    c = 0
    for i, ch in enumerate(reversed(payload)):
        c = _D[c][_P[(i + 1) % 8][int(ch)]]
    return str(_INV[c])


_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def base58check(payload: bytes) -> str:
    raw = payload + hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    n = int.from_bytes(raw, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = _B58[r] + out
    return "1" * (len(raw) - len(raw.lstrip(b"\0"))) + out


_CF_ODD = dict(
    zip(
        string.digits + string.ascii_uppercase,
        [
            1,
            0,
            5,
            7,
            9,
            13,
            15,
            17,
            19,
            21,
            1,
            0,
            5,
            7,
            9,
            13,
            15,
            17,
            19,
            21,
            2,
            4,
            18,
            20,
            11,
            3,
            6,
            8,
            12,
            14,
            16,
            10,
            22,
            25,
            24,
            23,
        ],
        strict=True,
    )
)


def _cf_even(ch: str) -> int:
    return int(ch) if ch.isdigit() else ord(ch) - ord("A")


class Generator:
    """Checksum-valid identifiers and labelled sentences, reproducible from ``seed``."""

    def __init__(self, seed: int = 17) -> None:
        self.rng = random.Random(seed)
        Faker.seed(seed)
        self.fake = Faker("en_US")
        self.locales = {loc: Faker(loc) for loc in ("en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL")}

    def digits(self, n: int, first: str = "0123456789") -> str:
        return self.rng.choice(first) + "".join(self.rng.choice(string.digits) for _ in range(n - 1))

    def birth(self) -> tuple[int, int, int]:
        d = self.fake.date_of_birth(minimum_age=18, maximum_age=90)
        return d.year, d.month, d.day

    # --- values ---------------------------------------------------------------------------------------------------
    def email(self) -> str:
        return self.fake.email()

    def phone(self) -> str:
        r = self.rng
        area = r.choice(["212", "213", "312", "415", "617", "202", "305", "404", "503", "512", "602", "646", "718"])
        exchange = r.choice("23456789") + self.digits(2)
        while exchange[1:] == "11":
            exchange = r.choice("23456789") + self.digits(2)
        line = self.digits(4)
        return r.choice(
            [
                f"({area}) {exchange}-{line}",
                f"{area}-{exchange}-{line}",
                f"{area}.{exchange}.{line}",
                f"+1 {area} {exchange} {line}",
                f"+1-{area}-{exchange}-{line}",
                f"+44 20 7946 0{self.digits(3)}",
                f"020 7946 0{self.digits(3)}",
                f"+49 30 {self.digits(8, '123456789')}",
                f"+33 1 {self.digits(2)} {self.digits(2)} {self.digits(2)} {self.digits(2)}",
                f"+91 98{self.digits(3)} {self.digits(5)}",
            ]
        )

    def credit_card(self) -> str:
        number = self.fake.credit_card_number(card_type=self.rng.choice(["visa16", "mastercard", "amex", "discover"]))
        if len(number) == 16 and self.rng.random() < 0.5:
            return " ".join(number[i : i + 4] for i in range(0, 16, 4))
        return number

    def iban(self) -> str:
        value = self.rng.choice(list(self.locales.values())).iban()
        if self.rng.random() < 0.5:
            return " ".join(value[i : i + 4] for i in range(0, len(value), 4))
        return value

    def ssn(self) -> str:
        return self.fake.ssn()

    def itin(self) -> str:
        return self.fake.itin()

    def ip(self) -> str:
        if self.rng.random() < 0.75:
            return self.fake.ipv4_public()
        groups = [f"{self.rng.randrange(0x2001, 0x3FFF):x}"] + [f"{self.rng.randrange(1, 0xFFFF):x}" for _ in range(7)]
        return ":".join(groups) if self.rng.random() < 0.5 else ":".join(groups[:3]) + "::" + groups[7]

    def url(self) -> str:
        return self.rng.choice([self.fake.url(), self.fake.uri(), "www." + self.fake.domain_name()])

    def date(self) -> str:
        y, m, d = self.birth()
        months = [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ]
        return self.rng.choice(
            [
                f"{y}-{m:02d}-{d:02d}",
                f"{m:02d}/{d:02d}/{y}",
                f"{d:02d}/{m:02d}/{y}",
                f"{d:02d}.{m:02d}.{y}",
                f"{months[m - 1]} {d}, {y}",
                f"{d} {months[m - 1]} {y}",
            ]
        )

    def bitcoin(self) -> str:
        version = self.rng.choice([b"\x00", b"\x05"])
        return base58check(version + bytes(self.rng.randrange(256) for _ in range(20)))

    def secret(self) -> str:
        alnum = string.ascii_letters + string.digits

        def pick(n: int, chars: str = alnum) -> str:
            return "".join(self.rng.choice(chars) for _ in range(n))

        kind = self.rng.randrange(6)
        if kind == 0:
            return "AKIA" + pick(16, string.ascii_uppercase + string.digits)
        if kind == 1:
            return "ghp_" + pick(36)
        if kind == 2:
            return "xoxb-" + self.digits(11) + "-" + self.digits(12) + "-" + pick(24)
        if kind == 3:
            return "sk_live_" + pick(24)
        if kind == 4:
            return "AIza" + pick(35, alnum + "_-")
        header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()).rstrip(b"=").decode()
        body = base64.urlsafe_b64encode(json.dumps({"sub": self.digits(8)}).encode()).rstrip(b"=").decode()
        return f"{header}.{body}.{pick(43, alnum + '_-')}"

    def uk_nhs(self) -> str:
        while True:
            body = self.digits(9, "123456789")
            check = 11 - sum(int(d) * w for d, w in zip(body, range(10, 1, -1), strict=True)) % 11
            if check != 10:
                n = body + str(check % 11)
                return f"{n[:3]} {n[3:6]} {n[6:]}"

    def au_tfn(self) -> str:
        weights = [1, 4, 3, 7, 5, 8, 6, 9, 10]
        while True:
            body = self.digits(8, "123456789")
            last = (-sum(int(d) * w for d, w in zip(body, weights, strict=False)) * 10) % 11
            if last < 10:
                n = body + str(last)
                return f"{n[:3]} {n[3:6]} {n[6:]}"

    def au_abn(self) -> str:
        weights = [10, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19]
        while True:
            n = self.digits(11, "123456789")
            if (
                n[:2] != "10"
                and sum((int(d) - (i == 0)) * w for i, (d, w) in enumerate(zip(n, weights, strict=True))) % 89 == 0
            ):
                return f"{n[:2]} {n[2:5]} {n[5:8]} {n[8:]}"

    def au_acn(self) -> str:
        body = self.digits(8)
        n = body + str((10 - sum(int(d) * w for d, w in zip(body, range(8, 0, -1), strict=True)) % 10) % 10)
        return f"{n[:3]} {n[3:6]} {n[6:]}"

    def ca_sin(self) -> str:
        body = self.digits(8, "1234567")
        n = body + luhn_digit(body)
        return f"{n[:3]} {n[3:6]} {n[6:]}"

    def nl_bsn(self) -> str:
        while True:
            n = self.digits(9, "123456789")
            if (sum(int(d) * w for d, w in zip(n[:8], range(9, 1, -1), strict=True)) - int(n[8])) % 11 == 0:
                return n

    def pl_pesel(self) -> str:
        y, m, d = self.birth()
        month = m + (20 if y >= 2000 else 0)
        body = f"{y % 100:02d}{month:02d}{d:02d}" + self.digits(4)
        weights = [1, 3, 7, 9, 1, 3, 7, 9, 1, 3]
        return body + str((10 - sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 10) % 10)

    def de_tax_id(self) -> str:
        while True:
            digits = list("0123456789")
            self.rng.shuffle(digits)
            body = digits[:10]
            if body[0] == "0":
                continue
            body[self.rng.randrange(1, 10)] = body[self.rng.randrange(1, 10)]
            if len(set(body)) != 9:
                continue
            product = 10
            for ch in body:
                total = (int(ch) + product) % 10 or 10
                product = (total * 2) % 11
            n = "".join(body) + str((11 - product) % 10)
            return f"{n[:2]} {n[2:5]} {n[5:8]} {n[8:]}"

    def tr_national_id(self) -> str:
        d = [int(c) for c in self.digits(9, "123456789")]
        d10 = ((d[0] + d[2] + d[4] + d[6] + d[8]) * 7 - (d[1] + d[3] + d[5] + d[7])) % 10
        d11 = (sum(d) + d10) % 10
        return "".join(map(str, d)) + f"{d10}{d11}"

    def za_id(self) -> str:
        y, m, d = self.birth()
        body = f"{y % 100:02d}{m:02d}{d:02d}" + self.digits(4) + self.rng.choice("01") + "8"
        return body + luhn_digit(body)

    def th_tnin(self) -> str:
        body = self.digits(12, "12345678")
        check = (11 - sum(int(c) * (13 - i) for i, c in enumerate(body)) % 11) % 10
        n = body + str(check)
        return f"{n[0]}-{n[1:5]}-{n[5:10]}-{n[10:12]}-{n[12]}"

    def kr_rrn(self) -> str:
        y, m, d = self.birth()
        body = (
            f"{y % 100:02d}{m:02d}{d:02d}"
            + ("1" if y < 2000 else "3")
            + f"{self.rng.randrange(97):02d}"
            + self.digits(3)
        )
        weights = [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5]
        check = (11 - sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11) % 10
        return f"{body[:6]}-{body[6:]}{check}"

    def se_personnummer(self) -> str:
        y, m, d = self.birth()
        body = f"{y % 100:02d}{m:02d}{d:02d}" + self.digits(3)
        check = luhn_digit(body)
        return f"{body[:6]}-{body[6:]}{check}"

    def fi_hetu(self) -> str:
        y, m, d = self.birth()
        individual = f"{self.rng.randrange(2, 900):03d}"
        key = int(f"{d:02d}{m:02d}{y % 100:02d}{individual}") % 31
        sep = "-" if y < 2000 else "A"
        return f"{d:02d}{m:02d}{y % 100:02d}{sep}{individual}{'0123456789ABCDEFHJKLMNPRSTUVWXY'[key]}"

    def in_aadhaar(self) -> str:
        body = self.digits(11, "23456789")
        n = body + verhoeff_digit(body)
        return f"{n[:4]} {n[4:8]} {n[8:]}"

    def in_pan(self) -> str:
        up = string.ascii_uppercase
        return (
            "".join(self.rng.choice(up) for _ in range(3))
            + "P"
            + self.rng.choice(up)
            + self.digits(4)
            + self.rng.choice(up)
        )

    def es_nif(self) -> str:
        n = self.digits(8)
        return n + "TRWAGMYFPDXBNJZSQVHLCKE"[int(n) % 23]

    def es_nie(self) -> str:
        prefix = self.rng.choice("XYZ")
        n = self.digits(7)
        return prefix + n + "TRWAGMYFPDXBNJZSQVHLCKE"[int(str("XYZ".index(prefix)) + n) % 23]

    def it_fiscal_code(self) -> str:
        up = "BCDFGHLMNPRSTVZ"
        y, m, d = self.birth()
        day = d + self.rng.choice([0, 40])
        body = (
            "".join(self.rng.choice(up) for _ in range(6))
            + f"{y % 100:02d}"
            + "ABCDEHLMPRST"[m - 1]
            + f"{day:02d}"
            + self.rng.choice("ABCDEFGHILM")
            + f"{self.rng.randrange(1, 999):03d}"
        )
        total = sum(_CF_ODD[c] if i % 2 == 0 else _cf_even(c) for i, c in enumerate(body))
        return body + string.ascii_uppercase[total % 26]

    def fr_nir(self) -> str:
        y, m, _ = self.birth()
        department = self.rng.randrange(1, 96)
        body = f"{self.rng.choice('12')}{y % 100:02d}{m:02d}{department:02d}{self.digits(3)}{self.digits(3)}"
        key = 97 - int(body) % 97
        return f"{body[0]} {body[1:3]} {body[3:5]} {body[5:7]} {body[7:10]} {body[10:13]} {key:02d}"

    def br_cpf(self) -> str:
        d = [int(c) for c in self.digits(9)]
        for length in (9, 10):
            s = sum(x * w for x, w in zip(d, range(length + 1, 1, -1), strict=True))
            d.append((s * 10 % 11) % 10)
        n = "".join(map(str, d))
        return f"{n[:3]}.{n[3:6]}.{n[6:9]}-{n[9:]}"

    # --- sentences ------------------------------------------------------------------------------------------------
    def values(self) -> dict[str, Callable[[], str]]:
        return {
            "EMAIL_ADDRESS": self.email,
            "PHONE_NUMBER": self.phone,
            "CREDIT_CARD": self.credit_card,
            "IBAN_CODE": self.iban,
            "US_SSN": self.ssn,
            "US_ITIN": self.itin,
            "IP_ADDRESS": self.ip,
            "URL": self.url,
            "DATE_TIME": self.date,
            "CRYPTO": self.bitcoin,
            "SECRET": self.secret,
            "UK_NHS": self.uk_nhs,
            "AU_TFN": self.au_tfn,
            "AU_ABN": self.au_abn,
            "AU_ACN": self.au_acn,
            "CA_SIN": self.ca_sin,
            "NL_BSN": self.nl_bsn,
            "PL_PESEL": self.pl_pesel,
            "DE_TAX_ID": self.de_tax_id,
            "TR_NATIONAL_ID": self.tr_national_id,
            "ZA_ID_NUMBER": self.za_id,
            "TH_TNIN": self.th_tnin,
            "KR_RRN": self.kr_rrn,
            "SE_PERSONNUMMER": self.se_personnummer,
            "FI_PERSONAL_IDENTITY_CODE": self.fi_hetu,
            "IN_AADHAAR": self.in_aadhaar,
            "IN_PAN": self.in_pan,
            "ES_NIF": self.es_nif,
            "ES_NIE": self.es_nie,
            "IT_FISCAL_CODE": self.it_fiscal_code,
            "FR_NIR": self.fr_nir,
            "BR_CPF": self.br_cpf,
        }

    def labelled(self, entity: str) -> Labelled:
        value = self.values()[entity]()
        with_context, without = TEMPLATES[entity]
        options = with_context + without
        template = self.rng.choice(options)
        return self.fill(template, value, entity)

    def fill(self, template: str, value: str, entity: str) -> Labelled:
        lead = self.fake.sentence() + " " if self.rng.random() < 0.5 else ""
        before, after = template.split("{v}")
        before = lead + before.replace("{name}", self.fake.name())
        text = before + value + after.replace("{name}", self.fake.first_name())
        return Labelled(text, [(len(before), len(before) + len(value), entity)])

    def filler(self) -> Labelled:
        return Labelled(
            self.rng.choice(
                [
                    self.fake.sentence(nb_words=14),
                    self.fake.paragraph(nb_sentences=3),
                    self.fake.catch_phrase() + ".",
                    f"Dear {self.fake.name()}, {self.fake.sentence()}",
                    self.fake.bs().capitalize() + ".",
                ]
            )
        )

    def near_miss(self) -> Labelled:
        return Labelled(self.rng.choice(NEAR_MISSES)(self))

    def corpus(self, size: int, *, pii_share: float = 0.25, near_miss_share: float = 0.1) -> Iterator[Labelled]:
        """Lines of about ``size`` characters in total: filler prose, labelled PII sentences (entity types drawn
        with :data:`WEIGHTS`), near misses."""
        entities = list(TEMPLATES)
        weights = [WEIGHTS.get(e, 0.5) for e in entities]
        produced = 0
        while produced < size:
            draw = self.rng.random()
            if draw < pii_share:
                item = self.labelled(self.rng.choices(entities, weights)[0])
            elif draw < pii_share + near_miss_share:
                item = self.near_miss()
            else:
                item = self.filler()
            produced += len(item.text) + 1
            yield item


#: How often each entity type appears in the corpus, relative to one national identifier (0.5): contact details and
#: dates are what text and records are full of; each national identifier is rarer.
WEIGHTS: dict[str, float] = {
    "EMAIL_ADDRESS": 5,
    "PHONE_NUMBER": 5,
    "DATE_TIME": 4,
    "URL": 3,
    "IP_ADDRESS": 2,
    "CREDIT_CARD": 2,
    "IBAN_CODE": 2,
    "US_SSN": 2,
    "SECRET": 1,
    "CRYPTO": 1,
}

C = "{v}"
#: entity -> (templates with a context word, templates without). Identifiers whose checksum is weak (1 in 10 or
#: 1 in 11 random numbers pass), or whose bare digits are also a valid identifier of another country (11 digits:
#: PESEL / TC Kimlik; 13 digits: ZA ID / Thai ID), are written, as they are in real forms and records, next to their
#: name: without it no detector can tell which one they are.
TEMPLATES: dict[str, tuple[list[str], list[str]]] = {
    "EMAIL_ADDRESS": ([f"Please email {{name}} at {C}.", f"Contact: {C}"], [f"Reply to {C} before Friday.", f"cc {C}"]),
    "PHONE_NUMBER": ([f"Call me on {C} tomorrow.", f"Phone: {C}", f"mobile {C}"], [f"Reach {{name}} at {C}."]),
    "CREDIT_CARD": ([f"Charge the card {C} please.", f"Visa {C} exp 04/27"], [f"Use {C} for the deposit."]),
    "IBAN_CODE": ([f"IBAN {C}", f"Transfer to account {C} today."], [f"Send it to {C} by Monday."]),
    "US_SSN": ([f"SSN: {C}", f"My social security number is {C}."], [f"{{name}} gave {C} on the form."]),
    "US_ITIN": ([f"ITIN {C}", f"Individual taxpayer number {C} on file."], []),
    "IP_ADDRESS": ([f"Login from IP {C} blocked.", f"client {C} connected"], [f"Traffic from {C} spiked."]),
    "URL": ([f"Visit {C} for details.", f"See the link {C}"], [f"Docs moved to {C} last week."]),
    "DATE_TIME": ([f"Date of birth: {C}", f"{{name}} was born on {C}."], [f"The meeting is on {C}."]),
    "CRYPTO": ([f"Send BTC to {C} today.", f"wallet {C}"], [f"Pay {C} the balance."]),
    "SECRET": ([f"api_key={C}", f"token: {C}"], [f"Authorization uses {C} in prod.", f"export KEY {C}"]),
    "UK_NHS": ([f"NHS number {C}", f"Patient NHS no. {C}"], []),
    "AU_TFN": ([f"TFN: {C}", f"My tax file number is {C}."], []),
    "AU_ABN": ([f"ABN {C}", f"Australian Business Number {C}"], []),
    "AU_ACN": ([f"ACN {C}", f"company number (ACN) {C}"], []),
    "CA_SIN": ([f"SIN: {C}", f"Social insurance number {C}"], []),
    "NL_BSN": ([f"BSN {C}", f"burgerservicenummer {C}"], []),
    "PL_PESEL": ([f"PESEL: {C}", f"numer PESEL {C}"], []),
    "DE_TAX_ID": ([f"Steuer-ID {C}", f"Steueridentifikationsnummer (IdNr) {C}"], []),
    "TR_NATIONAL_ID": ([f"TC Kimlik No: {C}", f"kimlik numarası {C}"], []),  # noqa: RUF001 - Turkish
    "ZA_ID_NUMBER": ([f"ID number {C}", f"South African ID {C}"], []),
    "TH_TNIN": ([f"Thai ID {C}", f"national ID {C}"], [f"Customer {C} registered."]),
    "KR_RRN": ([f"RRN {C}", f"resident registration number {C}"], [f"Applicant {C} verified."]),
    "SE_PERSONNUMMER": ([f"Personnummer {C}", f"personnummer: {C}"], [f"Kund {C} registrerad."]),
    "FI_PERSONAL_IDENTITY_CODE": ([f"henkilötunnus {C}", f"HETU: {C}"], [f"Asiakas {C} rekisteröity."]),
    "IN_AADHAAR": ([f"Aadhaar {C}", f"UIDAI number {C}"], [f"Applicant {C} enrolled."]),
    "IN_PAN": ([f"PAN: {C}", f"Permanent account number {C}"], [f"Filed under {C} this year."]),
    "ES_NIF": ([f"DNI {C}", f"NIF: {C}"], [f"Cliente {C} dado de alta."]),
    "ES_NIE": ([f"NIE {C}", f"número NIE: {C}"], [f"Solicitante {C} admitido."]),
    "IT_FISCAL_CODE": ([f"Codice fiscale {C}", f"CF: {C}"], [f"Intestato a {C} dal 2020."]),
    "FR_NIR": ([f"Numéro de sécurité sociale {C}", f"NIR {C}"], [f"Assuré {C} enregistré."]),
    "BR_CPF": ([f"CPF {C}", f"CPF: {C}"], [f"Cliente {C} cadastrado."]),
}


def _luhn_breaker(g: Generator) -> str:
    number = g.fake.credit_card_number(card_type="visa16")
    bad = number[:-1] + str((int(number[-1]) + 1) % 10)
    return g.rng.choice([f"Card {bad} was declined.", f"Use card {bad[:4]} {bad[4:8]} {bad[8:12]} {bad[12:]}."])


def _iban_breaker(g: Generator) -> str:
    good = g.rng.choice(list(g.locales.values())).iban()
    bad = good[:2] + f"{(int(good[2:4]) + 1) % 100:02d}" + good[4:]
    return f"IBAN {bad} on the invoice is wrong."


NEAR_MISSES: list[Callable[[Generator], str]] = [
    _luhn_breaker,
    _iban_breaker,
    lambda g: f"Order #{g.digits(8, '123456789')} shipped.",
    lambda g: f"Your order number is {g.digits(10, '123456789')}.",
    lambda g: f"Invoice INV-{g.rng.randrange(2019, 2026)}-{g.digits(6)} is due.",
    lambda g: f"Tracking number {g.digits(12, '123456789')} in transit.",
    lambda g: f"Upgraded to v{g.rng.randrange(1, 20)}.{g.rng.randrange(0, 30)}.{g.rng.randrange(0, 30)} today.",
    lambda g: "Running version " + ".".join(str(g.rng.randrange(0, 20)) for _ in range(4)) + ".",
    lambda g: f"Python {g.rng.choice(['3.11.7', '3.12.1', '2.7.18'])} and numpy 1.26.4 installed.",
    lambda g: f"{g.fake.date_time().isoformat()}Z INFO request served in {g.rng.randrange(2, 900)} ms",
    lambda g: f"[{g.fake.date_time():%Y-%m-%d %H:%M:%S},{g.digits(3)}] worker started",
    lambda g: f"Job finished at {g.fake.date_time():%Y-%m-%d %H:%M}.",
    lambda g: f"SSN on file 000-{g.digits(2)}-{g.digits(4)} is invalid.",
    lambda g: f"Rejected 666-{g.digits(2, '123456789')}-{g.digits(4, '123456789')} as an SSN.",
    lambda g: f"Call extension 555-{g.digits(4)} internally.",
    lambda g: f"Dial 123-456-{g.digits(4)} (not a real area code).",
    lambda g: f"Build {g.digits(9, '123456789')} passed.",
    lambda g: f"commit {''.join(g.rng.choice('0123456789abcdef') for _ in range(40))} merged",
    lambda g: f"request id {g.fake.uuid4()} failed",
    lambda g: f"Total due: ${g.rng.randrange(1, 99)},{g.digits(3)}.{g.digits(2)} by {g.fake.month_name()}.",
    lambda g: f"ISBN 978-{g.digits(1)}-{g.digits(2)}-{g.digits(6)}-{g.digits(1)} is in stock.",
    lambda g: f"The server 999.{g.rng.randrange(1, 255)}.{g.rng.randrange(1, 255)}.1 is not an address.",
    lambda g: "password: <redacted>",
    lambda g: "api_key: YOUR_API_KEY",
    lambda g: "token=${TOKEN}",
    lambda g: f"Room {g.rng.randrange(100, 999)}, floor {g.rng.randrange(1, 30)}, {g.rng.randrange(10, 99)} seats.",
    lambda g: f"Coordinates {g.fake.latitude()}, {g.fake.longitude()}.",
    lambda g: f"Scored {g.rng.randrange(1, 99)}.{g.digits(2)}% on {g.rng.randrange(1000, 99999)} samples.",
]


@dataclass
class Counts:
    tp: int = 0
    fn: int = 0
    fp: int = 0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0


def _matches(gold: Gold, predicted: Gold) -> bool:
    """Same entity type and an overlap of at least half their union (tolerates a trailing slash or parenthesis)."""
    if gold[2] != predicted[2]:
        return False
    overlap = min(gold[1], predicted[1]) - max(gold[0], predicted[0])
    union = max(gold[1], predicted[1]) - min(gold[0], predicted[0])
    return overlap > 0 and overlap * 2 >= union


def evaluate(items: list[Labelled], predictions: list[list[Gold]]) -> dict[str, Counts]:
    """Per entity type: a gold span is found when a predicted span matches it; a predicted span matching no gold
    span is a false positive (attributed to the predicted type)."""
    counts: dict[str, Counts] = {}
    for item, predicted in zip(items, predictions, strict=True):
        used: set[int] = set()
        for gold in item.spans:
            hit = next((i for i, p in enumerate(predicted) if i not in used and _matches(gold, p)), None)
            entry = counts.setdefault(gold[2], Counts())
            if hit is None:
                entry.fn += 1
            else:
                entry.tp += 1
                used.add(hit)
        for i, p in enumerate(predicted):
            if i not in used:
                counts.setdefault(p[2], Counts()).fp += 1
    return counts


def total(counts: dict[str, Counts], entities: set[str] | None = None) -> Counts:
    out = Counts()
    for entity, c in counts.items():
        if entities is None or entity in entities:
            out.tp += c.tp
            out.fn += c.fn
            out.fp += c.fp
    return out


def table(counts: dict[str, Counts]) -> str:
    lines = [f"{'entity':28s} {'gold':>6s} {'tp':>6s} {'fp':>6s} {'recall':>7s} {'precision':>9s}"]
    for entity in sorted(counts):
        c = counts[entity]
        lines.append(f"{entity:28s} {c.tp + c.fn:6d} {c.tp:6d} {c.fp:6d} {c.recall:7.3f} {c.precision:9.3f}")
    return "\n".join(lines)
