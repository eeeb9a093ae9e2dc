"""API settings (``HPO_API_*``), built once at the entry point; refuse default secrets outside development."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from services.api.stream import IDLE_SECONDS
from services.api.tokens import MIN_TOKEN_LENGTH, token_problem
from services.runtime.settings import load

LOCAL_HOSTS = ["localhost", "127.0.0.1", "::1"]


class ApiSettings(BaseSettings):
    """Environment: ``HPO_API_TOKEN``, ``HPO_API_DEVELOPMENT``, ``HPO_API_OPEN_READS``, ``HPO_API_PORT``..."""

    model_config = SettingsConfigDict(env_prefix="HPO_API_", extra="ignore", populate_by_name=True)

    token: SecretStr | None = Field(
        default=None,
        description=f"The admin token (at least {MIN_TOKEN_LENGTH} characters); named tokens: hpo tokens create.",
    )
    development: bool = Field(
        default=False,
        validation_alias=AliasChoices("HPO_API_DEVELOPMENT", "HPO_DEVELOPMENT"),
        description="Allow no token or a well-known one (never on a shared machine); HPO_DEVELOPMENT too.",
    )
    open_reads: bool = Field(
        default=False, description="Let callers without a token read every job (a read-only public dashboard)."
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(LOCAL_HOSTS),
        description="Host headers the API answers (comma-separated; '*' for any): a web page cannot reach a laptop's "
        "API through DNS rebinding. Add the names clients use, e.g. hpo.example.com.",
    )
    failed_auth_limit: int = Field(
        default=10, ge=1, description="Wrong tokens per client address and minute before it gets 429."
    )

    host: str = Field(default="127.0.0.1", description="Where the HTTP API listens.")
    port: int = Field(default=8000, ge=0, le=65535, description="0 picks a free port.")
    data_dir: Path | None = Field(default=None, description="Folder holding the datasets' original files.")
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, description="Larger request bodies get 413.")
    stream_queue_size: int = Field(
        default=256, ge=1, le=100_000, description="Events buffered per live-stream client; the oldest drop first."
    )
    stream_keepalive_seconds: float = Field(default=15.0, gt=0, description="SSE comment sent when idle.")
    stream_idle_seconds: float = Field(
        default=IDLE_SECONDS,
        ge=0,
        description="How long the live-stream hub stays subscribed to the bus after its last client left "
        "(a client reconnecting within it replays what it missed).",
    )
    counts_cache_seconds: float = Field(
        default=1.0, ge=0, le=60, description="How long a large study's trial counts per state are reused."
    )

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str) and not value.lstrip().startswith("["):
            return [host.strip() for host in value.split(",") if host.strip()]
        return value

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


def load_settings(**overrides: Any) -> ApiSettings:
    """Settings from the environment; an unsafe configuration is a one-line ``UserInputError``."""
    return load(ApiSettings, prefix="HPO_API_", **overrides)
