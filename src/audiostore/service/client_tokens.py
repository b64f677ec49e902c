"""Client tokens: short-lived, scoped bearer tokens a browser or phone may hold instead of a key.

A token is a JWT (RFC 7519, HS256 through PyJWT) that carries everything it allows (owner,
scopes, collections, upload bounds, expiry), so it is verified with no catalogue read. Its key is
derived from the service's signing secrets (AUDIOSTORE_SIGNING_SECRETS) with a label of its own,
so a URL signature and a token signature can never stand in for each other. The first secret
signs; every one verifies (the header's `kid` names which), so rotating the secrets ends every
token signed with a secret that is dropped. One owner's tokens are withdrawn by a `not_before`
moment (`TokenRevocations`), the one thing looked up, from a briefly cached copy.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import uuid_utils

from ..blob_keys import check_key_part
from ..errors import ScopeDenied, TokenExpired, TokenRevoked, Unauthorized, ValidationFailed
from ..settings import ClientAccessSettings, IngestSettings
from .lifetimes import lifetime_within
from .principal import SCOPES, UPLOAD, Principal, TokenGrant
from .token_revocations import TokenRevocations

ISSUER = "audiostore"
AUDIENCE = "audiostore"
_KEY_LABEL = b"audiostore client token v1"
MAX_COLLECTIONS = 100
MAX_REMEMBERED = 10_000  # verified tokens kept; the whole memory is cleared when full


@dataclass(frozen=True, slots=True)
class TokenRequest:
    scopes: Sequence[str]
    owner: str | None = None
    collections: Sequence[str] | None = None
    lifetime_seconds: int | None = None
    max_bytes: int | None = None
    formats: Sequence[str] | None = None


@dataclass(frozen=True, slots=True)
class MintedToken:
    token: str
    owner: str
    grant: TokenGrant
    issued_at: datetime


def _derive(secret: str) -> tuple[str, bytes]:
    key = hmac.new(secret.encode(), _KEY_LABEL, hashlib.sha256).digest()
    return hashlib.sha256(key).hexdigest()[:16], key


def whole_milliseconds(moment: datetime) -> datetime:
    """`moment` cut to the millisecond: what a token's `iat` and a revocation compare at."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _kid_of(token: str) -> str | None:
    """The `kid` of a JWT's header, read without PyJWT's (slower) full header parse; whatever
    it says is checked by the signature."""
    head = token.split(".", 1)[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, binascii.Error, RecursionError) as exc:  # `[[[[...`: nested past the stack
        raise jwt.DecodeError("header") from exc
    kid = header.get("kid") if isinstance(header, dict) else None
    return kid if isinstance(kid, str) else None


def looks_like_token(bearer: str) -> bool:
    """A JWT has three base64url parts; API keys start `as_` and have no dots."""
    return bearer.count(".") == 2


class ClientTokens:
    def __init__(
        self, *, settings: ClientAccessSettings, ingest: IngestSettings, secrets_: Sequence[str],
        revocations: TokenRevocations, clock: Callable[[], datetime],
    ) -> None:
        if not secrets_:
            raise ValueError("at least one signing secret is needed")
        self.settings = settings
        self.ingest = ingest  # a token's upload bounds lie within the server's
        self.revocations = revocations
        self.clock = clock
        self._keys = dict(_derive(s) for s in secrets_)
        self._signing_kid = _derive(secrets_[0])[0]
        self._verified: dict[str, tuple[TokenGrant, str, datetime]] = {}

    # --- mint ---------------------------------------------------------------------------
    async def mint(self, principal: Principal, request: TokenRequest) -> MintedToken:
        if principal.grant is not None:
            raise ScopeDenied("A client token cannot mint tokens; use an API key.")
        owner = check_key_part(principal.owner_for_new(request.owner), what="owner")
        scopes = frozenset(request.scopes)
        if not scopes or not scopes <= set(SCOPES):
            raise ValidationFailed(f"scopes must be one or more of {', '.join(SCOPES)}.")
        collections = self._collections(request.collections)
        lifetime = self._lifetime(request.lifetime_seconds)
        max_bytes, formats = self._upload_bounds(scopes, request.max_bytes, request.formats)
        now = self.clock()
        expires_at = (now + timedelta(seconds=lifetime)).replace(microsecond=0)
        grant = TokenGrant(
            token_id=str(uuid_utils.uuid7()), scopes=scopes, expires_at=expires_at,
            collections=collections, max_bytes=max_bytes, formats=formats,
        )
        claims: dict[str, Any] = {
            "iss": ISSUER, "aud": AUDIENCE, "sub": owner, "jti": grant.token_id,
            # Milliseconds: a revocation at a moment refuses a token from earlier in its second.
            "iat": whole_milliseconds(now).timestamp(), "exp": int(expires_at.timestamp()),
            "scope": " ".join(s for s in SCOPES if s in scopes),  # RFC 8693's claim spelling
        }
        if collections is not None:
            claims["collections"] = sorted(collections)
        if max_bytes is not None:
            claims["max_bytes"] = max_bytes
        if formats is not None:
            claims["formats"] = sorted(formats)
        token = jwt.encode(
            claims, self._keys[self._signing_kid], algorithm="HS256",
            headers={"kid": self._signing_kid},
        )
        return MintedToken(token=token, owner=owner, grant=grant, issued_at=now)

    def _collections(self, given: Sequence[str] | None) -> frozenset[str] | None:
        if given is None:
            return None
        if not given or len(given) > MAX_COLLECTIONS:
            raise ValidationFailed(f"collections must hold 1 to {MAX_COLLECTIONS} names (or be left out).")
        return frozenset(check_key_part(c, what="collection") for c in given)

    def _lifetime(self, given: int | None) -> int:
        return lifetime_within(
            given, default=self.settings.token_default_lifetime,
            maximum=self.settings.token_max_lifetime, field="lifetime_seconds",
            setting="AUDIOSTORE_TOKEN_MAX_LIFETIME",
        )

    def _upload_bounds(
        self, scopes: frozenset[str], max_bytes: int | None, formats: Sequence[str] | None
    ) -> tuple[int | None, frozenset[str] | None]:
        if (max_bytes is not None or formats is not None) and UPLOAD not in scopes:
            raise ValidationFailed("max_bytes and formats bound uploads: add the 'upload' scope.")
        if max_bytes is not None and not 1 <= max_bytes <= self.ingest.max_upload_bytes:
            raise ValidationFailed(
                f"max_bytes must be between 1 and {self.ingest.max_upload_bytes} "
                "(AUDIOSTORE_MAX_UPLOAD_BYTES)."
            )
        if formats is None:
            return max_bytes, None
        wanted = frozenset(f.lower() for f in formats)
        unknown = sorted(wanted - set(self.ingest.accepted_formats))
        if not wanted or unknown:
            raise ValidationFailed(
                f"formats must be some of {', '.join(self.ingest.accepted_formats)} "
                f"(AUDIOSTORE_ACCEPTED_FORMATS){'; not ' + ', '.join(unknown) if unknown else ''}."
            )
        return max_bytes, wanted

    # --- verify -------------------------------------------------------------------------
    async def authenticate(self, token: str) -> Principal:
        """The principal a token stands for; 401 if it is forged, expired or revoked.

        A token whose signature held is remembered (by its exact text, for this process's
        secrets, which do not change while it runs): a phone sends one token many times, and
        the signature check is the costly part. Expiry and revocation are checked every time."""
        verified = self._verified.get(token)
        if verified is None:
            verified = self._verify(token)
            if len(self._verified) >= MAX_REMEMBERED:
                self._verified.clear()
            self._verified[token] = verified
        grant, owner, issued = verified
        now = self.clock()
        if grant.expires_at <= now:
            raise TokenExpired()
        not_before = await self.revocations.not_before(owner)
        if not_before is not None and issued < not_before:
            raise TokenRevoked()
        return Principal(owner=owner, grant=grant)

    def _verify(self, token: str) -> tuple[TokenGrant, str, datetime]:
        try:
            kid = _kid_of(token)
            key = self._keys.get(kid) if kid is not None else None
            if key is None:  # signed with a secret no longer configured (or never)
                raise Unauthorized("The client token is not valid (unknown signing key).")
            claims = jwt.decode(
                token, key, algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER,
                # Times are checked against the service's clock, on every use.
                options={"require": ["sub", "jti", "iat", "exp", "scope"], "verify_exp": False,
                         "verify_iat": False, "verify_nbf": False},
            )
            return self._grant(claims)
        except jwt.InvalidTokenError as exc:
            raise Unauthorized("The client token is not valid.") from exc

    def _grant(self, claims: dict[str, Any]) -> tuple[TokenGrant, str, datetime]:
        def strings(name: str) -> frozenset[str] | None:
            value = claims.get(name)
            if value is None:
                return None
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise jwt.InvalidTokenError(name)
            return frozenset(value)

        owner, scope, iat, exp = claims["sub"], claims["scope"], claims["iat"], claims["exp"]
        max_bytes = claims.get("max_bytes")
        if (
            not isinstance(owner, str) or not isinstance(scope, str)
            or not isinstance(iat, int | float) or not isinstance(exp, int)
            or not (max_bytes is None or isinstance(max_bytes, int))
        ):
            raise jwt.InvalidTokenError("claims")
        grant = TokenGrant(
            token_id=str(claims["jti"]), scopes=frozenset(scope.split()),
            expires_at=datetime.fromtimestamp(exp, UTC), collections=strings("collections"),
            max_bytes=max_bytes, formats=strings("formats"),
        )
        return grant, owner, datetime.fromtimestamp(iat, UTC)

    async def revoke(self, owner: str, before: datetime | None) -> datetime:
        """Refuse `owner`'s tokens issued before `before` (default: now); the moment in force."""
        now = self.clock()
        check_key_part(owner, what="owner")
        if before is None:
            before = now
        elif before.tzinfo is None:
            raise ValidationFailed("before needs a timezone (e.g. 2026-01-01T00:00:00Z).")
        elif before > now:
            raise ValidationFailed("before may not be in the future: it would refuse tokens not yet made.")
        return await self.revocations.revoke(owner, whole_milliseconds(before.astimezone(UTC)))
