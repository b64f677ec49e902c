"""Text no catalogue can store is a 4xx that writes nothing, on SQLite and PostgreSQL alike
(and a list time without a timezone is a 422, not a 500).

PostgreSQL refuses a NUL character in text (each of these was a 500 there, from asyncpg), and
a lone surrogate (a JSON `\\ud800` escape) cannot be encoded at all: stored in metadata on
SQLite, it made every later list of that owner a 500. Non-finite numbers are not JSON.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from audio_factory import write_wav
from conftest import Api
from test_bad_input import assert_nothing_written

from audiostore.errors import ValidationFailed

NUL = "a\x00b"
SURROGATE_JSON = '{"k": "\\ud800"}'  # valid JSON text whose string is a lone surrogate


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"text": NUL}, 422, "validation_failed"),
        ({"voice_id": NUL}, 422, "validation_failed"),
        ({"voice_id": "v" * 129}, 422, "validation_failed"),
        ({"metadata": json.dumps({"k": NUL})}, 422, "invalid_metadata"),
        ({"metadata": json.dumps({NUL: 1})}, 422, "invalid_metadata"),
        ({"metadata": SURROGATE_JSON}, 422, "invalid_metadata"),
        ({"metadata": '{"k": 1e999}'}, 422, "invalid_metadata"),
        ({"metadata": '{"k": NaN}'}, 422, "invalid_metadata"),
    ],
    ids=["text-nul", "voice-nul", "voice-too-long", "metadata-value-nul", "metadata-key-nul",
         "metadata-surrogate", "metadata-infinity", "metadata-nan"],
)
async def test_upload_fields_that_cannot_be_stored_are_refused(
    api: Api, wav_bytes: bytes, fields: dict[str, str], status: int, code: str
) -> None:
    def post() -> object:
        return api.http.post("/v1/audio", headers=api.alice,
                             files={"file": ("a.wav", wav_bytes, "audio/wav")}, data=fields)

    await assert_nothing_written(api, post, status, code)  # type: ignore[arg-type]
    listed = await api.http.get("/v1/audio", headers=api.alice)
    assert listed.status_code == 200


async def test_a_large_upload_with_a_bad_field_leaves_no_intent_row_and_no_blob(
    api: Api, tmp_path: Path
) -> None:
    """Over 8 MiB on S3 the body goes to the bucket while it arrives, behind an intent row;
    the field check after the body must undo both."""
    big = write_wav(tmp_path / "big.wav", 9 * 1024 * 1024)

    async def post() -> httpx.Response:
        with big.open("rb") as f:
            return await api.http.post("/v1/audio", params={"voice_id": "v" * 200}, content=f.read(),
                                       headers={**api.alice, "content-type": "audio/wav"})

    await assert_nothing_written(api, post, 422, "validation_failed")


@pytest.mark.parametrize(
    "url",
    ["/v1/audio?q=a%00b", "/v1/audio?collection=a%00b", "/v1/audio?prefix=%00", "/v1/audio?owner=a%00",
     "/v1/audio?cursor=%00%00", "/v1/audio/a%00b", "/v1/audio/a%00b/content"],
)
async def test_a_nul_in_the_url_is_400(api: Api, url: str) -> None:
    r = await api.http.get(url, headers=api.alice)
    assert r.status_code == 400, r.text
    assert r.json()["error"] == {
        "code": "bad_request", "message": "The URL holds a NUL character (%00) in its path or query."
    }


async def test_json_bodies_with_unstorable_strings_are_422(api: Api, tones: dict[str, Path]) -> None:
    obj = (await api.upload(tones["wav"], metadata=json.dumps({"kept": "yes"}))).json()
    cases = [
        ("PATCH", f"/v1/audio/{obj['id']}", {"metadata": {"k": NUL}}, "validation_failed"),
        ("PATCH", f"/v1/audio/{obj['id']}", {"metadata": {"k": "\ud800"}}, "validation_failed"),
        ("POST", "/v1/urls", {"ids": [NUL]}, "validation_failed"),
        ("POST", "/v1/urls", {"ids": ["\udfff"]}, "validation_failed"),
        ("PUT", "/v1/queues/morning", {"audio_ids": [obj["id"], NUL]}, "validation_failed"),
        ("POST", f"/v1/audio/{obj['id']}/url", {"format": NUL}, "validation_failed"),
        ("POST", "/v1/tts", {"text": "hello", "voice": NUL}, "validation_failed"),
    ]
    for method, path, body, code in cases:
        r = await api.http.request(method, path, content=json.dumps(body),
                                   headers={**api.alice, "content-type": "application/json"})
        assert (r.status_code, r.json()["error"]["code"]) == (422, code), (path, body, r.text)
    again = (await api.http.get(f"/v1/audio/{obj['id']}", headers=api.alice)).json()
    assert again["metadata"] == {"kept": "yes"}
    assert (await api.http.get("/v1/queues/morning", headers=api.alice)).status_code == 404


async def test_a_key_label_must_be_storable(api: Api) -> None:
    with pytest.raises(ValidationFailed, match="label holds a NUL character"):
        await api.runtime.keys.create("carol", label=NUL)
    with pytest.raises(ValidationFailed, match="at most 255"):
        await api.runtime.keys.create("carol", label="l" * 256)


@pytest.mark.parametrize("param", ["created_after", "created_before"])
async def test_a_list_time_without_a_timezone_is_422(api: Api, param: str) -> None:
    """A naive time was a 500 (the catalogue keeps UTC and refuses to guess)."""
    r = await api.http.get("/v1/audio", params={param: "2026-01-01T00:00:00"}, headers=api.alice)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["message"] == f"{param} needs a timezone (e.g. 2026-01-01T00:00:00Z)."
    ok = await api.http.get("/v1/audio", params={param: "2026-01-01T00:00:00Z"}, headers=api.alice)
    assert ok.status_code == 200


async def test_deeply_nested_metadata_is_422(api: Api, tones: dict[str, Path], wav_bytes: bytes) -> None:
    """5,000 levels overflowed the JSON parser's stack: a 500. Metadata nests 32 levels at most."""
    for depth in (5000, 33):
        nested = '{"a": ' + "[" * depth + "]" * depth + "}"

        def post(nested: str = nested) -> object:
            return api.http.post("/v1/audio", headers=api.alice, data={"metadata": nested},
                                 files={"file": ("a.wav", wav_bytes, "audio/wav")})

        r = await assert_nothing_written(api, post, 422, "invalid_metadata")  # type: ignore[arg-type]
        assert "at most 32 levels" in r.json()["error"]["message"]
    obj = (await api.upload(tones["wav"], metadata='{"a": ' + "[" * 31 + "]" * 31 + "}")).json()
    assert "id" in obj, obj
    for depth in (900, 40):
        r = await api.http.patch(f"/v1/audio/{obj['id']}", content='{"metadata": {"a": ' + "[" * depth + "]" * depth + "}}",
                                 headers={**api.alice, "content-type": "application/json"})
        assert 400 <= r.status_code < 500, r.text
