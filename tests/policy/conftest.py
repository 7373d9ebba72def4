"""Policy tests share the release fixtures (a system, release helpers, the CLI against a server)."""

from tests.releases.conftest import cli, system  # noqa: F401  (fixtures)
