from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.notifications.receiver import Receiver
from tests.releases.conftest import system  # noqa: F401  (fixture: a registered system)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    try:
        yield r
    finally:
        r.stop()
