"""Unfinished tus uploads remembered across processes, so a run that was killed resumes.

A small JSON file (default `$XDG_CACHE_HOME/audiostore/uploads.json`, else
`~/.cache/audiostore/uploads.json`) maps an upload's fingerprint to its URL on the service
and when the service will forget it (`Upload-Expires`). The fingerprint is a hash of the
service URL, the file's absolute path, size and modification time, and the upload's fields:
the same command on the same unchanged file finds its upload again; a changed file, other
fields or another service start a new one. Only the fingerprint is stored, never the path
or a key. Entries leave when their upload is stored, fails for good or has expired.

Writes replace the file whole (a temporary file renamed over it), so a reader never sees
half of one. Two processes writing at once may lose the other's entry: that upload then
starts again from zero if it is killed, and is stored once either way.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

STATE_FILE_NAME = "uploads.json"


def default_state_path() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "audiostore" / STATE_FILE_NAME


def fingerprint(base_url: str, identity: tuple[str, int, int], metadata: str) -> str:
    """The key of one upload: service, file (path, size, mtime) and fields, hashed."""
    facts = json.dumps([base_url, *identity, metadata], separators=(",", ":"))
    return hashlib.sha256(facts.encode("utf-8")).hexdigest()


class UploadStateFile:
    """The file where `Client.upload(..., upload_state=...)` keeps unfinished tus uploads.

    Example:
        ```py
        c.upload("session.wav", upload_state=UploadStateFile())  # killed? run it again
        ```
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_state_path()

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {}  # none yet, or not ours: every upload then simply starts afresh
        if not isinstance(data, dict):
            return {}
        now = datetime.now(timezone.utc).timestamp()
        return {k: v for k, v in data.items()
                if isinstance(v, dict) and isinstance(v.get("url"), str) and v.get("expires", now + 1) > now}

    def _write(self, entries: dict[str, dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".uploads-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(entries, f, indent=1, sort_keys=True)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> str | None:
        """The URL of the unfinished upload `key`, if one is remembered and not expired."""
        entry = self._read().get(key)
        return str(entry["url"]) if entry else None

    def put(self, key: str, url: str, expires_at: datetime | None) -> None:
        entries = self._read()
        entry: dict[str, Any] = {"url": url}
        if expires_at is not None:
            entry["expires"] = expires_at.timestamp()
        entries[key] = entry
        self._write(entries)

    def forget(self, key: str) -> None:
        entries = self._read()
        if entries.pop(key, None) is not None:
            self._write(entries)


__all__ = ["UploadStateFile", "default_state_path", "fingerprint"]
