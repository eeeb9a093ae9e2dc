"""``hpo tokens create|list|revoke`` on a migrated read-model database: the token is printed once and only its
hash is stored, the list shows roles, quotas and revocations, and bad input is one line with exit 2."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from services.api.tokens import TOKEN_PREFIX, token_hash
from services.cli.main import EXIT_OK, EXIT_USAGE, main
from services.runtime.db.engine import create_engine_for
from services.runtime.db.tokens import TokenRepository


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'read-models.sqlite'}"
    assert main(["db", "upgrade", "--database-url", url]) == EXIT_OK
    return url


def test_a_created_token_is_shown_once_and_only_its_hash_is_stored(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["tokens", "create", "ci-bot", "--role", "admin", "--database-url", database_url]) == EXIT_OK
    printed = capsys.readouterr().out
    (token,) = re.findall(re.escape(TOKEN_PREFIX) + r"[A-Za-z0-9_-]{20,}", printed)
    (record,) = TokenRepository(create_engine_for(database_url)).all()
    assert (record.name, record.role) == ("ci-bot", "admin")
    assert record.token_hash == token_hash(token) and token not in record.token_hash
    assert TokenRepository(create_engine_for(database_url)).by_hash(token_hash(token)) is not None


def test_list_shows_roles_quotas_and_revocations(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    create = ["tokens", "create", "--database-url", database_url]
    assert main([*create, "alice", "--max-trial-epochs", "50", "--max-running-studies", "1"]) == EXIT_OK
    assert main([*create, "dashboard", "--role", "read"]) == EXIT_OK
    assert main(["tokens", "revoke", "dashboard", "--database-url", database_url]) == EXIT_OK
    capsys.readouterr()
    assert main(["tokens", "list", "--database-url", database_url]) == EXIT_OK
    listing = capsys.readouterr().out
    (alice,) = [line for line in listing.splitlines() if line.startswith("alice")]
    (dashboard,) = [line for line in listing.splitlines() if line.startswith("dashboard")]
    assert (
        "submit" in alice and "active" in alice and "trials x epochs <= 50" in alice and "running studies <= 1" in alice
    )
    assert "read" in dashboard and "revoked" in dashboard and "no quota" in dashboard
    assert "2 tokens" in listing
    assert TOKEN_PREFIX not in listing, "the list never shows a token"
    (revoked,) = [r for r in TokenRepository(create_engine_for(database_url)).all() if r.name == "dashboard"]
    assert revoked.revoked_at is not None


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["revoke", "nobody"], "no active token named 'nobody'; 'hpo tokens list' shows them"),
        (["create", "Bad Name!"], "token name 'Bad Name!'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    database_url: str, arguments: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["tokens", *arguments, "--database-url", database_url]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err


def test_a_database_without_the_schema_is_named_with_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    assert main(["tokens", "list", "--database-url", url]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "has no schema" in err and "run 'hpo db upgrade' first" in err and "Traceback" not in err
