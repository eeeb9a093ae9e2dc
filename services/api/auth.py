"""Bearer-token checks: always on mutating and download endpoints, on reads when configured.

Wrong or missing token: 401 with ``WWW-Authenticate: Bearer``. Tokens are compared in constant
time. In development mode without a token every endpoint is open.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.api.context import ApiContext, context

bearer = HTTPBearer(auto_error=False, description="The HPO_API_TOKEN secret: `Authorization: Bearer <token>`.")
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="hpo"'}


def check(ctx: ApiContext, credentials: HTTPAuthorizationCredentials | None) -> None:
    settings = ctx.settings
    if not settings.auth_enabled or settings.token is None:
        return
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise HTTPException(401, "missing bearer token: send 'Authorization: Bearer <token>'", headers=_CHALLENGE)
    given = credentials.credentials.encode("utf-8", "surrogateescape")
    expected = settings.token.get_secret_value().encode("utf-8")
    if not hmac.compare_digest(given, expected):
        raise HTTPException(
            401, "invalid bearer token", headers={"WWW-Authenticate": 'Bearer realm="hpo", error="invalid_token"'}
        )


def require_token(
    request: Request,
    credentials: BearerDep,
) -> None:
    """Dependency of mutating and download endpoints."""
    check(context(request), credentials)


def require_read(
    request: Request,
    credentials: BearerDep,
) -> None:
    """Dependency of read endpoints: checks the token only with ``HPO_API_PROTECT_READS=true``."""
    ctx = context(request)
    if ctx.settings.protect_reads:
        check(ctx, credentials)
