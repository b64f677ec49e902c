"""The README's commands run as written: every block marked runnable, against a real server.

A block is runnable when the line before its fence is `<!-- runnable -->` (an HTML comment, so
readers do not see it). The blocks run in README order, as a reader pastes them, in one folder:
the folder a real `audiostore serve` was started in (its `./audiostore-data`, the default), with
`.venv` there pointing at this interpreter's venv. The only change made to a block is that
`http://127.0.0.1:8000` (the default address) becomes the test server's URL; `AUDIOSTORE_URL`
and `AUDIOSTORE_KEY` (the first admin key, from `audiostore-data/admin.key`) are set for
every block, as the README's "Using it" exports them. Shell blocks run with
`bash -euo pipefail` and `.venv/bin` on PATH, Python blocks with this venv's python; each has
its own timeout. Files a block makes (the sample takes) stay for the blocks after it, so the
blocks run in order in one test.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from server_process import ServerProcess

README = Path(__file__).resolve().parent.parent / "README.md"
MARKER = "<!-- runnable -->"
DEFAULT_URL = "http://127.0.0.1:8000"
BLOCK_TIMEOUT = 180.0  # seconds; a block speaks, uploads and streams a few seconds of audio


@dataclass(frozen=True)
class Block:
    line: int  # 1-based line of the opening fence
    language: str  # "bash" or "python"
    code: str


def runnable_blocks(text: str) -> list[Block]:
    """The fenced blocks whose preceding line is the marker, in order."""
    lines = text.splitlines()
    blocks: list[Block] = []
    for i, line in enumerate(lines):
        if line.strip() != MARKER:
            continue
        fence = re.fullmatch(r"```(bash|python)\s*", lines[i + 1]) if i + 1 < len(lines) else None
        if fence is None:
            raise AssertionError(f"README.md:{i + 1}: {MARKER} must be followed by a ```bash or ```python fence")
        end = next((j for j in range(i + 2, len(lines)) if lines[j].strip() == "```"), None)
        if end is None:
            raise AssertionError(f"README.md:{i + 2}: runnable block has no closing fence")
        blocks.append(Block(i + 2, fence.group(1), "\n".join(lines[i + 2:end]) + "\n"))
    return blocks


def run_block(block: Block, cwd: Path, env: dict[str, str], url: str) -> subprocess.CompletedProcess[str]:
    code = block.code.replace(DEFAULT_URL, url)
    if block.language == "bash":
        argv = ["bash", "-euo", "pipefail", "-c", code]
    else:
        argv = [str(cwd / ".venv" / "bin" / "python"), "-c", code]
    try:
        return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=BLOCK_TIMEOUT, start_new_session=True)
    except subprocess.TimeoutExpired as exc:
        return subprocess.CompletedProcess(argv, -9, str(exc.stdout or ""), f"timed out after {BLOCK_TIMEOUT}s\n{exc.stderr or ''}")


def reader_env(folder: Path, url: str, admin_key: str) -> dict[str, str]:
    """A reader's shell: no AUDIOSTORE_* setting but the two "Using it" exports, .venv/bin first."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDIOSTORE_")}
    env.pop("VIRTUAL_ENV", None)
    env["PATH"] = f"{folder / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["AUDIOSTORE_URL"] = url
    env["AUDIOSTORE_KEY"] = admin_key
    return env


def reader_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "reader"
    folder.mkdir()
    if sys.prefix == sys.base_prefix or not (Path(sys.prefix) / "bin" / "activate").exists():
        pytest.skip(reason="the README's blocks activate .venv: run the tests from the project's venv")
    (folder / ".venv").symlink_to(sys.prefix)
    return folder


def test_readme_has_runnable_blocks_of_both_kinds() -> None:
    kinds = [b.language for b in runnable_blocks(README.read_text())]
    assert kinds.count("bash") >= 2 and kinds.count("python") >= 3, kinds


def test_a_failing_block_fails(tmp_path: Path) -> None:
    # The runner's own check: a failing command mid-block, or a failure inside a pipe or a
    # command substitution, is a failure; so is an unset variable.
    folder = reader_folder(tmp_path)
    env = reader_env(folder, DEFAULT_URL, "as_none")
    for code in ["false\necho after\n", "KEY=$(false | head -1)\n", "echo $UNSET_VARIABLE\n"]:
        assert run_block(Block(1, "bash", code), folder, env, DEFAULT_URL).returncode != 0, code
    assert run_block(Block(1, "python", "raise SystemExit(3)\n"), folder, env, DEFAULT_URL).returncode == 3


def test_readme_blocks_run_against_a_real_server(tmp_path: Path) -> None:
    folder = reader_folder(tmp_path)
    server = ServerProcess(folder / "audiostore-data").start()
    try:
        admin_key = (server.data_dir / "admin.key").read_text().strip()
        env = reader_env(folder, server.url, admin_key)
        blocks = runnable_blocks(README.read_text())
        for block in blocks:
            done = run_block(block, folder, env, server.url)
            assert done.returncode == 0, (
                f"README.md:{block.line} ({block.language} block) exited {done.returncode}\n"
                f"--- block ---\n{block.code}--- stdout ---\n{done.stdout[-4000:]}\n"
                f"--- stderr ---\n{done.stderr[-4000:]}"
            )
    finally:
        server.stop()
