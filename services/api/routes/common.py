"""Error responses documented on every route (so clients and schema checks know them)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path

from services.api.models import ErrorOut

JobId = Annotated[str, Path(min_length=1, max_length=128, description="The job (study) id returned by POST /optimize.")]


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {
        400: "Malformed request.",
        401: "Missing or wrong bearer token.",
        403: "The token's role or quota does not allow it.",
        404: "Unknown job or nothing to return yet.",
        409: "The job is already finished.",
        413: "Request body too large.",
        422: "Invalid field; the detail names it and the allowed values.",
        429: "Too many wrong tokens from this address, or the token's running-studies quota is used up.",
        503: "A dependency (database, broker, stream) is unavailable.",
    }
    return {code: {"model": ErrorOut, "description": text[code]} for code in codes}
