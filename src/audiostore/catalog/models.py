"""SQLAlchemy 2 models of the catalogue. The schema itself is owned by Alembic migrations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, Index, Integer, String, Text
from sqlalchemy import ForeignKey, UniqueConstraint
from sqlalchemy import text as sql_text  # `text` is also a column name below
from sqlalchemy.engine import Dialect
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the catalogue")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class AudioRow(Base):
    """One stored audio object. `state`: pending -> ready -> deleting -> (row gone)."""

    __tablename__ = "audio"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128))
    collection: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(255))
    key: Mapped[str] = mapped_column(String(1024))
    state: Mapped[str] = mapped_column(String(16))
    content_type: Mapped[str] = mapped_column(String(64))
    format: Mapped[str] = mapped_column(String(16))
    codec: Mapped[str] = mapped_column(String(32))
    duration: Mapped[float] = mapped_column(Float)
    sample_rate: Mapped[int] = mapped_column(Integer)
    channels: Mapped[int] = mapped_column(Integer)
    bitrate: Mapped[int | None] = mapped_column(Integer, nullable=True)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    voice_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Where the blob is (`primary` store or the local fallback `spool`),
    # and the backoff of blob-delete retries while the row is `deleting`.
    location: Mapped[str] = mapped_column(String(16), default="primary", server_default="primary")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, default=None)
    # EBU R128, measured by the analysis after the upload; None for silence or an
    # unmeasurable file.
    loudness_lufs: Mapped[float | None] = mapped_column(Float, nullable=True, default=None)
    true_peak_dbtp: Mapped[float | None] = mapped_column(Float, nullable=True, default=None)
    # Loudness and ingest renditions run after the upload answers: the time from which the
    # analysis job may take this row (a lease while one runs); None once analysed.
    analysis_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, default=None)
    # Why the analysis was given up for good (an error code: `processing_limit`,
    # `undecodable_audio`); None while due or once measured.
    analysis_error: Mapped[str | None] = mapped_column(String(32), nullable=True, default=None)

    __table_args__ = (
        Index("ix_audio_owner_id", "owner", "id"),
        Index("ix_audio_owner_collection_id", "owner", "collection", "id"),
        Index("ix_audio_owner_name_id", "owner", "name", "id"),
        Index("ix_audio_owner_created_at_id", "owner", "created_at", "id"),
        # And ix_audio_owner_key (owner, key in a byte-wise collation): a dialect's own
        # DDL, in migration 0014.
        Index("ix_audio_expires_at", "expires_at"),
        Index("ix_audio_state", "state"),
        Index("ix_audio_key", "key"),
        Index("ix_audio_state_next_attempt", "state", "next_attempt_at"),
        Index("ix_audio_location", "location"),
        Index(
            "ix_audio_analysis_due_at", "analysis_due_at",
            postgresql_where=sql_text("analysis_due_at IS NOT NULL"),
            sqlite_where=sql_text("analysis_due_at IS NOT NULL"),
        ),
    )

    def detached_copy(self) -> AudioRow:
        """A copy of every column, bound to no session: changing it changes nothing stored."""
        return AudioRow(**{a.key: getattr(self, a.key) for a in sa_inspect(AudioRow).column_attrs})


class ApiKeyRow(Base):
    """An API key, stored as the SHA-256 of the secret; `prefix` finds it quickly."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_sha256: Mapped[str] = mapped_column(String(64))
    owner: Mapped[str] = mapped_column(String(128))
    admin: Mapped[bool] = mapped_column(Boolean, default=False)
    label: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class IdempotencyKeyRow(Base):
    """An `Idempotency-Key` an owner sent on upload: the request's fingerprint, the id of the
    object it stores (recorded with the claim; None on claims from before revision 0013) and
    when it was stored (`stored_at` is None while that first request is in progress)."""

    __tablename__ = "idempotency_keys"

    owner: Mapped[str] = mapped_column(String(128), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    audio_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    stored_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, default=None)

    __table_args__ = (Index("ix_idempotency_keys_expires_at", "expires_at"),)


class DerivedBlobRow(Base):
    """A blob made from an object (a rendition or a cached waveform), kept beside its
    original and deleted with it (ON DELETE CASCADE; the blob goes in the deletion lifecycle,
    service/deletion.py)."""

    __tablename__ = "derived_blobs"

    audio_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("audio.id", ondelete="CASCADE"), primary_key=True
    )
    variant: Mapped[str] = mapped_column(String(96), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "rendition" | "waveform"
    key: Mapped[str] = mapped_column(String(1200))
    format: Mapped[str] = mapped_column(String(16))
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    duration: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class QueueRow(Base):
    """A named, ordered list of audio ids, per owner."""

    __tablename__ = "queues"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(128))
    audio_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("owner", "name", name="uq_queues_owner_name"),)


class TokenRevocationRow(Base):
    """Client tokens of `owner` issued before `not_before` are refused (`POST /v1/tokens/revoke`).

    Only ever moved later. A row older than the longest token lifetime revokes nothing any more
    (every token it covered has expired), so servers read only recent rows."""

    __tablename__ = "token_revocations"

    owner: Mapped[str] = mapped_column(String(128), primary_key=True)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_token_revocations_not_before", "not_before"),)


class PublicCollectionRow(Base):
    """A collection whose objects play at `/v1/public/...` with no key and no expiry."""

    __tablename__ = "public_collections"

    owner: Mapped[str] = mapped_column(String(128), primary_key=True)
    collection: Mapped[str] = mapped_column(String(128), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TtsRequestRow(Base):
    """A synthesised request: the whole audio, and its segments when they were asked for."""

    __tablename__ = "tts_requests"

    owner: Mapped[str] = mapped_column(String(128), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    audio_id: Mapped[str] = mapped_column(String(36))
    engine: Mapped[str] = mapped_column(String(32))
    phonemes: Mapped[str | None] = mapped_column(Text, nullable=True)
    # [{"audio_id", "text", "phonemes"}] in order, or None without segments.
    segments: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
class TusUploadRow(Base):
    """A resumable (tus) upload in progress: how many bytes its part file holds (`offset`),
    and who may append now (`writer` until `lease_until`).

    `state`: receiving -> storing (the last byte is in; one ingest runs) -> stored (`audio_id`
    set) or failed (`error_code`); terminated or expired rows are deleted with their part.
    `length` is None while the client defers it (creation-defer-length).

    Concatenation: a `partial` upload goes receiving -> complete (never ingested) ->
    concatenating (claimed by a final upload, `writer` its claim) and is deleted once that
    final upload is stored; a `final` upload is created `storing` from its `concat_parts`.
    """

    __tablename__ = "tus_uploads"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(16))
    length: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    offset: Mapped[int] = mapped_column("upload_offset", BigInteger, default=0)
    # The client's `Upload-Metadata` header as sent (echoed on HEAD), and the upload fields
    # parsed from it (name, collection, ttl_seconds, ...), applied by the ingest at the end.
    upload_metadata: Mapped[str | None] = mapped_column(Text, nullable=True)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Bounds of a signed upload URL that created it (max size, accepted formats); {} for a key.
    bounds: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    writer: Mapped[str | None] = mapped_column(String(36), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    audio_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    error_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # None (a plain upload), "partial" or "final"; a final upload's pieces, their ids in order.
    concat: Mapped[str | None] = mapped_column(String(8), nullable=True, default=None)
    concat_parts: Mapped[list[str] | None] = mapped_column(JSON, nullable=True, default=None)

    __table_args__ = (Index("ix_tus_uploads_expires_at", "expires_at"),)


class UploadGrantUseRow(Base):
    """A signed upload URL that has been used (its nonce): the primary key makes a second use
    fail on every instance sharing the catalogue. `audio_id` is None while the first use is
    being stored; a failed use deletes its row, so the URL may be tried again."""

    __tablename__ = "upload_grant_uses"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128))
    audio_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    tus_upload_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    used_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_upload_grant_uses_expires_at", "expires_at"),)
