"""The CLI-against-the-API fixture is the risk tests' (one definition)."""

from tests.risk.conftest import CliAgainstApi, cli

__all__ = ["CliAgainstApi", "cli"]
