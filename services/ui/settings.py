"""Control panel settings (``HPO_UI_*``, and ``HPO_API_TOKEN``), read once by the app's entry script."""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class UiSettings(BaseSettings):
    """Environment: ``HPO_UI_API_URL`` (where the API is), ``HPO_API_TOKEN`` (its token), refresh interval."""

    model_config = SettingsConfigDict(env_prefix="HPO_UI_", extra="ignore", populate_by_name=True)

    api_url: str = Field(
        default="http://127.0.0.1:8000",
        validation_alias=AliasChoices("HPO_UI_API_URL", "HPO_API_URL"),
        description="Base URL of the hpo API the panel talks to.",
    )
    api_token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("HPO_UI_API_TOKEN", "HPO_API_TOKEN"),
        description="The API token; when unset the panel asks for it once per browser session.",
    )
    refresh_seconds: float = Field(default=1.5, gt=0.2, le=60, description="How often the Live page refreshes.")
    max_trials: int = Field(default=20_000, ge=100, description="Trials the Explore page loads at most.")
