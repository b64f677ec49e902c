"""The HTTP server: where it listens, how it treats slow clients, browsers and logs, and what
it may remember between requests."""

from __future__ import annotations

from pydantic import Field

from .group import CommaList, SettingsGroup


class HttpSettings(SettingsGroup):
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
    cors_origins: CommaList = Field(
        default_factory=list,
        description="Comma-separated origins browser apps may call the API and signed URLs "
        "from (e.g. `https://app.example.com`), or `*` for any. Unset: no CORS headers.",
    )
    cors_max_age: int = Field(
        600, ge=0, le=86400,
        description="Seconds a browser may cache a CORS preflight answer (0 to 86400).",
    )
    auth_cache_seconds: float = Field(
        2.0,
        description="How long a verified API key is remembered in-process. A key revoked in "
        "another process stops working within this time; 0 disables the cache.",
    )
    content_cache_seconds: float = Field(
        2.0,
        description="How long the content routes remember a served object's catalogue row "
        "in-process (local blob store only). Changes made by this process are seen at once; "
        "changes made by another process within this time. 0 disables the cache.",
    )

    @property
    def resolved_public_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")
