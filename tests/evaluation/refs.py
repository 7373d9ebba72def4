"""Reference-library calls shared by the statistics tests: NaN or a refusal to compute both mean "undefined"."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

TOL = 1e-9


def reference(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> float | None:
    """The reference value, or None when the library raises ValueError / ZeroDivisionError or returns NaN."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            value = float(fn(*args, **kwargs))
        except (ValueError, ZeroDivisionError):
            return None
    return None if math.isnan(value) else value


def assert_same(ours: float | None, ref: float | None, what: str = "") -> None:
    """Equal to 1e-9 where the reference defines a value; None exactly where it does not."""
    if ref is None:
        assert ours is None, f"{what}: reference undefined, ours {ours!r}"
    else:
        assert ours is not None, f"{what}: ours undefined, reference {ref!r}"
        assert abs(ours - ref) <= TOL, f"{what}: ours {ours!r} != reference {ref!r}"
