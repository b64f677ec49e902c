"""Run a real `audiostore worker` process for tests, its output in files (a pipe nobody reads
during the run would fill and stall it), and stop it the way a deployment does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

STARTED = "worker: started"


class WorkerProcess:
    def __init__(self, env: dict[str, str], cwd: Path, name: str = "worker") -> None:
        self.env, self.cwd = env, cwd
        self.out_path, self.err_path = cwd / f"{name}.out", cwd / f"{name}.err"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        with self.out_path.open("wb") as out, self.err_path.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "audiostore", "worker", "--json"], env=self.env,
                stdout=out, stderr=err, start_new_session=True, cwd=self.cwd,
            )
        return self

    @property
    def stdout(self) -> str:
        return self.out_path.read_text()

    @property
    def stderr(self) -> str:
        return self.err_path.read_text()

    def wait_for(self, what: str, text: str, timeout: float = 120.0) -> None:
        """Until `text` shows in the worker's stdout or stderr (`what`); fails if it exits."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in getattr(self, what):
                return
            assert self.proc.poll() is None, f"the worker exited {self.proc.returncode}: {self.stderr[-2000:]}"
            time.sleep(0.05)
        raise AssertionError(f"no {text!r} from the worker in {timeout} s: {self.stderr[-2000:]}")

    def wait_started(self, timeout: float = 120.0) -> None:
        """Until the worker says its stop signals are handled (its first step)."""
        self.wait_for("stderr", STARTED, timeout)

    def stop(self, timeout: float = 120.0) -> int:
        """SIGTERM to its process group, as systemd or a container runtime sends; its status."""
        assert self.proc is not None
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
            raise
