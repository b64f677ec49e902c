"""Ingest a finished file on local disk (a tus upload's part) through the one ingest path.

The file is fed through a `StagedUpload` as any body is, so it is hashed, size-checked,
sniffed, probed, given its intent row and put exactly as `POST /v1/audio` does.
"""

from __future__ import annotations

from pathlib import Path

import anyio

from ..catalog import AudioRow
from .audio import AudioService, UploadFields
from .idempotent_upload import ingest_once
from .principal import Principal

_READ_BYTES = 8 * 1024 * 1024


async def ingest_file(
    audio: AudioService, principal: Principal, path: Path, fields: UploadFields,
    filename: str | None, idempotency_key: str,
) -> AudioRow:
    staged = audio.stage()
    staged.filename = filename
    try:
        with path.open("rb") as f:
            while chunk := await anyio.to_thread.run_sync(f.read, _READ_BYTES):
                staged.write(chunk)
                await staged.pump()
        await staged.pump(final=True)
    except BaseException:
        await staged.close()
        raise
    outcome = await ingest_once(audio, staged, principal, fields, idempotency_key=idempotency_key)
    return outcome.row
