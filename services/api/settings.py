"""API settings (``HPO_API_*``), built once at the entry point; refuse default secrets outside development."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.runtime.settings import load

MIN_TOKEN_LENGTH = 16
KNOWN_DEFAULT_TOKENS = frozenset(
    {"changeme", "change-me", "changethis", "change_this", "secret", "token", "password", "default", "admin", "hpo"}
    | {"test", "dev", "development", "api-token", "hpo-token", "changeme123", "secret-token", "0" * 32}
)


class ApiSettings(BaseSettings):
    """Environment: ``HPO_API_TOKEN``, ``HPO_API_DEVELOPMENT``, ``HPO_API_PROTECT_READS``, ``HPO_API_PORT``..."""

    model_config = SettingsConfigDict(env_prefix="HPO_API_", extra="ignore", populate_by_name=True)

    token: SecretStr | None = Field(
        default=None,
        description=f"Bearer token for mutating and download endpoints (at least {MIN_TOKEN_LENGTH} characters).",
    )
    development: bool = Field(
        default=False,
        validation_alias=AliasChoices("HPO_API_DEVELOPMENT", "HPO_DEVELOPMENT"),
        description="Allow no token or a well-known one (never on a shared machine); HPO_DEVELOPMENT too.",
    )
    protect_reads: bool = Field(default=False, description="Require the token on read endpoints too.")
    host: str = Field(default="127.0.0.1", description="Where the HTTP API listens.")
    port: int = Field(default=8000, ge=0, le=65535, description="0 picks a free port.")
    data_dir: Path | None = Field(default=None, description="Folder holding the datasets' original files.")
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, description="Larger request bodies get 413.")
    stream_queue_size: int = Field(
        default=256, ge=1, le=100_000, description="Events buffered per live-stream client; the oldest drop first."
    )
    stream_keepalive_seconds: float = Field(default=15.0, gt=0, description="SSE comment sent when idle.")

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Self:
        if self.development:
            return self
        problem = token_problem(self.token)
        if problem:
            raise ValueError(f"{problem}; set HPO_API_TOKEN to a long random secret (or HPO_API_DEVELOPMENT=true)")
        return self

    @property
    def auth_enabled(self) -> bool:
        """False only in development mode without a token: every endpoint is then open."""
        return self.token is not None and bool(self.token.get_secret_value())


def token_problem(token: SecretStr | None) -> str | None:
    """Why ``token`` is unfit outside development, or None when it is fine."""
    value = token.get_secret_value() if token is not None else ""
    if not value:
        return "HPO_API_TOKEN is not set"
    if value.strip().lower() in KNOWN_DEFAULT_TOKENS:
        return "HPO_API_TOKEN is a well-known default"
    if len(value) < MIN_TOKEN_LENGTH:
        return f"HPO_API_TOKEN is shorter than {MIN_TOKEN_LENGTH} characters"
    return None


def load_settings(**overrides: Any) -> ApiSettings:
    """Settings from the environment; an unsafe configuration is a one-line ``UserInputError``."""
    return load(ApiSettings, prefix="HPO_API_", **overrides)
