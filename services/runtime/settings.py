"""Infrastructure settings shared by every service process (environment ``HPO_*`` or an env file).

A trainer needs only the broker and the object store; the database URL is read by the services
that own read models or Optuna storage (scheduler, reporter, api), never by trainers.

Every class here is built once, at the entry point, with ``load``: outside development mode
(``HPO_DEVELOPMENT=true``) a service refuses RabbitMQ's well-known ``guest`` password and an S3
endpoint without keys (or with MinIO's default ones), with a one-line message naming the variable
to set. Secrets are ``SecretStr``: no ``repr``, log line or error message shows them.
The embedded run (``hpo optimize`` without ``--url``) uses none of these and needs no settings.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any, Self, TypeVar
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.runtime.errors import UserInputError

log = logging.getLogger(__name__)

S = TypeVar("S", bound=BaseSettings)

WELL_KNOWN_BROKER_PASSWORDS = frozenset({"guest"})
WELL_KNOWN_S3_KEYS = frozenset({"minioadmin", "minio", "minio123", "admin", "password", "secret", "changeme"})
DEFAULT_DATABASE_URL = "sqlite:///optimization_results/.hpo/read_models.sqlite"
LEGACY_DATABASE_VARIABLES = ("HPO_REPORTER_DATABASE_URL", "HPO_API_DATABASE_URL")


class BrokerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HPO_", extra="ignore", populate_by_name=True)

    amqp_url: SecretStr = Field(
        default=SecretStr("amqp://guest:guest@127.0.0.1:5672/"),
        description="RabbitMQ URL with a user of its own (the guest user is refused outside development).",
    )
    exchange: str = Field(default="hpo.events", description="Topic exchange every event goes through.")
    retry_backoff_seconds: float = Field(
        default=1.0, ge=0, description="First retry delay of a failed handler; doubles per delivery (max 15 s)."
    )
    queue_prefix: str = Field(default="", description="Put before every queue name (deployments sharing a broker).")
    heartbeat_seconds: int = Field(
        default=5,
        ge=1,
        le=600,
        description="AMQP heartbeat: the broker gives a silent process's unacknowledged messages (a trial it "
        "held but had not started) to another consumer after about two of these.",
    )
    development: bool = Field(
        default=False,
        validation_alias="HPO_DEVELOPMENT",
        description="Accept well-known passwords and missing keys (never on a shared machine).",
    )

    @model_validator(mode="after")
    def _refuse_well_known_password(self) -> Self:
        password = urlsplit(self.amqp_url.get_secret_value()).password
        if not self.development and (password is None or password in WELL_KNOWN_BROKER_PASSWORDS):
            what = "has no password" if password is None else "uses RabbitMQ's well-known guest password"
            raise ValueError(f"HPO_AMQP_URL {what}; set HPO_AMQP_URL=amqp://USER:PASSWORD@HOST:5672/")
        return self


class ObjectStoreSettings(BaseSettings):
    """S3/MinIO when ``s3_endpoint`` is set, else a local folder (single machine only)."""

    model_config = SettingsConfigDict(env_prefix="HPO_", extra="ignore", populate_by_name=True)

    s3_endpoint: str | None = Field(default=None, description="host:port of the S3/MinIO endpoint.")
    s3_access_key: SecretStr = SecretStr("")
    s3_secret_key: SecretStr = SecretStr("")
    s3_bucket: str = Field(default="hpo-artifacts", description="Created if missing.")
    s3_secure: bool = Field(default=False, description="Use HTTPS.")
    artifacts_dir: Path = Field(default=Path("optimization_results/.hpo/artifacts"))
    development: bool = Field(
        default=False,
        validation_alias="HPO_DEVELOPMENT",
        description="Accept well-known passwords and missing keys (never on a shared machine).",
    )

    @model_validator(mode="after")
    def _refuse_missing_keys(self) -> Self:
        if self.development or not self.s3_endpoint:
            return self
        for variable, key in (("HPO_S3_ACCESS_KEY", self.s3_access_key), ("HPO_S3_SECRET_KEY", self.s3_secret_key)):
            value = key.get_secret_value()
            if not value:
                raise ValueError(f"{variable} is empty while HPO_S3_ENDPOINT is set; set {variable} to the store's key")
            if value.lower() in WELL_KNOWN_S3_KEYS:
                raise ValueError(f"{variable} is a well-known default; set {variable} to a key of its own")
        return self


class DatabaseSettings(BaseSettings):
    """The read-model database the reporter writes and the API reads: ``HPO_DATABASE_URL``.

    ``HPO_REPORTER_DATABASE_URL`` and ``HPO_API_DATABASE_URL`` (the names before there was one) are
    still read, with a warning, when ``HPO_DATABASE_URL`` is not set."""

    model_config = SettingsConfigDict(env_prefix="HPO_", extra="ignore", populate_by_name=True)

    database_url: SecretStr | None = Field(
        default=None, description="SQLite file or postgresql+psycopg://USER:PASSWORD@HOST/DB."
    )
    reporter_database_url: SecretStr | None = Field(default=None, validation_alias="HPO_REPORTER_DATABASE_URL")
    api_database_url: SecretStr | None = Field(default=None, validation_alias="HPO_API_DATABASE_URL")

    @property
    def url(self) -> str:
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        for variable, legacy in zip(
            LEGACY_DATABASE_VARIABLES, (self.reporter_database_url, self.api_database_url), strict=True
        ):
            if legacy is not None:
                message = f"{variable} is deprecated; set HPO_DATABASE_URL instead"
                warnings.warn(message, DeprecationWarning, stacklevel=2)
                log.warning(message)
                return legacy.get_secret_value()
        return DEFAULT_DATABASE_URL


class ProbeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HPO_", extra="ignore")

    http_host: str = Field(
        default="127.0.0.1",
        description="Where /healthz, /readyz and /metrics listen; containers set 0.0.0.0 for probes and scrapes.",
    )
    http_port: int = Field(default=9100, ge=0, le=65535, description="0 picks a free port.")


def load(settings_class: type[S], prefix: str = "HPO_", **overrides: Any) -> S:
    """Build settings from the environment; a refused or invalid value is a one-line ``UserInputError``
    naming the variable (``prefix`` + field name) and how to fix it."""
    try:
        return settings_class(**overrides)
    except ValidationError as exc:
        problems = "; ".join(_problem(error, prefix) for error in exc.errors())
        raise UserInputError(f"the service refuses to start: {problems}") from None


def _problem(error: object, prefix: str) -> str:
    if not isinstance(error, dict):
        return str(error)
    text = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    where = ".".join(str(part) for part in error.get("loc", ()))
    if not where or text.startswith(prefix):
        return text
    return f"{prefix}{where.upper()}: {text}"


def redact_url(url: str | SecretStr) -> str:
    """A URL without its password, for logs and errors."""
    raw = url.get_secret_value() if isinstance(url, SecretStr) else url
    try:
        parts = urlsplit(raw)
    except ValueError:
        return "<unparseable URL>"
    if parts.password is None:
        return raw
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))
