"""Detectors driven by a literal anchor (``@``, ``://``, ``www.``, a top-level domain, ``:``, ``0x``, a token
prefix, a month name). The anchor is found by a regex with a literal or small-charset prefix (CPython's ``re``
skips to it at memchr speed); the rest of the match is expanded around it with bounded windows."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from charter.data.pii import validators as v

#: (start, end, entity, base score)
Candidate = tuple[int, int, str, float]
Finder = Callable[[str, list[Candidate]], None]

_WORD = re.compile(r"\w")


def _glued(text: str, pos: int) -> bool:
    """Whether the character at ``pos`` (if any) is a word character, i.e. the match is part of a longer word."""
    return 0 <= pos < len(text) and _WORD.match(text, pos) is not None


# --- e-mail ------------------------------------------------------------------------------------------------------
_AT = re.compile(r"@(?=[A-Za-z0-9])")
_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_LOCAL_CHARS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]*")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"(?:{_LABEL}\.)+([A-Za-z]{{2,24}})(?![A-Za-z0-9-])")
_COMMON_TLDS = frozenset(
    [
        "com",
        "net",
        "org",
        "edu",
        "gov",
        "mil",
        "int",
        "info",
        "biz",
        "name",
        "pro",
        "io",
        "co",
        "ai",
        "app",
        "dev",
        "tech",
        "cloud",
        "online",
        "site",
        "xyz",
        "shop",
        "me",
        "tv",
        "cc",
        "ly",
        "email",
        "mobi",
        "museum",
        "aero",
        "coop",
        "jobs",
        "travel",
        "asia",
        "eu",
    ]
)
_FILE_EXTENSIONS = frozenset(
    ["py", "js", "ts", "sh", "rs", "md", "pl", "ps", "go", "rb", "cs", "ml", "hs", "kt", "so", "cf", "am", "fm"]
)


def find_emails(text: str, out: list[Candidate]) -> None:
    for at_match in _AT.finditer(text):
        at = at_match.start()
        domain = _DOMAIN.match(text, at + 1)
        if domain is None:
            continue
        # the local part runs left from "@": match its characters on the reversed window
        run = _LOCAL_CHARS.match(text[max(0, at - 64) : at][::-1])
        start = at - (run.end() if run else 0)
        while start < at and text[start] == ".":
            start += 1
        if start >= at or _LOCAL.fullmatch(text, start, at) is None:
            continue
        tld = domain.group(1).lower()
        score = 0.95 if tld in _COMMON_TLDS or (len(tld) == 2 and tld not in _FILE_EXTENSIONS) else 0.6
        out.append((start, domain.end(), "EMAIL_ADDRESS", score))


# --- URLs ----------------------------------------------------------------------------------------------------------
_SCHEME_SEP = re.compile(r"://")
_SCHEME = re.compile(r"(?<![A-Za-z0-9+.-])(?:[Hh][Tt][Tt][Pp][Ss]?|[Ff][Tt][Pp][Ss]?|sftp|wss?)\Z")
_URL_BODY = re.compile(r"[^\s<>\"'`{}|\\^]+")
_WWW = re.compile(r"www\.(?=[A-Za-z0-9])")
_BARE_TLD = re.compile(
    r"\.(?:com|net|org|edu|gov|info|biz|io|co|ai|app|dev|me|us|uk|de|fr|es|it|nl|eu|ca|au|in|jp|ch|se|no|dk|fi|"
    r"be|at|ie|nz|za|br|mx)(?![A-Za-z0-9-])(?!\.[A-Za-z])"
)
_HOST_LEFT = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}")
_HOST_CHARS = re.compile(r"[A-Za-z0-9.-]*")
_PATH = re.compile(r"(?::[0-9]{1,5})?/[^\s<>\"'`{}|\\^]*")
_TRAILING = ".,;:!?'\""
_CLOSERS = {")": "(", "]": "[", "}": "{"}


def _trim_url(text: str, start: int, end: int) -> int:
    while end > start:
        last = text[end - 1]
        unbalanced = last in _CLOSERS and text.count(_CLOSERS[last], start, end) < text.count(last, start, end)
        if last in _TRAILING or unbalanced:
            end -= 1
        else:
            break
    return end


def find_urls(text: str, out: list[Candidate]) -> None:
    for sep in _SCHEME_SEP.finditer(text):
        colon = sep.start()
        scheme = _SCHEME.search(text, max(0, colon - 6), colon)
        body = _URL_BODY.match(text, sep.end())
        if scheme is None or body is None:
            continue
        end = _trim_url(text, scheme.start(), body.end())
        if end > sep.end():
            out.append((scheme.start(), end, "URL", 0.8))
    for www in _WWW.finditer(text):
        start = www.start()
        if start > 0 and (text[start - 1] in "/.@" or _glued(text, start - 1)):
            continue
        body = _URL_BODY.match(text, start)
        if body is None:
            continue
        end = _trim_url(text, start, body.end())
        if text.find(".", www.end(), end) > 0:
            out.append((start, end, "URL", 0.7))
    for tld in _BARE_TLD.finditer(text):
        dot = tld.start()
        # the host runs left from the dot: match host characters on the reversed window, then check its labels
        run = _HOST_CHARS.match(text[max(0, dot - 120) : dot][::-1])
        start = dot - (run.end() if run else 0)
        host = _HOST_LEFT.fullmatch(text, start, dot)
        if host is None:
            continue
        if start > 0 and (text[start - 1] in "@/.:-" or _glued(text, start - 1)):
            continue
        if not any(c.isalpha() for c in text[start:dot]):
            continue
        end = tld.end()
        path = _PATH.match(text, end)
        if path is not None:
            end = _trim_url(text, start, path.end())
        out.append((start, end, "URL", 0.5))


# --- IPv6 ----------------------------------------------------------------------------------------------------------
_V6_ANCHOR = re.compile(r":[0-9A-Fa-f]{0,4}:")
_V6_LEFT = re.compile(r"[0-9A-Fa-f:]*")
_V6_RIGHT = re.compile(r"[0-9A-Fa-f:.]*")


def find_ipv6(text: str, out: list[Candidate]) -> None:
    covered = -1
    for anchor in _V6_ANCHOR.finditer(text):
        pos = anchor.start()
        if pos < covered:
            continue
        left = _V6_LEFT.match(text[max(0, pos - 40) : pos][::-1])
        right = _V6_RIGHT.match(text, pos)
        start = pos - (left.end() if left else 0)
        end = right.end() if right else pos
        covered = end
        while end > start and text[end - 1] == ".":
            end -= 1
        if end - start > 2 and text[end - 1] == ":" and text[end - 2] != ":":
            end -= 1
        if _glued(text, start - 1) or _glued(text, end):
            continue
        score = v.ip_address_score(text[start:end])
        if score is not None and ":" in text[start:end]:
            out.append((start, end, "IP_ADDRESS", score))


# --- dates with a month name ----------------------------------------------------------------------------------------
_MONTHS = {
    name: i + 1
    for i, names in enumerate(
        (
            ("January", "Jan"),
            ("February", "Feb"),
            ("March", "Mar"),
            ("April", "Apr"),
            ("May",),
            ("June", "Jun"),
            ("July", "Jul"),
            ("August", "Aug"),
            ("September", "Sept", "Sep"),
            ("October", "Oct"),
            ("November", "Nov"),
            ("December", "Dec"),
        )
    )
    for name in names
}
_MONTH = re.compile("(?:" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?(?![A-Za-z])")
_MDY_TAIL = re.compile(r" ([0-9]{1,2})(?:st|nd|rd|th)?,? ([0-9]{4})(?![0-9])")
_DMY_HEAD = re.compile(r"(?<![0-9])([0-9]{1,2})(?:st|nd|rd|th)? (?:of )?\Z")
_YEAR_TAIL = re.compile(r",? ([0-9]{4})(?![0-9])")
_TIME_AFTER = re.compile(r"(?:[T ]|, | at )[0-9]{1,2}:[0-9]{2}")


def find_month_dates(text: str, out: list[Candidate]) -> None:
    for m in _MONTH.finditer(text):
        if _glued(text, m.start() - 1):
            continue
        month = _MONTHS[m.group(0).rstrip(".")]
        tail = _MDY_TAIL.match(text, m.end())
        if tail is not None:
            start, end, day, year = m.start(), tail.end(), int(tail.group(1)), int(tail.group(2))
        else:
            head = _DMY_HEAD.search(text, max(0, m.start() - 12), m.start())
            year_tail = _YEAR_TAIL.match(text, m.end())
            if head is None or year_tail is None:
                continue
            start, end, day, year = head.start(), year_tail.end(), int(head.group(1)), int(year_tail.group(1))
        if v.calendar_date(year, month, day) and not _TIME_AFTER.match(text, end):
            out.append((start, end, "DATE_TIME", 0.5))


# --- crypto wallets ----------------------------------------------------------------------------------------------
# one regex per leading character: a single-literal prefix is searched at memchr speed, a [13] class is not
_BTC_LEGACY = tuple(re.compile(rf"{d}(?<![\w]{d})[a-km-zA-HJ-NP-Z1-9]{{25,34}}(?![\w])") for d in "13")
_BTC_BECH32 = re.compile(r"bc1[ac-hj-np-z02-9]{11,71}(?![\w])")
_ETH = re.compile(r"0x[0-9a-fA-F]{40}(?![\w])")


def find_crypto(text: str, out: list[Candidate]) -> None:
    for pattern in (*_BTC_LEGACY, _BTC_BECH32):
        for m in pattern.finditer(text):
            if not _glued(text, m.start() - 1) and v.bitcoin_address(m.group(0)):
                out.append((m.start(), m.end(), "CRYPTO", 0.95))
    for m in _ETH.finditer(text):
        if not _glued(text, m.start() - 1):
            out.append((m.start(), m.end(), "CRYPTO", 0.5))  # no Keccak in the standard library: format only


# --- secrets -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SecretPattern:
    name: str
    pattern: re.Pattern[str]
    score: float
    check: Callable[[str], bool] | None = None


def _secret(name: str, pattern: str, score: float = 0.95, check: Callable[[str], bool] | None = None) -> SecretPattern:
    return SecretPattern(name, re.compile(pattern), score, check)


SECRET_PATTERNS: tuple[SecretPattern, ...] = (
    _secret("AWS access key id", r"AKIA[0-9A-Z]{16}(?![0-9A-Za-z])"),
    _secret("AWS temporary access key id", r"ASIA[0-9A-Z]{16}(?![0-9A-Za-z])"),
    _secret("GitHub token", r"gh[pousr]_[A-Za-z0-9]{36,255}(?![A-Za-z0-9])"),
    _secret("GitHub fine-grained token", r"github_pat_[A-Za-z0-9_]{22,255}"),
    _secret("GitLab token", r"glpat-[A-Za-z0-9_-]{20,}"),
    _secret("Slack token", r"xox[abposr]-[A-Za-z0-9-]{10,}"),
    _secret("Slack webhook", r"https://hooks\.slack\.com/services/[A-Za-z0-9/_-]{20,}", 0.97),
    _secret("Stripe secret key", r"sk_(?:live|test)_[0-9A-Za-z]{16,}"),
    _secret("Stripe restricted key", r"rk_(?:live|test)_[0-9A-Za-z]{16,}"),
    _secret("Google API key", r"AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])"),
    _secret("OpenAI / Anthropic key", r"sk-(?:ant-|proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}(?![A-Za-z0-9_-])"),
    _secret("Hugging Face token", r"hf_[A-Za-z0-9]{30,40}(?![A-Za-z0-9])"),
    _secret("npm token", r"npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])"),
    _secret("SendGrid key", r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}"),
    _secret("Twilio key", r"SK[0-9a-f]{32}(?![0-9A-Za-z])"),
    _secret("Azure storage key", r"AccountKey=[A-Za-z0-9+/]{86}==", 0.95),
    _secret("JSON Web Token", r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}", 0.9, v.jwt),
)
_PEM_BEGIN = re.compile(r"-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----")
# "key: value" / "key=value" / '"key": "value"': the operator follows a letter or a quote, and is not "://"
_ASSIGN = tuple(re.compile(rf"{op}(?<=[A-Za-z_\"']{op})(?!//)[ \t]*[\"']?[^\s\"',;]{{6}}") for op in ":=")
#: names whose assigned value is a credential ("password: ...", "api_key=...", '"token": "..."'), lower case
SECRET_KEYS: tuple[str, ...] = tuple(
    f"{a}{sep}{b}" if b else a
    for a, b in (
        ("api", "key"),
        ("apikey", ""),
        ("secret", "key"),
        ("client", "secret"),
        ("secret", ""),
        ("access", "token"),
        ("auth", "token"),
        ("refresh", "token"),
        ("token", ""),
        ("password", ""),
        ("passwd", ""),
        ("pwd", ""),
        ("private", "key"),
        ("access", "key"),
    )
    for sep in (("_", "-", "") if b else ("",))
)
_ASSIGNED_VALUE = re.compile(r"[ \t]*[\"']?([^\s\"',;]{6,256})")
_BEARER = re.compile(r"Bearer ([A-Za-z0-9._~+/-]{16,}=*)")


def find_secrets(text: str, out: list[Candidate]) -> None:
    for secret in SECRET_PATTERNS:
        for m in secret.pattern.finditer(text):
            if _glued(text, m.start() - 1) or (secret.check is not None and not secret.check(m.group(0))):
                continue
            out.append((m.start(), m.end(), "SECRET", secret.score))
    for m in _PEM_BEGIN.finditer(text):
        footer = f"-----END {m.group(1)}-----"
        end = text.find(footer, m.end())
        if end >= 0:
            out.append((m.start(), end + len(footer), "SECRET", 1.0))
        else:
            line_end = text.find("\n", m.end())
            out.append((m.start(), len(text) if line_end < 0 else line_end, "SECRET", 1.0))
    for m in (m for assign in _ASSIGN for m in assign.finditer(text)):
        pos = m.start()
        head = text[max(0, pos - 24) : pos].rstrip(" \t\"'").lower()
        if not head.endswith(SECRET_KEYS):
            continue
        key = max((k for k in SECRET_KEYS if head.endswith(k)), key=len)
        if len(head) > len(key) and head[-len(key) - 1].isalnum():  # "monkey: ..." is not "key: ..."
            continue
        value = _ASSIGNED_VALUE.match(text, pos + 1)
        if value is not None and v.secret_value(value.group(1)):
            out.append((value.start(1), value.end(1), "SECRET", 0.6))
    for m in _BEARER.finditer(text):
        out.append((m.start(1), m.end(1), "SECRET", 0.7))


FINDERS: dict[str, Finder] = {
    "EMAIL_ADDRESS": find_emails,
    "URL": find_urls,
    "IP_ADDRESS": find_ipv6,
    "DATE_TIME": find_month_dates,
    "CRYPTO": find_crypto,
    "SECRET": find_secrets,
}
