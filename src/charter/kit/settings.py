"""Settings: environment variables with the CHARTER_ prefix, validated once at start-up."""

from __future__ import annotations

import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Server-side configuration. Every field maps to CHARTER_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="CHARTER_", extra="ignore")

    env: Literal["dev", "test", "prod"] = "dev"
    data_dir: Path = Path(".charter")
    database_url: str | None = None
    secret_key: SecretStr | None = None
    signing_key_path: Path | None = None
    checkpoint_every: int = 1000
    max_body_bytes: int = 10 * 1024 * 1024
    max_upload_bytes: int = 200 * 1024 * 1024
    sweep_interval_seconds: float = 30.0
    admin_password: SecretStr | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = None  # how people reach this server (links in notifications)
    # Internal webhook receivers an operator allows (comma-separated addresses, CIDR networks, host names);
    # every other loopback, link-local, private or metadata address is refused (docs/reliability.md).
    webhook_allow: str = ""
    personal_token_hours: int = 12
    evidence_max_bytes: int = 25 * 1024 * 1024
    evidence_allowed_types: list[str] = [
        "application/pdf",
        "text/plain",
        "text/markdown",
        "text/csv",
        "application/json",
        "image/png",
        "image/jpeg",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ]
    # Monitoring (docs/monitoring.md): raw points, then per-minute and per-hour roll-ups, each kept this long.
    metrics_raw_retention_days: int = 14
    metrics_minute_retention_days: int = 90
    metrics_hour_retention_days: int = 730
    metrics_max_future_seconds: int = 300  # a point stamped further ahead than this is refused (clock skew)
    metrics_max_batch_points: int = 10_000
    # Gate checks (docs/releases.md): reuse facts computed this recently while the ledger head is unchanged;
    # promotions always compute fresh facts. 0 disables the cache.
    gate_facts_ttl_seconds: float = 5.0
    # Threads that run synchronous endpoints at once (anyio's default is 40). More threads than a few per core
    # only fight over the GIL: measured on 2 cores, 16 clients, authenticated GETs (docs/decisions.md, D10).
    worker_threads: int = Field(default=6, ge=1, le=200)
    # Telemetry (docs/telemetry.md): what is stored of span content after the PII detectors ran on it, and how
    # long after a one-minute bucket ends its spans are rolled up into metrics.
    telemetry_content: Literal["keep", "redact", "mask", "drop"] = "redact"
    telemetry_grace_seconds: int = Field(default=60, ge=0, le=3600)
    # Red teaming (docs/redteam.md): a finding at or above this severity opens (or links) a risk.
    redteam_risk_severity: Literal["low", "medium", "high", "critical"] = "high"

    @field_validator("checkpoint_every", "personal_token_hours", "max_body_bytes", "max_upload_bytes")
    @classmethod
    def _positive(cls, v: int) -> int:
        if v < 1:
            raise ValueError("must be at least 1")
        return v

    @field_validator(
        "metrics_raw_retention_days",
        "metrics_minute_retention_days",
        "metrics_hour_retention_days",
        "metrics_max_batch_points",
    )
    @classmethod
    def _positive_metrics(cls, v: int) -> int:
        if v < 1:
            raise ValueError("must be at least 1")
        return v

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if not (v.startswith("sqlite") or v.startswith("postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        if v.startswith("postgresql://"):
            v = "postgresql+psycopg://" + v.removeprefix("postgresql://")
        return v

    @model_validator(mode="after")
    def _no_default_secrets_in_prod(self) -> Settings:
        if self.env == "prod" and self.secret_key is None:
            raise ValueError(
                "CHARTER_SECRET_KEY must be set when CHARTER_ENV=prod (at least 32 characters; generate one with "
                "python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        if self.secret_key is not None and len(self.secret_key.get_secret_value()) < 32:
            raise ValueError("CHARTER_SECRET_KEY must be at least 32 characters")
        return self

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'charter.db').resolve()}"

    @property
    def base_url(self) -> str:
        """The server's public address, for links in notifications (CHARTER_PUBLIC_URL)."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def ledger_key_path(self) -> Path:
        return self.signing_key_path or (self.data_dir / "ledger-signing-key.pem")

    @property
    def evidence_dir(self) -> Path:
        return self.data_dir / "evidence"

    @cached_property
    def secret(self) -> str:
        """The secret used to sign sessions and links.

        Outside prod, a random secret is generated on first use and kept in the data dir.
        """
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(48)
        path.write_text(value)
        path.chmod(0o600)
        return value
