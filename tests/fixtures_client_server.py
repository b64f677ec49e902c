"""A real `audiostore serve` for the client tests (SDK, CLI, web page): one per session on
local disk + SQLite (`served`), one per session on S3 (SeaweedFS) + PostgreSQL
(`served_s3`, started only by the tests that ask for it), and `served_on`, which runs a test
once on each, for the tests whose path depends on the backend (the final ingest, the stored
object, a signed upload URL's one use across the catalogue).

It allows one CORS origin (`CORS_ORIGIN`) so the browser-facing headers can be checked on
the real server too.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from fixtures_postgres import Postgres
from fixtures_seaweedfs import SeaweedFS
from server_process import ServerProcess

CORS_ORIGIN = "http://app.example.test"


@dataclass
class Served:
    proc: ServerProcess
    admin_key: str
    # The settings the server was given that a local command (`keys create`) needs as well:
    # where the catalogue is.
    server_env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.proc.url

    def cli(self, *args: str, key: str | None = None, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run `audiostore ARGS` as a user would, against this server."""
        full_env = {**os.environ, **self.server_env, "AUDIOSTORE_URL": self.url,
                    "AUDIOSTORE_DATA_DIR": str(self.proc.data_dir), "COLUMNS": "200", **(env or {})}
        if key:
            full_env["AUDIOSTORE_KEY"] = key
        return subprocess.run([sys.executable, "-m", "audiostore", *args], env=full_env,
                              capture_output=True, text=True, timeout=timeout)

    def new_key(self, owner: str) -> str:
        created = self.cli("keys", "create", "--owner", owner)
        assert created.returncode == 0, created.stderr
        return created.stdout.splitlines()[0]


def s3_postgres_env(seaweedfs: SeaweedFS, bucket: str, database_url: str) -> dict[str, str]:
    """The settings of a server on one SeaweedFS bucket and one PostgreSQL database, with
    the service's own signed URLs (proxy) so every URL it hands out is its own."""
    return {
        "AUDIOSTORE_STORE": "s3", "AUDIOSTORE_S3_BUCKET": bucket,
        "AUDIOSTORE_S3_ENDPOINT": seaweedfs.endpoint, "AUDIOSTORE_S3_REGION": seaweedfs.region,
        "AUDIOSTORE_S3_ALLOW_HTTP": "true", "AUDIOSTORE_S3_ACCESS_KEY_ID": seaweedfs.access_key,
        "AUDIOSTORE_S3_SECRET_ACCESS_KEY": seaweedfs.secret_key, "AUDIOSTORE_DATABASE_URL": database_url,
        "AUDIOSTORE_SIGNED_URLS": "proxy",
    }


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data = tmp_path_factory.mktemp("client-serve") / "audiostore-data"
    proc = ServerProcess(data, env={"AUDIOSTORE_CORS_ORIGINS": CORS_ORIGIN}).start()
    try:
        yield Served(proc, (data / "admin.key").read_text().strip())
    finally:
        proc.stop()


@pytest.fixture(scope="session")
def served_s3(
    tmp_path_factory: pytest.TempPathFactory, seaweedfs: SeaweedFS, postgres: Postgres
) -> Iterator[Served]:
    database_url = postgres.new_database()
    settings = s3_postgres_env(seaweedfs, seaweedfs.new_bucket(), database_url)
    data = tmp_path_factory.mktemp("client-serve-s3") / "audiostore-data"
    proc = ServerProcess(data, env={**settings, "AUDIOSTORE_CORS_ORIGINS": CORS_ORIGIN}).start()
    try:
        yield Served(proc, (data / "admin.key").read_text().strip(), settings)
    finally:
        proc.stop()
        postgres.drop_database(database_url)


@pytest.fixture(params=["local", pytest.param("s3", marks=[pytest.mark.s3, pytest.mark.postgres])])
def served_on(request: pytest.FixtureRequest) -> Served:
    """`served`, then `served_s3`: the test runs once on each backend."""
    chosen: Served = request.getfixturevalue("served" if request.param == "local" else "served_s3")
    return chosen
