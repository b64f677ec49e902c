"""Shared fixtures: real audio files, a runtime per backend, API keys, an HTTP client.

`backend` is parametrised: every test that uses `api` runs once per entry in `BACKENDS`
(local disk + SQLite always; S3 + PostgreSQL when those fixtures are available).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from audio_factory import RECIPES, make_tone  # noqa: E402
from fixtures_postgres import Postgres, postgres, postgres_url  # noqa: E402,F401
from fixtures_seaweedfs import SeaweedFS, s3_bucket, seaweedfs  # noqa: E402,F401
from fixtures_client_server import Served, served, served_on, served_s3  # noqa: E402,F401
from fixtures_catalog import catalog  # noqa: E402,F401

from audiostore.http import create_app  # noqa: E402
from audiostore.process_exit import end_process  # noqa: E402
from audiostore.runtime import Runtime  # noqa: E402
from audiostore.settings import Settings  # noqa: E402

_EXIT_STATUS: list[int] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _EXIT_STATUS.append(int(exitstatus))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """End the run the way the CLI ends a command (`audiostore.process_exit`): once the
    session's SeaweedFS is stopped, obstore's Tokio workers wake to close their pooled
    connections, and an interpreter exit racing them can abort with SIGABRT, turning a
    passed run into exit 134. Everything is reported by now; only the exit is skipped."""
    if _EXIT_STATUS and "obstore" in sys.modules:
        end_process(_EXIT_STATUS[-1])

ACCEPTED_FORMATS = list(RECIPES)


class Clock:
    """A clock tests can move: expiry is checked against it, never against sleeps."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture(scope="session")
def audio_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("audio")


@pytest.fixture(scope="session")
def tones(audio_dir: Path) -> dict[str, Path]:
    """A 2-second stereo 440 Hz tone in every accepted format."""
    return {fmt: make_tone(audio_dir / f"tone.{fmt}", fmt, seconds=2.0, channels=2) for fmt in RECIPES}


@pytest.fixture(scope="session")
def wav_bytes(tones: dict[str, Path]) -> bytes:
    return tones["wav"].read_bytes()


def backend_settings_local(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(data_dir=tmp_path / "data", public_url="http://testserver", **overrides)


def backend_settings_s3(
    tmp_path: Path, seaweedfs: SeaweedFS, bucket: str, database_url: str, **overrides: Any
) -> Settings:
    """S3 (SeaweedFS) + PostgreSQL. Proxy signing by default, so service URLs work in-process."""
    values: dict[str, Any] = dict(
        data_dir=tmp_path / "data", public_url="http://testserver", store="s3",
        s3_bucket=bucket, s3_endpoint=seaweedfs.endpoint, s3_region=seaweedfs.region,
        s3_access_key_id=seaweedfs.access_key, s3_secret_access_key=seaweedfs.secret_key,
        s3_allow_http=True, database_url=database_url, signed_urls="proxy",
    )
    return Settings(**{**values, **overrides})


@pytest.fixture
def s3_settings_factory(
    tmp_path: Path, seaweedfs: SeaweedFS, s3_bucket: str, postgres_url: str
) -> Callable[..., Settings]:
    """A fresh bucket and a fresh database per test."""
    return lambda **kw: backend_settings_s3(tmp_path, seaweedfs, s3_bucket, postgres_url, **kw)


# Backends a full HTTP suite runs against: name -> fixture name that yields a settings factory.
BACKENDS = ["local", "s3"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings_factory(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., Settings]:
    if backend == "local":
        return lambda **kw: backend_settings_local(tmp_path, **kw)
    return request.getfixturevalue(f"{backend}_settings_factory")  # type: ignore[no-any-return]


@dataclass
class Api:
    """An in-process app with its runtime, clock and ready-made keys."""

    runtime: Runtime
    clock: Clock
    http: httpx.AsyncClient
    admin_key: str
    alice_key: str
    bob_key: str
    extra: dict[str, Any] = field(default_factory=dict)

    def auth(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    @property
    def alice(self) -> dict[str, str]:
        return self.auth(self.alice_key)

    @property
    def bob(self) -> dict[str, str]:
        return self.auth(self.bob_key)

    @property
    def admin(self) -> dict[str, str]:
        return self.auth(self.admin_key)

    async def upload(self, path: Path, headers: dict[str, str] | None = None, **fields: Any) -> httpx.Response:
        with path.open("rb") as f:
            return await self.http.post(
                "/v1/audio", headers=headers or self.alice,
                files={"file": (path.name, f, "application/octet-stream")},
                data={k: str(v) for k, v in fields.items()},
            )

    async def settled(self) -> None:
        """Wait for the analysis that runs after uploads (loudness, ingest renditions)."""
        assert self.runtime.analysis is not None
        await self.runtime.analysis.settled()

    async def row_count(self) -> int:
        return await self.runtime.catalog.count_rows()

    async def blob_keys(self) -> list[str]:
        return [m.key async for m in self.runtime.store.list("")]


async def make_api(settings: Settings) -> tuple[Api, Runtime]:
    clock = Clock()
    runtime = Runtime.build(settings, clock=clock)
    await runtime.migrate()
    admin = (await runtime.keys.create("admin", admin=True)).key
    alice = (await runtime.keys.create("alice")).key
    bob = (await runtime.keys.create("bob")).key
    app = create_app(runtime)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    return Api(runtime, clock, http, admin, alice, bob), runtime


@contextlib.asynccontextmanager
async def served_api(settings: Settings) -> AsyncIterator[Api]:
    """An in-process app on `settings`, its client and runtime closed afterwards."""
    a, runtime = await make_api(settings)
    try:
        yield a
    finally:
        await a.http.aclose()
        await runtime.close()


@pytest.fixture
async def api(settings_factory: Callable[..., Settings]) -> AsyncIterator[Api]:
    async with served_api(settings_factory(auth_cache_seconds=0)) as a:
        yield a


@pytest.fixture
async def small_api(settings_factory: Callable[..., Settings]) -> AsyncIterator[Api]:
    """An app whose upload limit is 64 KiB."""
    async with served_api(settings_factory(auth_cache_seconds=0, max_upload_bytes=64 * 1024)) as a:
        yield a
