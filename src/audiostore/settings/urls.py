"""Signed URLs: the secrets that sign them, who signs them on S3, and how long they live."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .group import CommaList, SettingsGroup


class UrlSettings(SettingsGroup):
    signing_secrets: CommaList = Field(
        default_factory=list,
        description="Comma-separated HMAC secrets for service URLs; the first signs, all "
        "verify (rotation). Unset: generated once into `{data_dir}/signing.key`.",
    )
    signed_urls: Literal["direct", "proxy"] = Field(
        "direct",
        description="On S3: `direct` hands out the store's presigned URLs; `proxy` hands out "
        "service URLs that stream through audiostore. Local disk always uses service URLs.",
    )
    url_default_expiry: int = Field(3600, description="Signed URL lifetime when none is asked (s).")
    url_max_expiry: int = Field(7 * 86400, description="Longest signed URL lifetime allowed (s).")

    def problems(self) -> list[str]:
        problems: list[str] = []
        if self.url_default_expiry < 1:
            problems.append("AUDIOSTORE_URL_DEFAULT_EXPIRY must be at least 1 second.")
        if self.url_default_expiry > self.url_max_expiry:
            problems.append(
                "AUDIOSTORE_URL_DEFAULT_EXPIRY is longer than AUDIOSTORE_URL_MAX_EXPIRY "
                f"({self.url_default_expiry} > {self.url_max_expiry})."
            )
        return problems
