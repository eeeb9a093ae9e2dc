"""``/datasets`` and ``/datasets/{name}/preview``."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query

from contracts.enums import DatasetName
from services.api.auth import reader
from services.api.context import ContextDep
from services.api.datasets import MAX_PREVIEW, DatasetUnavailable
from services.api.models import Dataset, DatasetPreview
from services.api.routes.common import errors

router = APIRouter(tags=["datasets"], dependencies=[Depends(reader)])


@router.get("/datasets", response_model=list[Dataset], responses=errors(401))
async def datasets(ctx: ContextDep) -> list[Dataset]:
    """Every dataset: modality, classes, input shape, sample count and whether its files are present."""
    return await asyncio.to_thread(ctx.datasets.describe)


@router.get("/datasets/{name}/preview", response_model=DatasetPreview, responses=errors(401, 404))
async def preview(
    name: DatasetName,
    ctx: ContextDep,
    count: Annotated[int, Query(ge=1, le=MAX_PREVIEW, description="How many samples.")] = 6,
) -> DatasetPreview:
    """A few samples, one class after another: base64 PNG images or the first words of texts."""
    try:
        return await ctx.datasets.preview(name, count)
    except DatasetUnavailable as exc:
        raise HTTPException(404, str(exc)) from None
