"""The admin commands run from another folder never make a second catalogue: each refuses with
one line naming the setting, writes nothing, and works once `--data-dir` points at the server's
folder; `--create` starts a new catalogue on purpose."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from fixtures_client_server import Served

ADMIN_COMMANDS = [
    ("keys", "create", "--owner", "zed"),
    ("keys", "list"),
    ("keys", "revoke", "0190d6f0-0000-7000-8000-000000000000"),
    ("db", "upgrade"),
    ("db", "current"),
    ("sweep",),
    ("worker",),
    ("cleanup", "--older-than", "1h"),
    ("reconcile",),
]


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`audiostore ARGS` in `cwd`, with no AUDIOSTORE_* setting from the test's environment."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AUDIOSTORE_")}
    return subprocess.run([sys.executable, "-m", "audiostore", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env={**clean, "COLUMNS": "80", **(env or {})})


@pytest.mark.parametrize("command", ADMIN_COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_admin_command_in_another_folder_refuses_and_writes_nothing(command: tuple[str, ...], tmp_path: Path) -> None:
    done = run(*command, cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    # (the worker says first that it has started: its stop signals are handled from there)
    lines = [line for line in done.stderr.strip().splitlines() if "worker: started" not in line]
    assert len(lines) == 1 and lines[0].startswith("error: There is no catalogue at "), done.stderr
    assert str(tmp_path / "audiostore-data" / "catalog.db") in lines[0]
    assert "--data-dir" in lines[0]
    assert ("--create" in lines[0]) == (command[:2] in (("keys", "create"), ("db", "upgrade")))
    assert done.stdout == ""
    assert list(tmp_path.iterdir()) == []  # no ./audiostore-data


def test_doctor_in_another_folder_reports_and_creates_nothing(tmp_path: Path) -> None:
    done = run("doctor", cwd=tmp_path)
    assert done.returncode == 1
    assert "FAIL store: reach: there is no data folder at" in done.stdout
    assert "FAIL database: reach: There is no catalogue at" in done.stdout
    assert "audiostore serve` creates it on first start" in done.stdout
    assert list(tmp_path.iterdir()) == []


def test_data_dir_reaches_the_servers_catalogue_from_anywhere(served: Served, tmp_path: Path) -> None:
    data = str(served.proc.data_dir)
    made = run("keys", "create", "--owner", "far-away", "--data-dir", data, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    key = made.stdout.splitlines()[0]
    assert httpx.get(f"{served.url}/v1/audio", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    listed = json.loads(run("keys", "list", "--json", "--owner", "far-away", "--data-dir", data, cwd=tmp_path).stdout)
    assert [k["owner"] for k in listed] == ["far-away"]
    assert run("keys", "revoke", listed[0]["id"], "--data-dir", data, cwd=tmp_path).returncode == 0
    assert "head=" in run("db", "current", "--data-dir", data, cwd=tmp_path).stdout
    assert run("sweep", "--data-dir", data, cwd=tmp_path).returncode == 0
    assert run("doctor", "--data-dir", data, cwd=tmp_path).returncode == 0
    assert list(tmp_path.iterdir()) == []


def test_create_starts_a_new_catalogue_on_purpose(tmp_path: Path) -> None:
    made = run("keys", "create", "--owner", "first", "--admin", "--create", "--data-dir", "new", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "new" / "catalog.db").exists()
    # Once it exists, the other commands use it without --create.
    listed = json.loads(run("keys", "list", "--json", "--data-dir", "new", cwd=tmp_path).stdout)
    assert [(k["owner"], k["admin"]) for k in listed] == [("first", True)]

    upgraded = run("db", "upgrade", "--create", cwd=tmp_path, env={"AUDIOSTORE_DATA_DIR": str(tmp_path / "other")})
    assert upgraded.returncode == 0, upgraded.stderr
    current = run("db", "current", "--data-dir", "other", cwd=tmp_path).stdout
    assert current.split()[0].removeprefix("current=") == current.split()[1].removeprefix("head=")
