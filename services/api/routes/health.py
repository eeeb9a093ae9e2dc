"""``/health``, ``/modes``, ``/objectives``: what the service is and which choices a study has."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from contracts.enums import HEALTH_ONLY_OBJECTIVES, Mode, Objective
from contracts.study import StudyConfig
from services.api.auth import reader
from services.api.context import ContextDep
from services.api.models import Choice, Service
from services.api.routes.common import errors

router = APIRouter(tags=["service"])

VERSION = "0.1.0"
MODE_TEXT = {
    Mode.SIMPLE: "optimize the objective alone (health is still measured and reported)",
    Mode.HEALTH: "optimize (1 - health_weight) * objective_score + health_weight * overall_health",
    Mode.PARETO: "optimize objective_score and overall_health as two objectives; recommends the front's knee",
}
OBJECTIVE_TEXT = {
    Objective.VAL_ACCURACY: "validation accuracy",
    Objective.ACCURACY: "training accuracy",
    Objective.TRAINING_TIME: "training time, minimized (score 1 / (1 + seconds / 60))",
    Objective.PARAMETER_EFFICIENCY: "validation accuracy per parameter (val_acc / (1 + log10(1 + params / 1e5)))",
    Objective.MEMORY_EFFICIENCY: "validation accuracy per memory (val_acc / (1 + log10(1 + memory_mb / 10)))",
    Objective.OVERALL_HEALTH: "overall health, the weighted mean of the health components",
    Objective.NEURON_UTILIZATION: "neuron utilization health component (1 - dead/saturated fraction)",
    Objective.TRAINING_STABILITY: "training stability health component (smooth, monotone-ish loss)",
}


@router.get("/health", response_model=Service, responses={503: {"model": Service, "description": "Degraded."}})
async def health(ctx: ContextDep) -> Service | JSONResponse:
    """Liveness and readiness: the service answers and its database is reachable (503 when not)."""
    database: Literal["ok", "unavailable"] = "ok"
    try:
        await ctx.db(ctx.repository.count_studies)
    except Exception:
        database = "unavailable"
    body = Service(
        status="ok" if database == "ok" else "degraded",
        database=database,
        version=VERSION,
        auth="token" if ctx.settings.auth_enabled else "disabled",
        reads_protected=not ctx.settings.open_reads,
    )
    if database != "ok":
        return JSONResponse(body.model_dump(), status_code=503)
    return body


@router.get("/modes", response_model=list[Choice], dependencies=[Depends(reader)], responses=errors(401))
async def modes() -> list[Choice]:
    """How a study scores its trials."""
    default = StudyConfig.model_fields["mode"].default
    return [Choice(value=m.value, description=MODE_TEXT[m], default=m == default) for m in Mode]


@router.get("/objectives", response_model=list[Choice], dependencies=[Depends(reader)], responses=errors(401))
async def objectives() -> list[Choice]:
    """What a study can optimize; health objectives are valid in health mode only."""
    default = StudyConfig.model_fields["optimize_for"].default
    return [
        Choice(
            value=o.value,
            description=OBJECTIVE_TEXT[o],
            default=o == default,
            modes=[Mode.HEALTH.value, Mode.PARETO.value] if o in HEALTH_ONLY_OBJECTIVES else [m.value for m in Mode],
        )
        for o in Objective
    ]
