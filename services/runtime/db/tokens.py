"""Named API tokens in the read-model database: only a SHA-256 of each secret is kept.

The API looks a presented token up by its hash; ``hpo tokens create/list/revoke`` manage them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from services.runtime.db.records import TokenRecord
from services.runtime.db.repository import RepositoryError
from services.runtime.db.rows import utc
from services.runtime.db.schema import api_tokens
from services.runtime.errors import UserInputError


class TokenRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create(
        self,
        name: str,
        role: str,
        token_hash: str,
        *,
        max_trial_epochs: int | None = None,
        max_running_studies: int | None = None,
    ) -> TokenRecord:
        record = TokenRecord(
            name=name,
            role=role,
            token_hash=token_hash,
            created_at=datetime.now(UTC),
            max_trial_epochs=max_trial_epochs,
            max_running_studies=max_running_studies,
        )
        values = {
            "name": name,
            "role": role,
            "token_hash": token_hash,
            "created_at": record.created_at,
            "max_trial_epochs": max_trial_epochs,
            "max_running_studies": max_running_studies,
        }
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(api_tokens).values(values))
        except IntegrityError:
            raise UserInputError(f"a token named {name!r} exists already; revoke it or pick another name") from None
        except SQLAlchemyError as exc:
            raise RepositoryError(f"could not store the token: {type(exc).__name__}") from exc
        return record

    def by_hash(self, token_hash: str) -> TokenRecord | None:
        """The token with this hash, unless it was revoked."""
        query = select(api_tokens).where(api_tokens.c.token_hash == token_hash, api_tokens.c.revoked_at.is_(None))
        try:
            with self._engine.connect() as conn:
                row = conn.execute(query).mappings().first()
        except SQLAlchemyError as exc:
            raise RepositoryError(f"could not read the tokens: {type(exc).__name__}") from exc
        return _record(row) if row is not None else None

    def all(self) -> list[TokenRecord]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(api_tokens).order_by(api_tokens.c.created_at)).mappings().all()
        return [_record(row) for row in rows]

    def revoke(self, name: str) -> bool:
        """True when a live token of that name was revoked."""
        stmt = (
            update(api_tokens)
            .where(api_tokens.c.name == name, api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
        with self._engine.begin() as conn:
            return conn.execute(stmt).rowcount > 0


def _record(row: RowMapping) -> TokenRecord:
    return TokenRecord(
        name=row["name"],
        role=row["role"],
        token_hash=row["token_hash"],
        created_at=utc(row["created_at"]) or datetime.now(UTC),
        revoked_at=utc(row["revoked_at"]),
        max_trial_epochs=row["max_trial_epochs"],
        max_running_studies=row["max_running_studies"],
    )
