"""Where blobs go: the local disk or an S3-compatible bucket, how keys are laid out, and what
happens when the bucket cannot be reached."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field

from .group import SettingsGroup
from .place import DataDirSettings

SSE_ALGORITHMS = ("AES256", "aws:kms", "aws:kms:dsse")


class S3Settings(SettingsGroup):
    """The bucket and how to reach it (AWS S3, Cloudflare R2, MinIO, SeaweedFS)."""

    s3_bucket: str | None = Field(None, description="S3 bucket (required when store=s3).")
    s3_endpoint: str | None = Field(
        None, description="S3 endpoint URL for R2, MinIO, SeaweedFS; unset for AWS."
    )
    s3_region: str = Field("us-east-1", description="S3 region (`auto` for Cloudflare R2).")
    s3_access_key_id: str | None = Field(
        None, description="S3 access key; unset to use the standard AWS credential chain."
    )
    s3_secret_access_key: str | None = Field(None, description="S3 secret key.")
    s3_allow_http: bool = Field(False, description="Allow plain-HTTP S3 endpoints (local dev).")
    s3_path_style: bool = Field(
        True, description="Path-style addressing (`endpoint/bucket/key`); needed by most "
        "self-hosted S3 servers."
    )
    s3_sse: str | None = Field(
        None, description="Server-side encryption for new objects: `AES256` or `aws:kms`."
    )
    s3_sse_kms_key_id: str | None = Field(None, description="KMS key id when s3_sse=aws:kms.")
    # A bucket that stops answering fails a call after these (then: spool or 503 on upload,
    # 503 on read, the retry job on delete), instead of holding the request for minutes.
    s3_connect_timeout_seconds: float = Field(
        3.0, gt=0, le=300, description="Longest wait for a connection to the bucket."
    )
    s3_first_byte_timeout_seconds: float = Field(
        5.0, gt=0, le=300, description="Longest wait for the bucket to start answering a read "
        "(and for each next piece of a streamed read)."
    )
    s3_call_timeout_seconds: float = Field(
        10.0, gt=0, le=3600, description="Longest a bounded bucket call may take, retries "
        "included: a HEAD, a small read, a delete batch, a list page, and each upload request "
        "(a PUT, or one 8 MiB part)."
    )

    def s3_problems(self) -> list[str]:
        problems: list[str] = []
        if not self.s3_bucket:
            problems.append("AUDIOSTORE_S3_BUCKET is required when AUDIOSTORE_STORE=s3.")
        if bool(self.s3_access_key_id) != bool(self.s3_secret_access_key):
            given, missing = (
                ("AUDIOSTORE_S3_ACCESS_KEY_ID", "AUDIOSTORE_S3_SECRET_ACCESS_KEY")
                if self.s3_access_key_id else
                ("AUDIOSTORE_S3_SECRET_ACCESS_KEY", "AUDIOSTORE_S3_ACCESS_KEY_ID")
            )
            problems.append(f"{given} is set but {missing} is not; set both, or neither to use "
                            "the AWS credential chain.")
        if self.s3_endpoint:
            parts = urlsplit(self.s3_endpoint)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                problems.append(
                    f"AUDIOSTORE_S3_ENDPOINT must be an http(s) URL such as "
                    f"https://s3.example.com, not {self.s3_endpoint!r}."
                )
            elif parts.scheme == "http" and not self.s3_allow_http:
                problems.append(
                    "AUDIOSTORE_S3_ENDPOINT is plain http; set AUDIOSTORE_S3_ALLOW_HTTP=true to "
                    "allow it (local development only)."
                )
        if self.s3_sse and self.s3_sse not in SSE_ALGORITHMS:
            problems.append(f"AUDIOSTORE_S3_SSE must be one of {', '.join(SSE_ALGORITHMS)}, "
                            f"not {self.s3_sse!r}.")
        if self.s3_sse_kms_key_id and not (self.s3_sse or "").startswith("aws:kms"):
            problems.append("AUDIOSTORE_S3_SSE_KMS_KEY_ID needs AUDIOSTORE_S3_SSE=aws:kms.")
        return problems


class StorageSettings(DataDirSettings, S3Settings):
    store: Literal["local", "s3"] = Field("local", description="Blob store: `local` or `s3`.")
    key_template: str = Field(
        "{owner}/{collection}/{date}/{id}.{ext}",
        description="Blob key layout. Fields: `{owner}`, `{collection}`, `{date}` "
        "(YYYY-MM-DD, UTC), `{id}`, `{ext}`, `{name}` (sanitised upload name).",
    )
    fallback: Literal["spool", "off"] = Field(
        "spool",
        description="With `store=s3`: `spool` keeps an upload in a local spool "
        "(`{data_dir}/spool`) when the bucket cannot be reached, serves it from there and "
        "moves it to the bucket when it answers again; `off` answers 503 instead.",
    )

    def problems(self) -> list[str]:
        return self.s3_problems() if self.store == "s3" else []
