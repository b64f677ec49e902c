"""Remove abandoned resumable uploads: rows past their `Upload-Expires` and their parts in
`{data_dir}/uploads`, parts a crash left without a row, and the single-use records of signed
upload URLs that have expired anyway. Each row goes through one conditional DELETE, so on
several instances each upload is removed once."""

from __future__ import annotations

from ..runtime import Runtime


async def remove_expired_uploads(rt: Runtime) -> dict[str, int]:
    counts = await rt.tus_uploads.remove_expired()
    counts["upload_url_uses"] = await rt.upload_grants.forget_expired()
    return counts
