"""The baseline for the JSON routes: bare FastAPI handlers doing what each route must do.

Each handler runs the same catalogue queries on the same database as audiostore (through the
same `Catalog` methods, engine and driver): the API key looked up by prefix and its SHA-256
compared, then the object's own queries, then an HMAC for a signed URL; and returns the same
JSON fields. No middleware, no response model, no dependency, no key cache: the floor a FastAPI
handler on granian stands on. Environment: `BENCH_DATABASE_URL`, `BENCH_DATA_DIR` (for the
signing secret), `BENCH_PUBLIC_URL`, `BENCH_TTS_HASH` (the cached request's hash, which the
bare handler does not recompute).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from audiostore import __version__
from audiostore.catalog import AudioRow, Catalog, ListQuery, create_engine
from audiostore.signing import UrlSigner, load_or_create_secret


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat().replace("+00:00", "Z")


def _audio(row: AudioRow, url: str | None = None, url_expires: datetime | None = None) -> dict[str, Any]:
    return {
        "id": row.id, "owner": row.owner, "collection": row.collection, "name": row.name,
        "key": row.key, "content_type": row.content_type, "format": row.format,
        "codec": row.codec, "duration": row.duration, "sample_rate": row.sample_rate,
        "channels": row.channels, "bitrate": row.bitrate, "size": row.size,
        "sha256": row.sha256, "metadata": row.meta or {}, "text": row.text,
        "voice_id": row.voice_id, "created_at": _iso(row.created_at),
        "expires_at": _iso(row.expires_at), "location": row.location or "primary",
        "url": url, "url_expires_at": _iso(url_expires), "loudness_lufs": None,
        "true_peak_dbtp": None, "analysis": "done", "renditions": [],
    }


def create_app() -> FastAPI:
    catalog = Catalog(create_engine(os.environ["BENCH_DATABASE_URL"]))
    derived = catalog.derived_blobs
    tts_requests = catalog.tts_requests
    signer = UrlSigner([load_or_create_secret(Path(os.environ["BENCH_DATA_DIR"]) / "signing.key")])
    public_url = os.environ["BENCH_PUBLIC_URL"]
    tts_hash = os.environ.get("BENCH_TTS_HASH", "")
    app = FastAPI()

    async def owner_of(request: Request) -> str | None:
        key = request.headers.get("authorization", "").removeprefix("Bearer ")
        parts = key.split("_", 2)
        if len(parts) != 3:
            return None
        row = await catalog.api_keys.by_prefix(parts[1])
        digest = hashlib.sha256(key.encode()).hexdigest()
        if row is None or row.revoked_at is not None or not hmac.compare_digest(row.secret_sha256, digest):
            return None
        return row.owner

    def url_of(audio_id: str, seconds: int = 3600) -> tuple[str, datetime]:
        expires_at = datetime.now(UTC) + timedelta(seconds=seconds)
        expires = int(expires_at.timestamp())
        signature = signer.sign(audio_id, expires, {})
        return f"{public_url}/v1/audio/{audio_id}/content?expires={expires}&signature={signature}", expires_at

    unauthorized = JSONResponse({"error": {"code": "unauthorized", "message": "No."}}, 401)
    not_found = JSONResponse({"error": {"code": "not_found", "message": "No such audio."}}, 404)

    @app.get("/")
    async def root() -> dict[str, str]:
        return {"bare": "yes"}

    @app.get("/v1/health")
    async def health() -> JSONResponse:
        await catalog.ping()
        return JSONResponse({"status": "ok", "catalog": True, "version": __version__})

    @app.get("/v1/info")
    async def info(request: Request) -> JSONResponse:
        if await owner_of(request) is None:
            return unauthorized
        return JSONResponse({
            "version": __version__, "store": {"kind": "local"}, "catalog": {"kind": catalog.dialect},
            "signed_urls": "service", "url_default_expiry": 3600, "url_max_expiry": 604800,
            "max_upload_bytes": 1 << 30, "accepted_formats": ["wav", "mp3", "flac", "ogg"],
            "key_template": "{owner}/{collection}/{date}/{id}.{ext}",
        })

    @app.get("/v1/audio/{audio_id}")
    async def get_audio(audio_id: str, request: Request) -> JSONResponse:
        owner = await owner_of(request)
        if owner is None:
            return unauthorized
        row = await catalog.get_visible(audio_id, owner=owner, now=datetime.now(UTC))
        if row is None:
            return not_found
        await derived.list_for([row.id], kind="rendition")
        return JSONResponse(_audio(row))

    @app.get("/v1/audio")
    async def list_audio(request: Request, limit: int = 50, prefix: str | None = None,
                         created_after: datetime | None = None) -> JSONResponse:
        owner = await owner_of(request)
        if owner is None:
            return unauthorized
        query = ListQuery(owner=owner, key_prefix=prefix, created_after=created_after, limit=limit + 1)
        rows = await catalog.list_visible(query, now=datetime.now(UTC))
        page = rows[:limit]
        await derived.list_for([r.id for r in page], kind="rendition")
        return JSONResponse({"items": [_audio(r) for r in page],
                             "next_cursor": page[-1].id if len(rows) > limit else None})

    @app.patch("/v1/audio/{audio_id}")
    async def patch_audio(audio_id: str, request: Request) -> JSONResponse:
        owner = await owner_of(request)
        if owner is None:
            return unauthorized
        body = await request.json()
        now = datetime.now(UTC)
        row = await catalog.get_visible(audio_id, owner=owner, now=now)
        if row is None:
            return not_found
        values = {"meta": body["metadata"], "updated_at": now}
        await catalog.update_audio(audio_id, values)
        row.meta = body["metadata"]
        return JSONResponse(_audio(row))

    @app.post("/v1/audio/{audio_id}/url")
    async def sign_url(audio_id: str, request: Request) -> JSONResponse:
        owner = await owner_of(request)
        if owner is None:
            return unauthorized
        row = await catalog.get_visible(audio_id, owner=owner, now=datetime.now(UTC))
        if row is None:
            return not_found
        url, expires_at = url_of(row.id)
        return JSONResponse({"id": row.id, "url": url, "expires_at": _iso(expires_at)})

    @app.post("/v1/urls")
    async def sign_urls(request: Request) -> JSONResponse:
        owner = await owner_of(request)
        if owner is None:
            return unauthorized
        ids = (await request.json())["ids"]
        rows = await catalog.get_many_visible(ids, owner=owner, now=datetime.now(UTC))
        items = []
        for audio_id in ids:
            if audio_id in rows:
                url, expires_at = url_of(audio_id)
                items.append({"id": audio_id, "url": url, "expires_at": _iso(expires_at), "error": None})
            else:
                items.append({"id": audio_id, "url": None, "expires_at": None,
                              "error": {"code": "not_found", "message": "No such audio."}})
        return JSONResponse({"urls": items})

    @app.post("/v1/tts")
    async def tts_cache_hit(request: Request) -> JSONResponse:
        owner = await owner_of(request)
        if owner is None:
            return unauthorized
        await request.json()
        entry = await tts_requests.get(owner, tts_hash)
        if entry is None:
            return not_found
        rows = await catalog.get_many_visible([entry.audio_id], owner=owner, now=datetime.now(UTC))
        row = rows[entry.audio_id]
        url, expires_at = url_of(row.id)
        return JSONResponse({**_audio(row, url, expires_at), "engine": entry.engine,
                             "cache_hit": True, "phonemes": entry.phonemes, "segments": None})

    return app
