"""/v1/admin: maintenance on demand (admin keys only; 403 for others)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, StrictFloat

from ..durations import parse_duration
from ..errors import ValidationFailed
from ..jobs import cleanup_older_than, run_jobs_once
from ..service import Principal
from .auth import admin_principal, runtime_of
from .schemas import ErrorResponse, RequestBody

router = APIRouter(prefix="/v1/admin", tags=["maintenance"], responses={"4XX": {"model": ErrorResponse}})
Admin = Annotated[Principal, Depends(admin_principal)]


class CleanupRequest(RequestBody):
    # Strict: JSON `true` is not one second.
    older_than: str | StrictFloat = Field(
        description="Age: seconds, or `30m`, `24h`, `7d`.",
        json_schema_extra={"exclusiveMinimum": 0},
    )
    collection: str | None = Field(None, description="Only this collection.")
    owner: str | None = Field(None, description="Only this owner's audio.")


class CleanupResponse(BaseModel):
    matched: int = Field(description="Objects older than the age (now deleted or deleting).")
    deleted: int = Field(description="Objects whose blobs and rows are gone.")
    left_for_retry: int = Field(description="Objects whose blob delete failed; retried by the jobs.")


class JobRun(BaseModel):
    job: str
    counts: dict[str, int]
    error: str | None


class SweepResponse(BaseModel):
    jobs: list[JobRun]


def _age(value: str | float) -> float:
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise ValidationFailed(f"older_than: {exc}") from exc
    if seconds <= 0:
        raise ValidationFailed("older_than must be positive.")
    return seconds


@router.post("/cleanup", response_model=CleanupResponse)
async def cleanup(body: CleanupRequest, request: Request, _: Admin) -> CleanupResponse:
    """Delete audio created more than `older_than` ago, expiring or not (seed 001's cleanup)."""
    counts = await cleanup_older_than(
        runtime_of(request), older_than=_age(body.older_than), collection=body.collection,
        owner=body.owner,
    )
    return CleanupResponse(**counts)


@router.post("/sweep", response_model=SweepResponse)
async def sweep(request: Request, _: Admin) -> SweepResponse:
    """Run every maintenance job once now; the counts say what each did."""
    results = await run_jobs_once(runtime_of(request))
    return SweepResponse(jobs=[JobRun(job=r.job, counts=r.counts, error=r.error) for r in results])
