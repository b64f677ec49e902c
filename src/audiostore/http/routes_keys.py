"""/v1/keys: API keys over HTTP, for admin keys (403 for others), so nobody needs a shell on
the database's machine to hand out or revoke a key. The same service as `audiostore keys`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field, StrictBool

from ..catalog import ApiKeyRow
from ..service import Principal
from .auth import admin_principal, runtime_of
from .openapi_limits import KEY_PART_PATTERN
from .schemas import ErrorResponse, RequestBody

router = APIRouter(prefix="/v1/keys", tags=["keys"], responses={"4XX": {"model": ErrorResponse}})
Admin = Annotated[Principal, Depends(admin_principal)]


class KeyCreateRequest(RequestBody):
    owner: str = Field(
        description="The owner the key acts as (letters, digits, `._@=+-`; no `..`).",
        json_schema_extra={"pattern": KEY_PART_PATTERN},  # the service checks it (400)
    )
    admin: StrictBool = Field(False, description="May act for every owner, and manage keys.")
    label: str | None = Field(None, description="A note to recognise the key by.")


class ApiKeyInfo(BaseModel):
    id: str
    prefix: str = Field(description="The second part of the key (`as_<prefix>_...`); "
                        "`audiostore keys revoke` takes it too.")
    owner: str
    admin: bool
    label: str | None
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def from_row(cls, row: ApiKeyRow) -> ApiKeyInfo:
        return cls(id=row.id, prefix=row.prefix, owner=row.owner, admin=row.admin,
                   label=row.label, created_at=row.created_at, revoked_at=row.revoked_at)


class IssuedKeyResponse(ApiKeyInfo):
    key: str = Field(description="The secret, shown this once: only its SHA-256 is kept.")


class KeyList(BaseModel):
    items: list[ApiKeyInfo]


@router.post("", status_code=201, response_model=IssuedKeyResponse)
async def create_key(body: KeyCreateRequest, request: Request, _: Admin) -> IssuedKeyResponse:
    """Create a key for an owner; the answer holds its secret, once."""
    issued = await runtime_of(request).keys.create(body.owner, admin=body.admin, label=body.label)
    return IssuedKeyResponse(**ApiKeyInfo.from_row(issued.row).model_dump(), key=issued.key)


@router.get("", response_model=KeyList)
async def list_keys(
    request: Request, _: Admin,
    owner: Annotated[str | None, Query(description="Only this owner's keys.")] = None,
) -> KeyList:
    """Every key, oldest first, revoked ones too; never a secret."""
    rows = await runtime_of(request).keys.list(owner)
    return KeyList(items=[ApiKeyInfo.from_row(r) for r in rows])


@router.delete("/{key_id}", status_code=204, response_class=Response)
async def revoke_key(key_id: str, request: Request, _: Admin) -> Response:
    """Revoke a key (by id or prefix): this server refuses it at once, other servers within
    AUDIOSTORE_AUTH_CACHE_SECONDS. 404 if no active key has that id."""
    await runtime_of(request).keys.revoke(key_id)
    return Response(status_code=204)
