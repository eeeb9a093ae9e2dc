"""Infrastructure settings shared by every service process (environment ``HPO_*`` or an env file).

A trainer needs only the broker and the object store; the database URL is read by the services
that own read models or Optuna storage (scheduler, reporter), never by trainers.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class BrokerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HPO_", extra="ignore")

    amqp_url: str = Field(default="amqp://guest:guest@127.0.0.1:5672/", description="RabbitMQ URL.")
    exchange: str = Field(default="hpo.events", description="Topic exchange every event goes through.")
    retry_backoff_seconds: float = Field(
        default=1.0, ge=0, description="First retry delay of a failed handler; doubles per delivery (max 15 s)."
    )
    queue_prefix: str = Field(default="", description="Put before every queue name (deployments sharing a broker).")


class ObjectStoreSettings(BaseSettings):
    """S3/MinIO when ``s3_endpoint`` is set, else a local folder (single machine only)."""

    model_config = SettingsConfigDict(env_prefix="HPO_", extra="ignore")

    s3_endpoint: str | None = Field(default=None, description="host:port of the S3/MinIO endpoint.")
    s3_access_key: str = ""
    s3_secret_key: str = ""
    s3_bucket: str = Field(default="hpo-artifacts", description="Created if missing.")
    s3_secure: bool = Field(default=False, description="Use HTTPS.")
    artifacts_dir: Path = Field(default=Path("optimization_results/.hpo/artifacts"))


class ProbeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HPO_", extra="ignore")

    http_host: str = Field(default="0.0.0.0", description="Where /healthz, /readyz and /metrics listen.")
    http_port: int = Field(default=9100, ge=0, le=65535, description="0 picks a free port.")
