"""/v1/info, /v1/health and /metrics."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .. import __version__
from ..blobstores.spooling import SPOOL, SpoolingBlobStore
from ..metrics import REGISTRY
from ..runtime import Runtime
from ..service import Principal
from ..service.principal import READ
from .auth import runtime_of, scoped

router = APIRouter(tags=["system"])


def _health_body(catalog_ok: bool) -> bytes:
    status = "ok" if catalog_ok else "degraded"
    return json.dumps({"status": status, "catalog": catalog_ok, "version": __version__},
                      separators=(",", ":")).encode()


# Health is polled by every load balancer and orchestrator: its two possible answers are
# made once, so a probe costs the ping and no validation or serialisation of a dict.
_HEALTH_BODIES = {ok: _health_body(ok) for ok in (True, False)}
HEALTH_MEDIA_TYPE = "application/json"


async def health_body(runtime: Runtime) -> bytes:
    """The answer to a health probe: whether the catalogue answers a ping right now. The
    route below and the probe lane before routing (`health_probe.py`) both send it."""
    try:
        await runtime.catalog.ping()
        catalog_ok = True
    except Exception:
        catalog_ok = False
    return _HEALTH_BODIES[catalog_ok]


@router.get("/v1/health", response_model=dict[str, Any])
async def health(request: Request) -> Response:
    """Liveness: the process answers and the catalogue is reachable."""
    return Response(await health_body(runtime_of(request)), media_type=HEALTH_MEDIA_TYPE)


@router.get("/v1/info")
async def info(request: Request, _: Principal = Depends(scoped(READ))) -> dict[str, Any]:
    """What this service runs on: store, bucket, endpoint, catalogue, signing. Never secrets."""
    rt = runtime_of(request)
    s = rt.settings
    store: dict[str, Any] = {"kind": s.store}
    if s.store == "s3":
        store.update(bucket=s.s3_bucket, endpoint=s.s3_endpoint, region=s.s3_region,
                     path_style=s.s3_path_style, sse=s.s3_sse, fallback=s.fallback)
        if isinstance(rt.store, SpoolingBlobStore):
            # Is the bucket refusing uploads right now, and how much waits in spools for it
            # (on every instance: the catalogue knows where each blob is).
            store.update(
                spooling_now=rt.store.spooling_now,
                spooled_objects=await rt.catalog.count_location(SPOOL),
            )
    return {
        "version": __version__,
        "store": store,
        "catalog": {"kind": rt.catalog.dialect},
        "signed_urls": "service" if s.store == "local" else s.signed_urls,
        "url_default_expiry": s.url_default_expiry,
        "url_max_expiry": s.url_max_expiry,
        "max_upload_bytes": s.max_upload_bytes,
        "accepted_formats": s.accepted_formats,
        "key_template": s.key_template,
    }


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
