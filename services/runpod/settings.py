"""RunPod settings, built once at the entry point (environment variables ``HPO_RUNPOD_*``).

The bridge needs the broker, an object store for the models a worker returns inline, and the endpoint;
never the database.
"""

from __future__ import annotations

import os
import socket
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

RUNPOD_API = "https://api.runpod.ai/v2"


def _default_bridge_id() -> str:
    return f"runpod-bridge-{socket.gethostname()}-{os.getpid()}"


class BridgeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HPO_RUNPOD_", extra="ignore")

    endpoint_id: str = Field(default="", max_length=100, description="The serverless endpoint's id.")
    api_key: SecretStr = Field(default=SecretStr(""), description="A RunPod API key (Settings > API Keys).")
    endpoint_url: str = Field(
        default=RUNPOD_API, description="Base URL of the serverless API (the SDK's local test server: its URL)."
    )
    api_flavor: Literal["runpod", "local-test-server"] = Field(
        default="runpod",
        description="'local-test-server': the SDK's --rp_serve_api server (POST /run and /stream, no endpoint id, "
        "no cancel); 'runpod': the documented /v2/{endpoint}/... API.",
    )
    bridge_id: str = Field(default_factory=_default_bridge_id, description="Unique per bridge process.")
    concurrency: int = Field(default=2, ge=1, le=64, description="Jobs on the endpoint at once, at most.")
    execution_timeout_seconds: float = Field(
        default=600.0, gt=0, description="The endpoint's execution timeout (also sent as each job's policy)."
    )
    seconds_per_epoch: float = Field(
        default=30.0,
        gt=0,
        description="Estimated GPU seconds per epoch, until measured: a trial whose max_epochs cannot fit "
        "the execution timeout is refused before it starts.",
    )
    gpu_price_per_hour: float = Field(
        default=0.0, ge=0, description="What the endpoint's GPU costs per hour (USD), for each trial's cost_usd."
    )
    poll_seconds: float = Field(default=1.0, gt=0, description="Seconds between polls of a running job.")
    heartbeat_seconds: float = Field(default=3.0, gt=0, description="Seconds between a running trial's heartbeats.")
    stall_seconds: float = Field(
        default=900.0, gt=0, description="A job with no progress for this long counts as a lost worker."
    )
    outage_seconds: float = Field(
        default=120.0, gt=0, description="How long the endpoint may answer errors before the trial is given up."
    )
    request_timeout_seconds: float = Field(default=30.0, gt=0, description="Timeout of one API request.")
    development: bool = Field(default=False, validation_alias="HPO_DEVELOPMENT")

    @model_validator(mode="after")
    def _needs_an_endpoint(self) -> Self:
        if not self.endpoint_id and self.api_flavor == "runpod":
            raise ValueError("HPO_RUNPOD_ENDPOINT_ID is empty; set it to the serverless endpoint's id")
        if not self.api_key.get_secret_value() and self.api_flavor == "runpod":
            raise ValueError("HPO_RUNPOD_API_KEY is empty; create a key in RunPod's Settings > API Keys and set it")
        return self
