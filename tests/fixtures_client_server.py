"""A real `audiostore serve` for the client tests (SDK, CLI, web page): one per session.

It allows one CORS origin (`CORS_ORIGIN`) so the browser-facing headers can be checked on
the real server too.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from server_process import ServerProcess

CORS_ORIGIN = "http://app.example.test"


@dataclass
class Served:
    proc: ServerProcess
    admin_key: str

    @property
    def url(self) -> str:
        return self.proc.url

    def cli(self, *args: str, key: str | None = None, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run `audiostore ARGS` as a user would, against this server."""
        full_env = {**os.environ, "AUDIOSTORE_URL": self.url, "AUDIOSTORE_DATA_DIR": str(self.proc.data_dir),
                    "COLUMNS": "200", **(env or {})}
        if key:
            full_env["AUDIOSTORE_KEY"] = key
        return subprocess.run([sys.executable, "-m", "audiostore", *args], env=full_env,
                              capture_output=True, text=True, timeout=timeout)

    def new_key(self, owner: str) -> str:
        created = self.cli("keys", "create", "--owner", owner)
        assert created.returncode == 0, created.stderr
        return created.stdout.splitlines()[0]


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data = tmp_path_factory.mktemp("client-serve") / "audiostore-data"
    proc = ServerProcess(data, env={"AUDIOSTORE_CORS_ORIGINS": CORS_ORIGIN}).start()
    try:
        yield Served(proc, (data / "admin.key").read_text().strip())
    finally:
        proc.stop()
