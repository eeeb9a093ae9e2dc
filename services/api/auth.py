"""Who is calling: bearer tokens with roles, owners of jobs, and a brake on guessing.

- The token in ``HPO_API_TOKEN`` is the **admin** token (the single-token setup keeps working).
- Named tokens (``hpo tokens create NAME --role read|submit|admin``) are stored as SHA-256 hashes in
  the read-model database. ``read`` sees every job and downloads results; ``submit`` starts jobs and
  sees, stops and downloads its own only (another owner's job is a 404); ``admin`` does everything.
- Reads need a token too unless the server runs with ``HPO_API_OPEN_READS=true`` (then an anonymous
  caller reads like a ``read`` token). In development mode without any token everything is open.
- A client that presents ``HPO_API_FAILED_AUTH_LIMIT`` wrong tokens within a minute gets 429 until
  the minute has passed. Tokens are compared in constant time; a token never appears in a log line.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from services.api.context import ApiContext, context
from services.api.principal import ANONYMOUS_READER, OPEN_ADMIN, Principal, Role
from services.api.tokens import token_hash

bearer = HTTPBearer(auto_error=False, description="An API token: `Authorization: Bearer <token>`.")
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="hpo"'}


async def authenticate(
    ctx: ApiContext, request: HTTPConnection, credentials: HTTPAuthorizationCredentials | None
) -> Principal:
    """The principal a bearer token stands for; 401 without a valid one, 429 after too many wrong ones."""
    settings = ctx.settings
    if not settings.auth_enabled:
        return OPEN_ADMIN
    client = request.client.host if request.client else "unknown"
    wait = ctx.failed_attempts.blocked_for(client)
    if wait > 0:
        raise HTTPException(
            429, f"too many wrong tokens; retry in {wait:.0f} s", headers={"Retry-After": f"{wait:.0f}"}
        )
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials.strip():
        raise HTTPException(401, "missing bearer token: send 'Authorization: Bearer <token>'", headers=_CHALLENGE)
    given = credentials.credentials.strip()
    if settings.token is not None and hmac.compare_digest(
        given.encode("utf-8", "surrogateescape"), settings.token.get_secret_value().strip().encode("utf-8")
    ):
        return Principal(Role.ADMIN)
    if ctx.tokens is not None:
        record = await ctx.db(ctx.tokens.by_hash, token_hash(given))
        if record is not None:
            return Principal(Role(record.role), record.name, record.max_trial_epochs, record.max_running_studies)
    ctx.failed_attempts.record(client)
    raise HTTPException(
        401, "invalid bearer token", headers={"WWW-Authenticate": 'Bearer realm="hpo", error="invalid_token"'}
    )


async def reader(request: Request, credentials: BearerDep) -> Principal:
    """Dependency of read endpoints: any valid token, or nobody when reads are open."""
    ctx = context(request)
    if ctx.settings.open_reads and credentials is None:
        return ANONYMOUS_READER
    return await authenticate(ctx, request, credentials)


async def submitter(request: Request, credentials: BearerDep) -> Principal:
    """Dependency of endpoints that start or stop jobs: a ``submit`` or ``admin`` token."""
    principal = await authenticate(context(request), request, credentials)
    if principal.role is Role.READ:
        raise HTTPException(403, "this token may only read; starting or stopping jobs needs a submit token")
    return principal


ReaderDep = Annotated[Principal, Depends(reader)]
SubmitterDep = Annotated[Principal, Depends(submitter)]
