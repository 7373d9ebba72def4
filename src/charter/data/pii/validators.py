"""Validators run on candidate matches only: checksums (python-stdnum), phone numbers (phonenumbers), dates,
IP addresses, JWTs, secret values. Each takes the matched text and answers whether it is what it looks like.

The national identifiers map Presidio's entity names (where Presidio has one) to python-stdnum's module.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import ipaddress
import json
import re
from collections.abc import Callable, Sequence
from functools import lru_cache

import phonenumbers
from stdnum import bitcoin, iban, luhn
from stdnum.au import abn, acn, tfn
from stdnum.br import cpf
from stdnum.ca import sin
from stdnum.de import idnr
from stdnum.es import dni, nie
from stdnum.fi import hetu
from stdnum.fr import nir
from stdnum.gb import nhs
from stdnum.in_ import aadhaar, pan
from stdnum.it import codicefiscale
from stdnum.kr import rrn
from stdnum.nl import bsn
from stdnum.pl import pesel
from stdnum.se import personnummer
from stdnum.th import pin
from stdnum.tr import tckimlik
from stdnum.us import itin, ssn
from stdnum.za import idnr as za_idnr

Validator = Callable[[str], bool]

#: entity -> python-stdnum validator (each checks structure and, where the identifier has one, its checksum).
STDNUM: dict[str, Validator] = {
    "US_SSN": ssn.is_valid,
    "US_ITIN": itin.is_valid,
    "UK_NHS": nhs.is_valid,
    "ES_NIF": dni.is_valid,
    "ES_NIE": nie.is_valid,
    "IT_FISCAL_CODE": codicefiscale.is_valid,
    "IN_PAN": pan.is_valid,
    "IN_AADHAAR": aadhaar.is_valid,
    "AU_TFN": tfn.is_valid,
    "AU_ABN": abn.is_valid,
    "AU_ACN": acn.is_valid,
    "CA_SIN": sin.is_valid,
    "PL_PESEL": pesel.is_valid,
    "FI_PERSONAL_IDENTITY_CODE": hetu.is_valid,
    "SE_PERSONNUMMER": personnummer.is_valid,
    "DE_TAX_ID": idnr.is_valid,
    "KR_RRN": rrn.is_valid,
    "ZA_ID_NUMBER": za_idnr.is_valid,
    "TR_NATIONAL_ID": tckimlik.is_valid,
    "TH_TNIN": pin.is_valid,
    "NL_BSN": bsn.is_valid,
    "FR_NIR": nir.is_valid,
    "BR_CPF": cpf.is_valid,
}

_NON_DIGITS = re.compile(r"[^0-9]")

# Card schemes by issuer prefix (IIN) and allowed lengths: a Luhn-valid number outside these is not a card.
_CARD_PREFIXES: tuple[tuple[int, int, frozenset[int]], ...] = (
    (4, 4, frozenset({16, 19})),  # Visa (13-digit cards are no longer issued; ZA ID numbers look like them)
    (51, 55, frozenset({16})),  # Mastercard
    (2221, 2720, frozenset({16})),  # Mastercard 2-series
    (34, 34, frozenset({15})),  # American Express
    (37, 37, frozenset({15})),
    (6011, 6011, frozenset(range(16, 20))),  # Discover
    (644, 649, frozenset(range(16, 20))),
    (65, 65, frozenset(range(16, 20))),
    (3528, 3589, frozenset(range(16, 20))),  # JCB
    (300, 305, frozenset(range(14, 20))),  # Diners Club
    (36, 36, frozenset(range(14, 20))),
    (38, 39, frozenset(range(16, 20))),
    (62, 62, frozenset(range(16, 20))),  # UnionPay
    (50, 50, frozenset(range(16, 20))),  # Maestro
    (56, 58, frozenset(range(16, 20))),
    (63, 63, frozenset(range(16, 20))),
    (67, 67, frozenset(range(16, 20))),
)


def digits_of(text: str) -> str:
    return _NON_DIGITS.sub("", text)


def credit_card(text: str) -> bool:
    """A known issuer prefix, a length that issuer uses, and a valid Luhn check digit."""
    number = digits_of(text)
    size = len(number)
    for low, high, lengths in _CARD_PREFIXES:
        width = len(str(low))
        if size in lengths and low <= int(number[:width]) <= high:
            return bool(luhn.is_valid(number))
    return False


def iban_code(text: str) -> bool:
    """Country format, length and the ISO 7064 mod-97 check digits."""
    return bool(iban.is_valid(text))


def bitcoin_address(text: str) -> bool:
    """Base58Check (P2PKH/P2SH) or Bech32 checksum."""
    return bool(bitcoin.is_valid(text))


def national_id(entity: str, text: str) -> bool:
    return bool(STDNUM[entity](text))


def _number(country_code: int, national: str) -> phonenumbers.PhoneNumber:
    number = phonenumbers.PhoneNumber(country_code=country_code, national_number=int(national))
    zeros = len(national) - len(national.lstrip("0"))
    if zeros and len(national) > 1:  # kept as part of the number (Italy), as phonenumbers.parse does
        number.italian_leading_zero = True
        if zeros > 1:
            number.number_of_leading_zeros = zeros
    return number


def _valid_international(code: int, national: str) -> bool:
    number = _number(code, national)
    if code == 1:  # 25 regions share +1: try the two most likely before phonenumbers walks all of them
        for region in ("US", "CA"):
            if phonenumbers.is_valid_number_for_region(number, region):
                return True
    return bool(phonenumbers.is_valid_number(number))


@lru_cache(maxsize=16384)
def phone_number(text: str, regions: tuple[str, ...]) -> bool:
    """Valid in its numbering plan, by phonenumbers' metadata: an international number (``+``) for its country
    code, a national one for one of ``regions`` (its trunk prefix 0, or NANP's 1, removed).

    The candidate pattern has already isolated the number, so the PhoneNumber is built from its digits rather
    than by ``phonenumbers.parse`` (which re-does that isolation and costs ~4x the validity check itself)."""
    if text.startswith("+"):
        digits = digits_of(text.replace("(0)", "", 1))
        if digits[:1] in ("", "0"):
            return False
        for size in (1, 2, 3):
            code = int(digits[:size])
            if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
                national = digits[size:]
                if len(national) < 2:
                    return False
                if _valid_international(code, national):
                    return True
                # a trunk 0 written after the country code ("+91 098..."), which parse() also strips
                return national[0] == "0" and _valid_international(code, national[1:])
        return False
    digits = digits_of(text)
    for region in regions:
        code = phonenumbers.country_code_for_region(region)
        national = digits
        if code == 1:
            if len(national) == 11 and national[0] == "1":
                national = national[1:]
        elif national[:1] == "0":
            national = national[1:]
        if len(national) > 1 and national[0] != "0":
            candidate = phonenumbers.PhoneNumber(country_code=code, national_number=int(national))
            if phonenumbers.is_valid_number_for_region(candidate, region):
                return True
    return False


def calendar_date(year: int, month: int, day: int) -> bool:
    if not 1900 <= year <= 2099:
        return False
    try:
        dt.date(year, month, day)
    except ValueError:
        return False
    return True


def numeric_date(first: str, second: str, third: str, separator: str) -> bool:
    """``y-m-d``, ``d/m/y`` or ``m/d/y`` with a real calendar day; two-digit years only with ``/``."""
    if len(first) == 4:
        return calendar_date(int(first), int(second), int(third))
    if len(third) == 2:
        if separator != "/":
            return False
        year = 1900 + int(third) if int(third) >= 30 else 2000 + int(third)
    elif len(third) == 4:
        year = int(third)
    else:
        return False
    a, b = int(first), int(second)
    return calendar_date(year, b, a) or calendar_date(year, a, b)


#: IPv4 special-purpose ranges (IANA registry, RFC 6890 and successors) -> score: not a person's address (loopback,
#: "this network", multicast, reserved, documentation, benchmarking), link-local, private or shared address space.
#: Integer comparisons: the ipaddress module's properties cost ~15 us per address, this ~1 us.
_IPV4_SPECIAL: tuple[tuple[int, int, float], ...] = tuple(
    (int(net.network_address), int(net.broadcast_address), score)
    for cidr, score in (
        ("0.0.0.0/8", 0.1),
        ("127.0.0.0/8", 0.1),
        ("224.0.0.0/4", 0.1),
        ("240.0.0.0/4", 0.1),
        ("192.0.2.0/24", 0.1),
        ("198.51.100.0/24", 0.1),
        ("203.0.113.0/24", 0.1),
        ("198.18.0.0/15", 0.1),
        ("192.0.0.0/24", 0.1),
        ("169.254.0.0/16", 0.3),
        ("10.0.0.0/8", 0.5),
        ("172.16.0.0/12", 0.5),
        ("192.168.0.0/16", 0.5),
        ("100.64.0.0/10", 0.5),
    )
    for net in (ipaddress.IPv4Network(cidr),)
)


def ipv4_score(octets: Sequence[str]) -> float | None:
    """Dotted-quad digits -> score, without building an ipaddress object (the hot path): None when an octet is
    over 255 or has a leading zero (ambiguous, octal for some parsers), as ipaddress rejects it."""
    value = 0
    for octet in octets:
        if len(octet) > 1 and octet[0] == "0":
            return None
        number = int(octet)
        if number > 255:
            return None
        value = value << 8 | number
    for low, high, score in _IPV4_SPECIAL:
        if low <= value <= high:
            return score
    return 0.6


def ip_address_score(text: str) -> float | None:
    """None when not an address; a lower score for private, and a negligible one for loopback/unspecified."""
    if ":" not in text:
        parts = text.split(".")
        return ipv4_score(parts) if len(parts) == 4 and all(p.isdigit() and p.isascii() for p in parts) else None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if address.is_loopback or address.is_unspecified or address.is_multicast or address.is_reserved:
        return 0.1
    if address.is_link_local:
        return 0.3
    if address.is_private:
        return 0.5
    return 0.6


def jwt(text: str) -> bool:
    """Three base64url parts whose header is a JSON object naming an algorithm."""
    header = text.split(".", 1)[0]
    try:
        decoded = base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))
        value = json.loads(decoded)
    except (binascii.Error, ValueError):
        return False
    return isinstance(value, dict) and "alg" in value


_PLACEHOLDER = re.compile(
    r"^(?:[*xX#._-]+|<[^>]*>|\{[^}]*\}|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|%[sd]|null|none|nil|true|false|"
    r"redacted|\[redacted\]|changeme|password|secret|example|required|optional|string|undefined|"
    r"your[_-]?\w*|\.\.\.+)$",
    re.IGNORECASE,
)


def secret_value(value: str) -> bool:
    """A credential-looking value: not a placeholder, and either mixed (letters with digits or symbols) or long."""
    if len(value) < 6 or _PLACEHOLDER.match(value):
        return False
    has_alpha = any(c.isalpha() for c in value)
    has_other = any(not c.isalpha() for c in value)
    return (has_alpha and has_other) or len(value) >= 12
