"""Client access without an API key: client tokens (how long they live, how fast a revocation
reaches every server) and public collections (which, and how long their answers are cached)."""

from __future__ import annotations

from pydantic import Field

from .group import CommaList, SettingsGroup


class ClientAccessSettings(SettingsGroup):
    token_default_lifetime: int = Field(
        900, ge=1, description="Lifetime of a client token (`POST /v1/tokens`) when none is "
        "asked (s).",
    )
    token_max_lifetime: int = Field(
        86400, ge=1, le=30 * 86400,
        description="Longest client token lifetime allowed (s); also how long a per-owner "
        "revocation is kept (older tokens have expired anyway).",
    )
    token_revocation_cache_seconds: float = Field(
        5.0, ge=0, le=3600,
        description="How long a server trusts its copy of the per-owner token revocations "
        "(`POST /v1/tokens/revoke`). Another server refuses revoked tokens within this time; "
        "0 reads them on every token request.",
    )
    public_collections: CommaList = Field(
        default_factory=list,
        description="Comma-separated `owner/collection` pairs that are public: their objects, "
        "renditions and queue streams play at `/v1/public/...` with no key and no expiry. "
        "Collections made public over the API are added to these.",
    )
    public_cache_seconds: float = Field(
        1.0, ge=0, le=60,
        description="How long a server remembers whether a collection is public. A collection "
        "made private on another server stops being served here within this time; 0 asks the "
        "catalogue on every public request.",
    )
    public_max_age: int = Field(
        60, ge=0, le=86400,
        description="`Cache-Control: public, max-age` of public answers (s): how long a "
        "browser or CDN may keep playing one after its collection is made private.",
    )

    def problems(self) -> list[str]:
        problems: list[str] = []
        if self.token_default_lifetime > self.token_max_lifetime:
            problems.append(
                "AUDIOSTORE_TOKEN_DEFAULT_LIFETIME is longer than AUDIOSTORE_TOKEN_MAX_LIFETIME "
                f"({self.token_default_lifetime} > {self.token_max_lifetime})."
            )
        for pair in self.public_collections:
            owner, slash, collection = pair.partition("/")
            if not slash or not owner or not collection or "/" in collection:
                problems.append(f"AUDIOSTORE_PUBLIC_COLLECTIONS: {pair!r} is not `owner/collection`.")
        return problems
