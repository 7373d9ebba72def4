"""Masking: keep a few characters of a value so a person can recognise it, hide the rest.

Used for the audit's examples and the guard's ``mask`` action. At most a quarter of a value's letters and digits
stay visible (none when it has fewer than 8), separators are kept, and the result never equals the value.
"""

from __future__ import annotations

MASK = "*"
#: entities whose head is more telling than their tail (a token's kind: "AKIA", "ghp_", "sk_live_")
_KEEP_HEAD = frozenset({"SECRET", "CRYPTO", "URL"})


def mask_value(value: str, entity: str = "", *, keep: int = 4) -> str:
    """``4111 1111 1111 1111`` -> ``**** **** **** 1111``; ``john.smith@example.com`` -> ``j*********@*******.com``."""
    if entity == "EMAIL_ADDRESS" and "@" in value:
        masked_email = _mask_email(value)
        return masked_email if masked_email != value else MASK * len(value)
    characters = sum(ch.isalnum() for ch in value)
    visible = min(keep, characters // 4) if characters >= 8 else 0
    chars = list(value)
    order = range(len(chars)) if entity in _KEEP_HEAD else range(len(chars) - 1, -1, -1)
    shown = 0
    for i in order:
        if not chars[i].isalnum():
            continue
        if shown < visible:
            shown += 1
            continue
        chars[i] = MASK
    masked = "".join(chars)
    return masked if masked != value else MASK * max(len(value), 1)


def _mask_email(value: str) -> str:
    local, _, domain = value.rpartition("@")
    head, dot, tld = domain.rpartition(".")
    masked_local = (local[:1] + MASK * (len(local) - 1)) if len(local) >= 4 else MASK * len(local)
    masked_domain = (MASK * len(head) + dot + tld) if dot else MASK * len(domain)
    return f"{masked_local}@{masked_domain}"
