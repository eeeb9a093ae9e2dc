"""Settings with one shape: every served service refuses well-known secrets outside development, with a
one-line message naming the variable; secrets never show in a repr; one database variable."""

from __future__ import annotations

import asyncio

import pytest

from services.cli.serve import SERVICES, starter_for
from services.runtime.errors import UserInputError
from services.runtime.settings import (
    BrokerSettings,
    DatabaseSettings,
    ObjectStoreSettings,
    load,
    redact_url,
)

SAFE_BROKER = "amqp://hpo:Vq3-long-broker-secret@rabbit:5672/"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in (
        "HPO_DEVELOPMENT",
        "HPO_API_DEVELOPMENT",
        "HPO_AMQP_URL",
        "HPO_S3_ENDPOINT",
        "HPO_S3_ACCESS_KEY",
        "HPO_S3_SECRET_KEY",
        "HPO_DATABASE_URL",
        "HPO_REPORTER_DATABASE_URL",
        "HPO_API_DATABASE_URL",
    ):
        monkeypatch.delenv(variable, raising=False)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("amqp://guest:guest@127.0.0.1:5672/", "uses RabbitMQ's well-known guest password"),
        ("amqp://rabbit:5672/", "has no password"),
    ],
)
def test_the_broker_url_must_carry_a_password_of_its_own(url: str, why: str) -> None:
    with pytest.raises(UserInputError, match=f"refuses to start: HPO_AMQP_URL {why}; set HPO_AMQP_URL="):
        load(BrokerSettings, amqp_url=url)
    assert load(BrokerSettings, amqp_url=url, development=True).development


def test_development_mode_comes_from_hpo_development(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HPO_DEVELOPMENT", "true")
    assert load(BrokerSettings).development and load(ObjectStoreSettings, s3_endpoint="s3:9000").development


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({}, "HPO_S3_ACCESS_KEY is empty while HPO_S3_ENDPOINT is set"),
        ({"s3_access_key": "hpo-access"}, "HPO_S3_SECRET_KEY is empty"),
        ({"s3_access_key": "minioadmin", "s3_secret_key": "minioadmin"}, "HPO_S3_ACCESS_KEY is a well-known default"),
    ],
)
def test_an_s3_endpoint_needs_keys_of_its_own(keys: dict[str, str], message: str) -> None:
    with pytest.raises(UserInputError, match=message):
        load(ObjectStoreSettings, s3_endpoint="s3.example:9000", **keys)


def test_a_local_object_store_needs_no_keys() -> None:
    assert load(ObjectStoreSettings).s3_endpoint is None


def test_secrets_never_show_in_a_repr() -> None:
    broker = load(BrokerSettings, amqp_url=SAFE_BROKER)
    store = load(ObjectStoreSettings, s3_endpoint="s3:9000", s3_access_key="hpo-key-id", s3_secret_key="s3cr3t-value")
    database = load(DatabaseSettings, database_url="postgresql+psycopg://hpo:db-secret@db/hpo")
    text = repr(broker) + repr(store) + repr(database)
    assert "Vq3-long-broker-secret" not in text and "s3cr3t-value" not in text and "db-secret" not in text
    assert redact_url(broker.amqp_url) == "amqp://hpo:***@rabbit:5672/"


def test_one_database_variable_with_the_old_names_accepted_and_warned(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load(DatabaseSettings).url.startswith("sqlite:///")
    monkeypatch.setenv("HPO_API_DATABASE_URL", "postgresql+psycopg://hpo@old/hpo")
    with pytest.warns(DeprecationWarning, match="HPO_API_DATABASE_URL is deprecated; set HPO_DATABASE_URL"):
        assert load(DatabaseSettings).url == "postgresql+psycopg://hpo@old/hpo"
    monkeypatch.setenv("HPO_DATABASE_URL", "postgresql+psycopg://hpo@new/hpo")
    assert load(DatabaseSettings).url == "postgresql+psycopg://hpo@new/hpo"


@pytest.mark.parametrize("service", SERVICES)
def test_each_served_service_refuses_a_well_known_broker_password_in_one_line(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``hpo serve <service>`` reads its settings before it connects anywhere: a refused setting is one line."""
    from services.cli.serve import serve

    monkeypatch.setenv("HPO_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    monkeypatch.setenv("HPO_API_TOKEN", "a-long-enough-random-token-123")
    monkeypatch.setenv("HPO_RUNPOD_ENDPOINT_ID", "ep123")  # what the RunPod bridge needs of its own
    monkeypatch.setenv("HPO_RUNPOD_API_KEY", "rp-test-key-0123456789")
    with pytest.raises(UserInputError, match="refuses to start: HPO_AMQP_URL uses RabbitMQ's well-known guest"):
        asyncio.run(serve(service))


@pytest.mark.parametrize("service", ["trainer", "reporter", "api"])
def test_services_with_an_object_store_refuse_an_endpoint_without_keys(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HPO_S3_ENDPOINT", "s3.example:9000")
    monkeypatch.setenv("HPO_API_TOKEN", "a-long-enough-random-token-123")
    with pytest.raises(UserInputError, match="HPO_S3_ACCESS_KEY is empty while HPO_S3_ENDPOINT is set"):
        starter_for(service)
