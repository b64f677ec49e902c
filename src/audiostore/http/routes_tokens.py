"""/v1/tokens: short-lived client tokens for browsers and phones, minted with an API key."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from ..errors import ValidationFailed
from ..service import Principal
from ..service.client_tokens import TokenRequest
from ..service.principal import SCOPES
from .auth import admin_principal, principal, runtime_of
from .openapi_limits import KEY_PART_PATTERN
from .schemas import ErrorResponse, RequestBody

router = APIRouter(prefix="/v1/tokens", tags=["tokens"], responses={"4XX": {"model": ErrorResponse}})
KeyHolder = Annotated[Principal, Depends(principal)]
Admin = Annotated[Principal, Depends(admin_principal)]

Scope = Literal["read", "upload", "delete", "list"]


class TokenCreateRequest(RequestBody):
    scopes: list[Scope] = Field(description="What the token may do: read (get, content, "
                                "renditions, URLs, queues), upload (also PATCH, queue PUT, TTS), "
                                "delete, list.", min_length=1)
    owner: str | None = Field(None, description="Admin keys: the owner the token acts for "
                              "(default: the key's own).", json_schema_extra={"pattern": KEY_PART_PATTERN})
    collections: list[str] | None = Field(
        None, description="Only these collections (others: 404 on read, 403 on list/upload).",
    )
    lifetime_seconds: int | None = Field(
        None, description="Seconds; default AUDIOSTORE_TOKEN_DEFAULT_LIFETIME, at most "
        "AUDIOSTORE_TOKEN_MAX_LIFETIME.",
    )
    max_bytes: int | None = Field(None, description="Uploads: largest accepted (413 beyond).")
    formats: list[str] | None = Field(
        None, description="Uploads: accepted formats, as sniffed (415 otherwise), e.g. "
        "`[\"wav\", \"webm\"]`.",
    )


class TokenResponse(BaseModel):
    token: str = Field(description="Send as `Authorization: Bearer <token>`.")
    token_id: str
    owner: str
    scopes: list[str]
    collections: list[str] | None
    max_bytes: int | None
    formats: list[str] | None
    expires_at: datetime


class RevokeRequest(RequestBody):
    owner: str = Field(json_schema_extra={"pattern": KEY_PART_PATTERN})
    # Text, parsed as ISO 8601 only: pydantic would also take `0` as a Unix time.
    before: str | None = Field(None, description="ISO 8601 time with a timezone: refuse the "
                               "owner's tokens issued before it (default: now); never in the future.",
                               json_schema_extra={"format": "date-time"})


class RevokeResponse(BaseModel):
    owner: str
    not_before: datetime = Field(description="Tokens issued before this are refused: at once "
                                 "on this server, within AUDIOSTORE_TOKEN_REVOCATION_CACHE_SECONDS "
                                 "on the others.")


@router.post("", status_code=201, response_model=TokenResponse)
async def create_token(body: TokenCreateRequest, request: Request, who: KeyHolder) -> TokenResponse:
    """Mint a client token for one owner (an admin key may name any owner; another key only its
    own). It is a signed JWT: verified with no database read, valid until `expires_at`."""
    minted = await runtime_of(request).tokens.mint(who, TokenRequest(
        scopes=body.scopes, owner=body.owner, collections=body.collections,
        lifetime_seconds=body.lifetime_seconds, max_bytes=body.max_bytes, formats=body.formats,
    ))
    g = minted.grant
    return TokenResponse(
        token=minted.token, token_id=g.token_id, owner=minted.owner,
        scopes=[s for s in SCOPES if s in g.scopes],
        collections=sorted(g.collections) if g.collections is not None else None,
        max_bytes=g.max_bytes, formats=sorted(g.formats) if g.formats is not None else None,
        expires_at=g.expires_at,
    )


@router.post("/revoke", response_model=RevokeResponse)
async def revoke_tokens(body: RevokeRequest, request: Request, _: Admin) -> RevokeResponse:
    """Admin keys: refuse every client token of `owner` issued before `before`. A later moment
    already in force stays (revocations only move forward)."""
    before = None
    if body.before is not None:
        try:
            before = datetime.fromisoformat(body.before.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValidationFailed("before must be an ISO 8601 time.") from exc
    in_force = await runtime_of(request).tokens.revoke(body.owner, before)
    return RevokeResponse(owner=body.owner, not_before=in_force)
