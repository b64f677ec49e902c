"""`Client`: the synchronous Python SDK over httpx. It speaks only the HTTP API."""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import httpx

from .errors import ApiError, ConnectionFailed

DEFAULT_URL = "http://127.0.0.1:8000"
UploadSource = str | os.PathLike[str] | bytes | IO[bytes]


def _raise_for(response: httpx.Response) -> None:
    if response.is_success or response.status_code == 304:
        return
    try:
        err = response.json()["error"]
        raise ApiError(response.status_code, err["code"], err["message"])
    except (ValueError, KeyError, TypeError):
        raise ApiError(response.status_code, "http_error", response.text[:200]) from None


class Client:
    """A client for one audiostore service.

    Example:
        ```py
        with Client("http://127.0.0.1:8000", api_key=key) as c:
            obj = c.upload("take1.wav", collection="takes")
            print(c.sign(obj["id"], expires_in=600)["url"])
        ```
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = (base_url or os.environ.get("AUDIOSTORE_URL") or DEFAULT_URL).rstrip("/")
        key = api_key or os.environ.get("AUDIOSTORE_KEY")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout, transport=transport)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kw)
        except httpx.TransportError as exc:
            raise ConnectionFailed(f"Cannot reach {self.base_url}: {exc}") from exc
        _raise_for(response)
        return response

    def upload(
        self,
        source: UploadSource,
        *,
        name: str | None = None,
        collection: str | None = None,
        ttl_seconds: int | None = None,
        metadata: dict[str, Any] | None = None,
        text: str | None = None,
    ) -> dict[str, Any]:
        """Upload a path, bytes or a binary file object; returns the audio object."""
        import json

        fields: dict[str, str] = {}
        for k, v in (("name", name), ("collection", collection), ("text", text)):
            if v is not None:
                fields[k] = v
        if ttl_seconds is not None:
            fields["ttl_seconds"] = str(ttl_seconds)
        if metadata is not None:
            fields["metadata"] = json.dumps(metadata)
        if isinstance(source, (str, os.PathLike)):
            path = Path(source)
            ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            with path.open("rb") as f:
                return self._call("POST", "/v1/audio", files={"file": (path.name, f, ctype)}, data=fields).json()
        filename = name or "audio"
        return self._call(
            "POST", "/v1/audio", files={"file": (filename, source, "application/octet-stream")}, data=fields
        ).json()

    def get(self, audio_id: str) -> dict[str, Any]:
        return self._call("GET", f"/v1/audio/{audio_id}").json()

    def list_page(self, *, cursor: str | None = None, limit: int = 50, **filters: Any) -> dict[str, Any]:
        params = {k: v for k, v in {**filters, "cursor": cursor, "limit": limit}.items() if v is not None}
        return self._call("GET", "/v1/audio", params=params).json()

    def list(self, *, limit: int | None = None, page_size: int = 100, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every matching object, newest first, fetching pages as needed."""
        cursor: str | None = None
        seen = 0
        while True:
            page = self.list_page(cursor=cursor, limit=page_size, **filters)
            for item in page["items"]:
                yield item
                seen += 1
                if limit is not None and seen >= limit:
                    return
            cursor = page["next_cursor"]
            if not cursor:
                return

    def update(self, audio_id: str, **changes: Any) -> dict[str, Any]:
        return self._call("PATCH", f"/v1/audio/{audio_id}", json=changes).json()

    def delete(self, audio_id: str) -> None:
        self._call("DELETE", f"/v1/audio/{audio_id}")

    def sign(self, audio_id: str, *, expires_in: int | None = None) -> dict[str, Any]:
        body = {"expires_in": expires_in} if expires_in is not None else {}
        return self._call("POST", f"/v1/audio/{audio_id}/url", json=body).json()

    def sign_many(self, ids: Sequence[str], *, expires_in: int | None = None) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"ids": list(ids)}
        if expires_in is not None:
            body["expires_in"] = expires_in
        return self._call("POST", "/v1/urls", json=body).json()["urls"]

    def download(self, audio_id: str, path: str | os.PathLike[str]) -> Path:
        """Stream the bytes to `path`."""
        target = Path(path)
        try:
            with self._http.stream("GET", f"/v1/audio/{audio_id}/content") as response:
                if not response.is_success:
                    response.read()
                    _raise_for(response)
                with target.open("wb") as f:
                    for chunk in response.iter_bytes(256 * 1024):
                        f.write(chunk)
        except httpx.TransportError as exc:
            raise ConnectionFailed(f"Cannot reach {self.base_url}: {exc}") from exc
        return target

    def tts(
        self,
        text: str,
        *,
        voice: str | None = None,
        format: str | None = None,
        speed: float | None = None,
        ttl_seconds: int | None = None,
        segments: bool = False,
    ) -> dict[str, Any]:
        """Speak `text` and store it; returns the audio object with `url`, `engine`,
        `cache_hit` (and `segments` when asked)."""
        body: dict[str, Any] = {"text": text, "segments": segments}
        for k, v in (("voice", voice), ("format", format), ("speed", speed), ("ttl_seconds", ttl_seconds)):
            if v is not None:
                body[k] = v
        return self._call("POST", "/v1/tts", json=body).json()

    def tts_voices(self) -> dict[str, Any]:
        """`{"engines": [...], "voices": [{id, engine, language, name}, ...]}`."""
        return self._call("GET", "/v1/tts/voices").json()

    def info(self) -> dict[str, Any]:
        return self._call("GET", "/v1/info").json()

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/v1/health").json()
