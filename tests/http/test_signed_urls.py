"""Service-signed URLs: no header needed; tampering, expiry, another id or rendition -> 403."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from audiostore.runtime import Runtime
import base64
import hmac
import json
import os
from datetime import UTC, datetime

from audiostore.hmac_sha256 import HmacSha256
from audiostore.http.batch_url_json import _by_encoder, batch_url_json
from audiostore.service import SignedBatch
from audiostore.signing import UrlSigner
from conftest import Api


def _path(url: str) -> str:
    return url.removeprefix("http://testserver")


@pytest.fixture
async def two(api: Api, tones: dict[str, Path]) -> tuple[dict, dict]:
    a = (await api.upload(tones["wav"])).json()
    b = (await api.upload(tones["mp3"])).json()
    return a, b


async def test_signed_url_with_range_and_no_auth(api: Api, two: tuple[dict, dict], tones: dict[str, Path]) -> None:
    a, _ = two
    r = await api.http.post(f"/v1/audio/{a['id']}/url", headers=api.alice, json={"expires_in": 120})
    assert r.status_code == 200
    body = r.json()
    assert body["id"] == a["id"]
    got = await api.http.get(_path(body["url"]), headers={"Range": "bytes=0-15"})
    assert got.status_code == 206
    assert got.content == tones["wav"].read_bytes()[:16]


async def test_tampered_expired_and_moved_signatures(api: Api, two: tuple[dict, dict]) -> None:
    a, b = two
    url = (await api.http.post(f"/v1/audio/{a['id']}/url", headers=api.alice, json={"expires_in": 60})).json()["url"]
    parts = urlsplit(url)
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}

    sig = q["signature"]
    tampered = {**q, "signature": ("A" if sig[0] != "A" else "B") + sig[1:]}
    r = await api.http.get(f"{parts.path}?{urlencode(tampered)}")
    assert r.status_code == 403 and r.json()["error"]["code"] == "signature_invalid"

    longer = {**q, "expires": str(int(q["expires"]) + 3600)}
    assert (await api.http.get(f"{parts.path}?{urlencode(longer)}")).status_code == 403

    other = parts.path.replace(a["id"], b["id"])
    assert (await api.http.get(f"{other}?{parts.query}")).status_code == 403

    rendition = {**q, "format": "mp3"}
    assert (await api.http.get(f"{parts.path}?{urlencode(rendition)}")).status_code == 403

    api.clock.advance(61)
    r = await api.http.get(f"{parts.path}?{parts.query}")
    assert r.status_code == 403 and r.json()["error"]["code"] == "signature_expired"


async def test_expiry_limits(api: Api, two: tuple[dict, dict]) -> None:
    a, _ = two
    r = await api.http.post(f"/v1/audio/{a['id']}/url", headers=api.alice, json={"expires_in": 10**9})
    assert r.status_code == 422
    r = await api.http.post(f"/v1/audio/{a['id']}/url", headers=api.alice, json={"expires_in": 0})
    assert r.status_code == 422


async def test_batch_urls_keep_order(api: Api, two: tuple[dict, dict]) -> None:
    a, b = two
    r = await api.http.post(
        "/v1/urls", headers=api.alice, json={"ids": [b["id"], "nope", a["id"]], "expires_in": 300}
    )
    assert r.status_code == 200
    urls = r.json()["urls"]
    assert [u["id"] for u in urls] == [b["id"], "nope", a["id"]]
    assert urls[1] == {"id": "nope", "url": None, "expires_at": None,
                       "error": {"code": "not_found", "message": "No such audio."}}
    one = (await api.http.post(f"/v1/audio/{a['id']}/url", headers=api.alice,
                               json={"expires_in": 300})).json()
    for u in (urls[0], urls[2]):
        assert set(u) == {"id", "url", "expires_at", "error"} and u["error"] is None
        # The same spelling of a time as every other answer (pydantic's, UTC with a Z).
        assert u["expires_at"].endswith("Z") and u["expires_at"][:13] == one["expires_at"][:13]
        assert (await api.http.get(_path(u["url"]))).status_code == 200


def test_a_batch_signs_as_one_by_one() -> None:
    signer = UrlSigner(["s3cret", "old"])
    ids = ["01937a5e-6f1c-7a42-9d1b-3c4e5f607182", "a b/ü", "", "x~y.z_-"]
    assert signer.sign_each(ids, 2_000_000_000) == [signer.sign(i, 2_000_000_000, {}) for i in ids]
    plain = [f"0193-{i}" for i in range(300)]  # the path that checks the ids once for escaping
    assert signer.sign_each(plain, 7) == [signer.sign(i, 7, {}) for i in plain]
    assert signer.sign_each([], 7) == []


def test_a_batch_answer_is_the_encoders_json() -> None:
    """The JSON written without the encoder is byte for byte the encoder's, and ids that need
    escaping (asked for by a client: a quote, a backslash, a control character, non-ASCII)
    still come out as valid JSON of the same values."""
    at = datetime(2026, 12, 1, 15, 0, 0, 123456, tzinfo=UTC)
    later = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
    ids = ["01937a5e-0001", "nope", "01937a5e-0002"]
    urls = ["http://h/v1/audio/01937a5e-0001/content?expires=1&signature=a-b_c", None,
            "http://s3/b/k.wav?X-Amz-Signature=ff"]
    plain = SignedBatch(ids, urls, [at, None, later])
    assert batch_url_json(plain) == _by_encoder(plain)
    assert json.loads(batch_url_json(plain))["urls"][1] == {
        "id": "nope", "url": None, "expires_at": None,
        "error": {"code": "not_found", "message": "No such audio."}}
    for odd in ['say "hi"', "back\\slash", "tab\there", "ü", "\x7f"]:
        batch = SignedBatch([odd, *ids[1:]], [None, None, urls[2]], [None, None, later])
        body = batch_url_json(batch)
        assert body == _by_encoder(batch) and json.loads(body)["urls"][0]["id"] == odd


def test_the_precomputed_hmac_is_hmac_sha256() -> None:
    """Keys shorter than, equal to and longer than SHA-256's 64-byte block, and the empty key."""
    for size in (0, 1, 32, 63, 64, 65, 200):
        key = os.urandom(size)
        mac = HmacSha256(key)
        for message in (b"", b"v2\nid\n1\n", os.urandom(300)):
            assert mac.digest(message) == hmac.digest(key, message, "sha256")
            assert mac.hexdigest(message) == hmac.new(key, message, "sha256").hexdigest()
    signer = UrlSigner(["s3cret"])
    want = hmac.digest(b"s3cret", b"v2\nx\n5\n", "sha256")
    assert signer.sign("x", 5, {}) == base64.urlsafe_b64encode(want).rstrip(b"=").decode()


def test_rotation_old_secret_still_verifies() -> None:
    old = UrlSigner(["old-secret"])
    rotated = UrlSigner(["new-secret", "old-secret"])
    sig = old.sign("id1", 2_000_000_000, {})
    rotated.verify("id1", 2_000_000_000, {}, sig, now=0)  # no exception
    only_new = UrlSigner(["new-secret"])
    with pytest.raises(Exception, match="signature"):
        only_new.verify("id1", 2_000_000_000, {}, sig, now=0)


async def test_local_runtime_keeps_generated_secret(tmp_path: Path) -> None:
    from audiostore.settings import Settings

    s = Settings(data_dir=tmp_path)
    rt1 = Runtime.build(s)
    rt2 = Runtime.build(s)
    assert (tmp_path / "signing.key").stat().st_mode & 0o777 == 0o600
    assert rt1.audio.signer.sign("x", 1, {}) == rt2.audio.signer.sign("x", 1, {})
    await rt1.close()
    await rt2.close()


async def test_a_signed_urls_answer_may_sit_in_a_cdn_while_the_url_and_audio_last(
    api: Api, tones: dict[str, Path]
) -> None:
    """Seeds 002 and 003 put a CDN in front: a signed URL's bytes are `public` for the URL's
    remaining life (never past the audio's expiry); with an API key they stay `private`."""
    lasting = (await api.upload(tones["wav"])).json()
    url = (await api.http.post(f"/v1/audio/{lasting['id']}/url", headers=api.alice,
                               json={"expires_in": 600})).json()["url"]
    api.clock.advance(100)
    got = await api.http.get(_path(url))
    assert got.status_code == 200
    assert got.headers["cache-control"] == "public, max-age=500, immutable"
    not_modified = await api.http.get(_path(url), headers={"If-None-Match": got.headers["etag"]})
    assert (not_modified.status_code, not_modified.headers["cache-control"]) == (304, "public, max-age=500, immutable")
    keyed = await api.http.get(f"/v1/audio/{lasting['id']}/content", headers=api.alice)
    assert keyed.headers["cache-control"].startswith("private")

    brief = (await api.upload(tones["wav"], ttl_seconds=300)).json()
    url = (await api.http.post(f"/v1/audio/{brief['id']}/url", headers=api.alice,
                               json={"expires_in": 3600})).json()["url"]
    got = await api.http.get(_path(url))
    assert got.headers["cache-control"] == "public, max-age=300, immutable"


async def test_a_rendition_url_opens_only_in_its_signed_spelling(api: Api, tones: dict[str, Path]) -> None:
    """The signature covers one escaped encoding: every other spelling of the same parameters
    is 403, most of all the folded key that used to open the original (issue 11, item 4)."""
    obj = (await api.upload(tones["wav"])).json()
    r = await api.http.post(
        f"/v1/audio/{obj['id']}/url", headers=api.alice,
        json={"expires_in": 120, "format": "mp3", "bitrate": 32000},
    )
    parts = urlsplit(r.json()["url"])
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    tail = f"expires={q['expires']}&signature={q['signature']}"
    assert parts.query == f"bitrate=32000&format=mp3&{tail}"
    renders = api.runtime.renditions.renders
    refused = {
        "folded key": f"bitrate%3D32000%26format=mp3&{tail}",
        "folded value": f"bitrate=32000%26format%3Dmp3&{tail}",
        "duplicated": f"bitrate=32000&format=mp3&format=wav&{tail}",
        "duplicated, same value": f"bitrate=32000&format=mp3&format=mp3&{tail}",
        "reordered, escaped": f"format=%6Dp3&bitrate=32000&{tail}",
        "lower-case hex": f"bitrate=32000&format=mp%33&{tail}",
        "plus": f"bitrate=32000+&format=mp3&{tail}",
        "extra parameter": f"bitrate=32000&format=mp3&channels=1&{tail}",
        "extra empty parameter": f"bitrate=32000&format=mp3&normalize=&{tail}",
        "bare key": f"bitrate=32000&format=mp3&normalize&{tail}",
        "signature twice": f"bitrate=32000&format=mp3&{tail}&signature={q['signature']}",
        "same bitrate, other spelling": f"bitrate=32k&format=mp3&{tail}",
    }
    for why, query in refused.items():
        got = await api.http.get(f"{parts.path}?{query}")
        assert got.status_code == 403, (why, got.status_code)
        assert got.json()["error"]["code"] == "signature_invalid", why
    assert api.runtime.renditions.renders == renders, "a refused URL rendered something"

    ok = await api.http.get(f"{parts.path}?{parts.query}")
    assert ok.status_code == 200 and ok.headers["content-type"].startswith("audio/mpeg")
    reordered = await api.http.get(f"{parts.path}?{tail}&format=mp3&bitrate=32000")
    assert reordered.status_code == 200 and reordered.content == ok.content
    plain = (await api.http.post(f"/v1/audio/{obj['id']}/url", headers=api.alice, json={})).json()["url"]
    assert (await api.http.get(_path(plain))).content == tones["wav"].read_bytes()


def test_the_signed_message_escapes_keys_and_values() -> None:
    signer = UrlSigner(["k"])
    folded = {"bitrate=32000&format": "mp3"}
    assert signer.sign("a", 1, folded) != signer.sign("a", 1, {"bitrate": "32000", "format": "mp3"})
    assert signer.sign("a\n1", 1, {}) != signer.sign("a", 1, {"1": ""})


async def test_a_batch_and_a_list_sign_only_what_the_caller_sees(api: Api, tones: dict[str, Path]) -> None:
    """Deleted, expired and another owner's objects get no URL in a batch and no place on a
    list page (both backends: SQLite + local disk, PostgreSQL + S3); an id that needs escaping
    in JSON comes back as asked; every URL given opens its object."""
    kept = (await api.upload(tones["wav"])).json()
    deleted = (await api.upload(tones["wav"])).json()
    brief = (await api.upload(tones["flac"], ttl_seconds=60)).json()
    bobs = (await api.upload(tones["mp3"], headers=api.bob)).json()
    assert (await api.http.delete(f"/v1/audio/{deleted['id']}", headers=api.alice)).status_code == 204
    api.clock.advance(61)
    odd = 'a "quoted" \\ id'
    ids = [kept["id"], deleted["id"], brief["id"], bobs["id"], odd, kept["id"]]
    urls = (await api.http.post("/v1/urls", headers=api.alice, json={"ids": ids})).json()["urls"]
    assert [u["id"] for u in urls] == ids
    assert [u["url"] is not None for u in urls] == [True, False, False, False, False, True]
    assert all(u["error"] == {"code": "not_found", "message": "No such audio."} for u in urls[1:5])
    for u in (urls[0], urls[5]):
        got = await api.http.get(_path(u["url"]), headers={"Range": "bytes=0-15"})
        assert got.status_code in (206, 307) and u["expires_at"].endswith("Z")
    for with_urls in ("false", "true"):
        page = (await api.http.get("/v1/audio", headers=api.alice, params={"urls": with_urls})).json()
        assert [i["id"] for i in page["items"]] == [kept["id"]]
        assert (page["items"][0]["url"] is not None) == (with_urls == "true")
