"""Configuration, read from `AUDIOSTORE_*` environment variables (or a `.env` file).

Every field is documented here and in the README's configuration table; a test checks the
two agree. Settings are grouped by concern: server, storage, catalogue, ingest, signed URLs,
auth, jobs. `get_settings()` caches one instance per process.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_FORMATS = ("wav", "mp3", "aac", "m4a", "ogg", "opus", "flac", "webm", "aiff")


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """All of audiostore's settings. Field docs are the user-facing documentation."""

    model_config = SettingsConfigDict(
        env_prefix="AUDIOSTORE_", env_file=".env", extra="ignore", frozen=True
    )

    # --- server -------------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Address `audiostore serve` listens on.")
    port: int = Field(8000, description="Port `audiostore serve` listens on.")
    workers: int = Field(1, description="Server worker processes (granian).")
    shutdown_timeout_seconds: int = Field(
        5, ge=1, le=1800, description="Seconds a server worker may take after SIGTERM to "
        "finish the requests it is serving before it is killed.",
    )
    # Slow clients: granian's own limits. They bound the harm; on the open internet a
    # buffering proxy (nginx, Caddy) in front is what keeps slowloris off the workers.
    http1_header_read_timeout_ms: int = Field(
        10_000, ge=100, le=600_000,
        description="Milliseconds a connection may take to send a request's headers before "
        "it is closed (granian's `http1_header_read_timeout`; granian's own default is 30000).",
    )
    backlog: int = Field(
        1024, ge=16, le=65_535,
        description="Connections the kernel queues while none is accepted (listen backlog).",
    )
    backpressure: int | None = Field(
        None, ge=1,
        description="Most connections one worker serves at once; more wait in the backlog. "
        "Default: backlog / workers.",
    )
    public_url: str | None = Field(
        None,
        description="Base URL clients use to reach the service; signed service URLs start "
        "with it. Default: `http://{host}:{port}`.",
    )
    data_dir: Path = Field(
        Path("audiostore-data"),
        description="Where the embedded default keeps its SQLite catalogue, blobs, temp "
        "files, the signing secret and the first admin key.",
    )
    reuse_port: bool = Field(
        False,
        description="Let several `audiostore serve` processes listen on one port "
        "(SO_REUSEPORT; the kernel splits connections between them), e.g. instances sharing "
        "one PostgreSQL catalogue and one bucket. Off: a port in use stops the start.",
    )
    access_log: bool = Field(
        True,
        description="Print one line per request on stdout: method, route template (never "
        "the query, which may hold a signature), status, bytes, duration, owner, request id "
        "(`X-Request-Id`: the client's, or one made up; always echoed).",
    )

    # --- storage ------------------------------------------------------------------------
    store: Literal["local", "s3"] = Field("local", description="Blob store: `local` or `s3`.")
    key_template: str = Field(
        "{owner}/{collection}/{date}/{id}.{ext}",
        description="Blob key layout. Fields: `{owner}`, `{collection}`, `{date}` "
        "(YYYY-MM-DD, UTC), `{id}`, `{ext}`, `{name}` (sanitised upload name).",
    )
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

    # --- catalogue ----------------------------------------------------------------------
    database_url: str | None = Field(
        None,
        description="`sqlite:///path.db` or `postgresql://user:pass@host/db`. Default: "
        "SQLite at `{data_dir}/catalog.db`.",
    )
    migrate_on_start: bool = Field(True, description="Run database migrations at start.")

    # --- ingest -------------------------------------------------------------------------
    max_upload_bytes: int = Field(
        100 * 1024 * 1024, description="Largest accepted upload; reading stops at the limit."
    )
    accepted_formats: Annotated[list[str], NoDecode] = Field(
        list(DEFAULT_FORMATS),
        description="Comma-separated container formats accepted at upload.",
    )
    default_collection: str = Field("default", description="Collection used when none is given.")
    max_duration_seconds: float = Field(
        4 * 3600.0,
        description="Longest audio accepted at upload (and from TTS), measured by decoding it, "
        "never from its header; the decode stops as soon as it passes this. Every later decode "
        "(loudness, renditions, waveforms) costs CPU in proportion to duration, so this is "
        "what bounds what a small file can cost (a 665 KB FLAC of silence decodes to 100 h). "
        "4 h keeps the longest audio the seeds describe (a kids' player's stories and "
        "audiobook parts, a DAW's takes, recorded coaching sessions) and is about what "
        "AUDIOSTORE_MAX_UPLOAD_BYTES holds at 56 kbit/s; decoding 4 h at ingest takes "
        "roughly 10-20 s of one core here. Raise it for whole audiobooks in one file.",
    )
    min_sample_rate: int = Field(
        8000,
        description="Lowest decoded sample rate accepted (Hz): 8 kHz is telephone speech, the "
        "lowest rate of any common codec; a 1 Hz header stretches a few bytes into days of audio.",
    )
    max_sample_rate: int = Field(
        384_000,
        description="Highest decoded sample rate accepted (Hz): decoding costs per sample, so "
        "this keeps the duration limit a CPU limit; 384 kHz covers DXD studio masters.",
    )

    # --- signed URLs --------------------------------------------------------------------
    signing_secrets: Annotated[list[str], NoDecode] = Field(
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

    # --- auth ---------------------------------------------------------------------------
    auth_cache_seconds: float = Field(
        2.0,
        description="How long a verified API key is remembered in-process. A key revoked in "
        "another process stops working within this time; 0 disables the cache.",
    )

    # --- serving hot path (issue 2 benchmarks) -------------------------------------------
    content_cache_seconds: float = Field(
        2.0,
        description="How long the content routes remember a served object's catalogue row "
        "in-process (local blob store only). Changes made by this process are seen at once; "
        "changes made by another process within this time. 0 disables the cache.",
    )

    # --- data safety: expiry defaults, maintenance jobs, fallback spool (issue 4) --------
    collection_ttls: Annotated[dict[str, float], NoDecode] = Field(
        default_factory=dict,
        description="Default lifetime per collection for uploads that give no `ttl_seconds` "
        "or `expires_at`, e.g. `tts=24h,scratch=1h` (units s, m, h, d, w).",
    )
    sweep_interval: float = Field(
        60.0,
        description="Seconds (or `30s`, `5m`) between runs of the maintenance jobs (expiry "
        "sweep, stale pending uploads, delete retries, spool drain, temp files) inside "
        "`audiostore serve` and `audiostore worker`; 0 turns the timer off.",
    )
    sweep_daily_at: str | None = Field(
        None,
        description="Also run the maintenance jobs once a day at this UTC time, `HH:MM` (e.g. "
        "`12:00`). Unset: the interval alone.",
    )
    sweep_in_serve: bool = Field(
        True,
        description="Run the maintenance jobs inside `audiostore serve`. Turn off when "
        "dedicated `audiostore worker` processes do it.",
    )
    sweep_batch_size: int = Field(
        1000, ge=1, le=1000,
        description="Objects a job claims and deletes per batch (one S3 DeleteObjects call "
        "and one SQL statement each; S3 takes at most 1000 keys a call).",
    )
    fallback: Literal["spool", "off"] = Field(
        "spool",
        description="With `store=s3`: `spool` keeps an upload in a local spool "
        "(`{data_dir}/spool`) when the bucket cannot be reached, serves it from there and "
        "moves it to the bucket when it answers again; `off` answers 503 instead.",
    )
    pending_grace: float = Field(
        3600.0,
        description="Seconds (or `1h`) after which an upload still `pending` (a crash between "
        "its intent row and its blob) is finished or rolled back by the jobs.",
    )
    tmp_grace: float = Field(
        300.0,
        description="Seconds (or `5m`) after which a temp file in `{data_dir}/tmp` that no live "
        "upload holds is removed by the jobs.",
    )
    delete_retry_base: float = Field(
        30.0, description="First wait (s) before retrying a failed blob delete; it doubles "
        "with each failure."
    )
    delete_retry_max: float = Field(3600.0, description="Longest wait (s) between delete retries.")

    @field_validator("collection_ttls", mode="before")
    @classmethod
    def _ttls(cls, value: object) -> object:
        from .durations import parse_collection_ttls

        return parse_collection_ttls(value) if isinstance(value, str) else value

    @field_validator(
        "sweep_interval", "pending_grace", "tmp_grace", "delete_retry_base", "delete_retry_max",
        mode="before",
    )
    @classmethod
    def _durations(cls, value: object) -> object:
        from .durations import parse_duration

        return parse_duration(value) if isinstance(value, str) else value

    @field_validator("sweep_daily_at")
    @classmethod
    def _daily_at(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        hour, sep, minute = value.partition(":")
        if not (sep and hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
            raise ValueError("sweep_daily_at must be HH:MM (UTC), e.g. 12:00")
        return f"{int(hour):02d}:{int(minute):02d}"

    # --- clients: browsers and retries (issue 7) ----------------------------------------
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated origins browser apps may call the API and signed URLs "
        "from (e.g. `https://app.example.com`), or `*` for any. Unset: no CORS headers.",
    )
    cors_max_age: int = Field(
        600, ge=0, le=86400,
        description="Seconds a browser may cache a CORS preflight answer (0 to 86400).",
    )
    idempotency_ttl_seconds: int = Field(
        86400,
        description="How long an upload's `Idempotency-Key` is remembered: a retry with the "
        "same key and body within this time answers the first result.",
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _cors_csv(cls, value: object) -> object:
        return _split_csv(value)

    # --- text to speech -----------------------------------------------------------------
    tts_collection: str = Field(
        "tts", description="Collection TTS audio is stored in when the request names none."
    )
    tts_default_ttl: int = Field(
        86400, description="Seconds TTS audio lives when the request gives no ttl_seconds "
        "(0: keep it until deleted)."
    )
    tts_max_text_chars: int = Field(5000, description="Longest text one TTS request may speak.")
    tts_default_voice: str = Field("en-us", description="Voice used when a TTS request names none.")
    tts_default_format: str = Field(
        "mp3", description="Format used when a TTS request names none: wav, mp3, opus, ogg."
    )
    tts_processes: int = Field(
        2, ge=1, le=64, description="Worker processes each server worker runs espeak-ng and "
        "Piper in (outside the server's process, so an engine crash fails one request only); "
        "also how many syntheses run at once."
    )
    tts_timeout_seconds: float = Field(
        30.0, gt=0, le=3600, description="Deadline of one synthesis in its worker process; "
        "past it the worker is killed and the request answers 502 `engine_failed`."
    )
    piper_voices: Path | None = Field(
        None, description="Folder of Piper `.onnx` voices (each with its `.onnx.json`); unset: "
        "no Piper engine."
    )
    polly_region: str | None = Field(
        None, description="AWS region for Amazon Polly; unset: no Polly engine. Credentials "
        "come from the standard AWS chain."
    )

    # --- renditions, loudness, waveforms, queues (issue 5) ------------------------------
    ingest_renditions: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated renditions made at upload, each `format` or "
        "`format:bitrate` (e.g. `mp3,opus:64k`); `webm->mp3` limits one to uploads of that "
        "format. Unset: renditions are made on first request only.",
    )
    loudness_target_lufs: float = Field(
        -16.0, description="Integrated loudness (LUFS) `?normalize=true` renditions aim at."
    )
    loudness_max_true_peak: float = Field(
        -1.0, description="Ceiling (dBTP) normalisation gain never pushes the true peak above."
    )
    queue_stream_bitrate: int = Field(
        128_000, description="CBR bit rate (bit/s) of the MP3 profile queue streams are made of."
    )
    queue_stream_sample_rate: int = Field(
        44_100, description="Sample rate (Hz) of the MP3 profile queue streams are made of."
    )
    queue_stream_channels: int = Field(
        2, description="Channels (1 or 2) of the MP3 profile queue streams are made of."
    )
    queue_burst_seconds: float = Field(
        10.0, description="Seconds of audio a queue stream sends at once before pacing to "
        "playback speed (fills the player's buffer quickly)."
    )
    queue_icy_metaint: int = Field(
        16_000, description="Bytes of audio between ICY metadata blocks on queue streams "
        "(only for clients that send `Icy-MetaData: 1`)."
    )
    queue_max_items: int = Field(1000, description="Most audio ids one queue may hold.")
    rendition_whole_first_seconds: float = Field(
        10.0, ge=0, description="A first request for a rendition of at most this many seconds "
        "waits for it to be made whole (a few tenths of a second), then gets it with a length, "
        "ETag and Range; a longer one is streamed as it is encoded (no Content-Length) while "
        "the complete rendition is stored for later requests."
    )

    # --- processing limits: what one decode may cost (issue 11) -------------------------
    # A few hundred KB of FLAC can decode to a hundred hours: the CPU a job may use follows
    # what the client paid for (the stored bytes), not what the file claims to hold.
    processing_cpu_seconds_per_mib: float = Field(
        60.0, gt=0, description="CPU seconds one analysis, rendition or waveform may use per "
        "MiB of its source (plus the minimum below); past it the work stops.",
    )
    processing_cpu_seconds_min: float = Field(
        30.0, gt=0, description="CPU seconds every analysis, rendition or waveform may use "
        "whatever its source's size.",
    )
    processing_cpu_seconds_max: float = Field(
        900.0, gt=0, description="CPU seconds no analysis, rendition or waveform may pass, "
        "however large its source.",
    )
    processing_max_output_bytes: int = Field(
        2 * 1024**3, gt=0, description="Largest rendition or waveform one job may write. Each "
        "is also bounded by what its stored duration implies (twice that, plus 1 MiB).",
    )

    @field_validator("ingest_renditions", mode="before")
    @classmethod
    def _renditions_csv(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("accepted_formats", "signing_secrets", mode="before")
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("accepted_formats")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [v.lower() for v in value]

    @property
    def resolved_public_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def resolved_database_url(self) -> str:
        """The SQLAlchemy async URL for the catalogue."""
        url = self.database_url or f"sqlite:///{(self.data_dir / 'catalog.db').resolve()}"
        if url.startswith("sqlite:///"):
            return "sqlite+aiosqlite:///" + url.removeprefix("sqlite:///")
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+asyncpg://" + url.removeprefix(prefix)
        return url


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
