"""``hpo tokens create|list|revoke``: named API tokens in the read-model database (hashes only)."""

from __future__ import annotations

from rich.console import Console

from services.api.principal import Role
from services.api.tokens import name_problem, new_token, token_hash
from services.runtime.db.engine import create_engine_for
from services.runtime.db.migrate import current_revision
from services.runtime.db.tokens import TokenRepository
from services.runtime.errors import UserInputError
from services.runtime.settings import DatabaseSettings, load, redact_url


def _repository(database_url: str | None) -> TokenRepository:
    url = database_url or load(DatabaseSettings).url
    if current_revision(url) is None:
        raise UserInputError(f"the database {redact_url(url)} has no schema; run 'hpo db upgrade' first")
    return TokenRepository(create_engine_for(url))


def create(
    name: str,
    role: str,
    database_url: str | None,
    console: Console,
    *,
    max_trial_epochs: int | None = None,
    max_running_studies: int | None = None,
) -> None:
    problem = name_problem(name)
    if problem:
        raise UserInputError(f"token name {name!r}: {problem}")
    try:
        chosen = Role(role)
    except ValueError:
        raise UserInputError(f"--role {role}: choose one of {', '.join(r.value for r in Role)}") from None
    token = new_token()
    _repository(database_url).create(
        name,
        chosen.value,
        token_hash(token),
        max_trial_epochs=max_trial_epochs,
        max_running_studies=max_running_studies,
    )
    console.print(f"token [bold]{name}[/bold] ({chosen.value}) created; it is shown this once, store it now:")
    console.print(token, soft_wrap=True, highlight=False)


def show(database_url: str | None, console: Console) -> None:
    records = _repository(database_url).all()
    for record in records:
        quotas = []
        if record.max_trial_epochs is not None:
            quotas.append(f"trials x epochs <= {record.max_trial_epochs}")
        if record.max_running_studies is not None:
            quotas.append(f"running studies <= {record.max_running_studies}")
        state = f"revoked {record.revoked_at:%Y-%m-%d %H:%M}" if record.revoked_at else "active"
        console.print(
            f"{record.name:<24} {record.role:<7} {state:<24} created {record.created_at:%Y-%m-%d %H:%M}"
            f"  {'; '.join(quotas) or 'no quota'}"
        )
    console.print(f"{len(records)} tokens")


def revoke(name: str, database_url: str | None, console: Console) -> None:
    if not _repository(database_url).revoke(name):
        raise UserInputError(f"no active token named {name!r}; 'hpo tokens list' shows them")
    console.print(f"token {name} revoked: requests with it get 401 from now on")
