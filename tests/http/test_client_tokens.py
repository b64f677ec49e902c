"""Client tokens (`POST /v1/tokens`): minted with an API key, accepted as a Bearer wherever a
key is, limited to their scopes, collections and upload bounds, and refused once expired,
revoked per owner, or signed with a secret that is no longer configured. Bad input is a 4xx
that stores nothing. Runs on local + SQLite and S3 + PostgreSQL."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import jwt

from conftest import Api
from audiostore.service.client_tokens import ClientTokens


async def mint(api: Api, headers: dict[str, str] | None = None, **body: Any) -> dict[str, Any]:
    r = await api.http.post("/v1/tokens", headers=headers or api.alice, json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def bearer(token: dict[str, Any] | str) -> dict[str, str]:
    value = token if isinstance(token, str) else token["token"]
    return {"Authorization": f"Bearer {value}"}


async def nothing_stored(api: Api, rows: int, blobs: list[str]) -> None:
    assert await api.row_count() == rows
    assert sorted(await api.blob_keys()) == sorted(blobs)


def code(r: Any) -> tuple[int, str]:
    return r.status_code, r.json()["error"]["code"]


async def test_a_read_token_reads_and_does_nothing_else(api: Api, tones: dict[str, Path]) -> None:
    mine = (await api.upload(tones["wav"])).json()
    bobs = (await api.upload(tones["wav"], headers=api.bob)).json()
    t = await mint(api, scopes=["read"], lifetime_seconds=600)
    assert t["owner"] == "alice" and t["scopes"] == ["read"] and t["collections"] is None
    claims = jwt.decode(t["token"], options={"verify_signature": False})
    assert claims["sub"] == "alice" and claims["scope"] == "read"
    assert claims["exp"] - claims["iat"] <= 600
    who = bearer(t)

    assert (await api.http.get(f"/v1/audio/{mine['id']}", headers=who)).status_code == 200
    got = await api.http.get(f"/v1/audio/{mine['id']}/content", headers={**who, "Range": "bytes=0-9"})
    assert got.status_code in (206, 307)  # S3 in direct mode redirects, as for a key
    assert (await api.http.post(f"/v1/audio/{mine['id']}/url", headers=who, json={})).status_code == 200
    # Another owner's object is not there at all.
    assert code(await api.http.get(f"/v1/audio/{bobs['id']}", headers=who)) == (404, "not_found")
    # Outside its scopes: 403 scope_denied, and nothing changes.
    rows, blobs = await api.row_count(), await api.blob_keys()
    assert code(await api.upload(tones["wav"], headers=who)) == (403, "scope_denied")
    assert code(await api.http.delete(f"/v1/audio/{mine['id']}", headers=who)) == (403, "scope_denied")
    assert code(await api.http.get("/v1/audio", headers=who)) == (403, "scope_denied")
    patched = await api.http.patch(f"/v1/audio/{mine['id']}", headers=who, json={"name": "x.wav"})
    assert code(patched) == (403, "scope_denied")
    await nothing_stored(api, rows, blobs)
    assert (await api.http.get(f"/v1/audio/{mine['id']}", headers=api.alice)).json()["name"] == mine["name"]


async def test_each_scope_opens_its_routes(api: Api, tones: dict[str, Path]) -> None:
    up = bearer(await mint(api, scopes=["upload"]))
    made = await api.upload(tones["wav"], headers=up)
    assert made.status_code == 201, made.text
    assert made.json()["owner"] == "alice"
    lister = bearer(await mint(api, scopes=["list"]))
    listed = (await api.http.get("/v1/audio", headers=lister)).json()
    assert [i["id"] for i in listed["items"]] == [made.json()["id"]]
    deleter = bearer(await mint(api, scopes=["delete"]))
    assert code(await api.http.get(f"/v1/audio/{made.json()['id']}", headers=deleter)) == (403, "scope_denied")
    assert (await api.http.delete(f"/v1/audio/{made.json()['id']}", headers=deleter)).status_code == 204
    assert (await api.http.get(f"/v1/audio/{made.json()['id']}", headers=api.alice)).status_code == 404


async def test_who_may_mint_for_whom(api: Api) -> None:
    assert code(await api.http.post("/v1/tokens", headers=api.alice,
                                    json={"scopes": ["read"], "owner": "bob"})) == (403, "forbidden")
    for_bob = await mint(api, api.admin, scopes=["read"], owner="bob")
    assert for_bob["owner"] == "bob"
    # An admin's token is the named owner's, never an admin.
    assert code(await api.http.get("/v1/keys", headers=bearer(for_bob))) == (403, "forbidden")
    # A token mints no token, and manages no key or public collection.
    t = bearer(await mint(api, scopes=["read", "upload", "delete", "list"]))
    assert code(await api.http.post("/v1/tokens", headers=t, json={"scopes": ["read"]})) == (403, "scope_denied")
    assert code(await api.http.put("/v1/collections/alice/x/public", headers=t)) == (403, "scope_denied")
    assert code(await api.http.post("/v1/tokens/revoke", headers=t, json={"owner": "alice"})) == (403, "forbidden")
    assert (await api.http.post("/v1/tokens", json={"scopes": ["read"]})).status_code == 401


async def test_collections_bound_every_verb(api: Api, tones: dict[str, Path]) -> None:
    inside = (await api.upload(tones["wav"], collection="takes")).json()
    outside = (await api.upload(tones["wav"], collection="private")).json()
    t = bearer(await mint(api, scopes=["read", "upload", "delete", "list"], collections=["takes"]))

    assert (await api.http.get(f"/v1/audio/{inside['id']}", headers=t)).status_code == 200
    assert code(await api.http.get(f"/v1/audio/{outside['id']}", headers=t)) == (404, "not_found")
    got = await api.http.get(f"/v1/audio/{outside['id']}/content", headers=t)
    assert code(got) == (404, "not_found")
    batch = (await api.http.post("/v1/urls", headers=t, json={"ids": [inside["id"], outside["id"]]})).json()
    assert [u.get("error") is None for u in batch["urls"]] == [True, False]
    listed = (await api.http.get("/v1/audio", headers=t)).json()
    assert [i["id"] for i in listed["items"]] == [inside["id"]]
    assert code(await api.http.get("/v1/audio", headers=t, params={"collection": "private"})) == (
        403, "scope_denied")

    rows, blobs = await api.row_count(), await api.blob_keys()
    assert code(await api.upload(tones["wav"], headers=t, collection="private")) == (403, "scope_denied")
    assert code(await api.upload(tones["wav"], headers=t)) == (403, "scope_denied")  # the default one
    assert code(await api.http.delete(f"/v1/audio/{outside['id']}", headers=t)) == (404, "not_found")
    await nothing_stored(api, rows, blobs)
    assert (await api.http.get(f"/v1/audio/{outside['id']}", headers=api.alice)).status_code == 200
    # A queue read through the token holds only the items it may see.
    q = await api.http.put("/v1/queues/mix", headers=api.alice, json={"audio_ids": [inside["id"], outside["id"]]})
    assert q.status_code == 200
    assert (await api.http.get("/v1/queues/mix", headers=t)).json()["audio_ids"] == [inside["id"]]
    # A signed queue URL would play every collection's items: not for a limited token.
    assert code(await api.http.post("/v1/queues/mix/url", headers=t, json={})) == (403, "scope_denied")
    refused = await api.http.put("/v1/queues/mine", headers=t, json={"audio_ids": [outside["id"]]})
    assert code(refused) == (422, "validation_failed")  # as if it did not exist
    assert (await api.upload(tones["wav"], headers=t, collection="takes")).status_code == 201


async def test_upload_bounds_refuse_before_storing(api: Api, tones: dict[str, Path]) -> None:
    size = tones["mp3"].stat().st_size
    small = bearer(await mint(api, scopes=["upload"], max_bytes=size - 1))
    wav_only = bearer(await mint(api, scopes=["upload"], formats=["wav"]))
    rows, blobs = await api.row_count(), await api.blob_keys()
    too_big = await api.upload(tones["mp3"], headers=small)
    assert code(too_big) == (413, "too_large")
    assert "client token" in too_big.json()["error"]["message"]
    raw = await api.http.post("/v1/audio", headers={**small, "Content-Type": "audio/mpeg"},
                              content=tones["mp3"].read_bytes())
    assert code(raw) == (413, "too_large")
    wrong = await api.upload(tones["mp3"], headers=wav_only)
    assert code(wrong) == (415, "unsupported_format")
    assert "client token" in wrong.json()["error"]["message"]
    await nothing_stored(api, rows, blobs)
    assert (await api.upload(tones["wav"], headers=wav_only)).status_code == 201
    fits = bearer(await mint(api, scopes=["upload"], max_bytes=size))
    assert (await api.upload(tones["mp3"], headers=fits)).status_code == 201


async def test_expired_tampered_and_foreign_tokens_are_401(api: Api) -> None:
    t = await mint(api, scopes=["read"], lifetime_seconds=60)
    assert (await api.http.get("/v1/info", headers=bearer(t))).status_code == 200
    header, payload, sig = t["token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    widened = base64.urlsafe_b64encode(json.dumps({**claims, "sub": "bob", "scope": "read delete"}).encode())
    forged = f"{header}.{widened.rstrip(b'=').decode()}.{sig}"
    assert code(await api.http.get("/v1/info", headers=bearer(forged))) == (401, "unauthorized")
    unsigned = jwt.encode(claims, key="", algorithm="none")  # type: ignore[arg-type]
    assert code(await api.http.get("/v1/info", headers=bearer(unsigned))) == (401, "unauthorized")
    other_secret = jwt.encode(claims, "not-our-secret-" * 3, algorithm="HS256",
                              headers={"kid": jwt.get_unverified_header(t["token"])["kid"]})
    assert code(await api.http.get("/v1/info", headers=bearer(other_secret))) == (401, "unauthorized")
    assert code(await api.http.get("/v1/info", headers=bearer("a.b.c"))) == (401, "unauthorized")
    for nested in (b"[" * 5000, b'{"a":' * 3000):  # deeper than the JSON parser's stack
        deep = base64.urlsafe_b64encode(nested).rstrip(b"=").decode() + ".e30.x"
        assert code(await api.http.get("/v1/info", headers=bearer(deep))) == (401, "unauthorized")
    api.clock.advance(61)
    assert code(await api.http.get("/v1/info", headers=bearer(t))) == (401, "token_expired")


async def test_revoking_an_owner_refuses_its_earlier_tokens(api: Api) -> None:
    old = bearer(await mint(api, scopes=["read"]))
    bobs = bearer(await mint(api, api.bob, scopes=["read"]))
    assert code(await api.http.post("/v1/tokens/revoke", headers=api.alice, json={"owner": "alice"})) == (
        403, "forbidden")
    api.clock.advance(0.01)
    r = await api.http.post("/v1/tokens/revoke", headers=api.admin, json={"owner": "alice"})
    assert r.status_code == 200, r.text
    assert code(await api.http.get("/v1/info", headers=old)) == (401, "token_revoked")
    assert (await api.http.get("/v1/info", headers=bobs)).status_code == 200  # another owner
    api.clock.advance(0.01)
    new = bearer(await mint(api, scopes=["read"]))
    assert (await api.http.get("/v1/info", headers=new)).status_code == 200
    # Revocations only move forward: an earlier moment changes nothing.
    earlier = (api.clock.now.replace(year=api.clock.now.year - 1)).isoformat()
    again = await api.http.post("/v1/tokens/revoke", headers=api.admin, json={"owner": "alice", "before": earlier})
    assert again.json()["not_before"] == r.json()["not_before"]
    assert code(await api.http.get("/v1/info", headers=old)) == (401, "token_revoked")
    later = api.clock.now.replace(year=api.clock.now.year + 1).isoformat()
    future = await api.http.post("/v1/tokens/revoke", headers=api.admin, json={"owner": "alice", "before": later})
    assert code(future) == (422, "validation_failed")
    assert (await api.http.get("/v1/info", headers=new)).status_code == 200


async def test_rotating_the_signing_secret_ends_tokens_of_a_dropped_secret(api: Api) -> None:
    rt = api.runtime
    old_secret = "first-secret-" * 4

    def tokens(*secrets: str) -> ClientTokens:
        return ClientTokens(settings=rt.settings, ingest=rt.settings, secrets_=list(secrets),
                            revocations=rt.tokens.revocations, clock=rt.clock)

    from audiostore.service import Principal
    from audiostore.service.client_tokens import TokenRequest

    minted = await tokens(old_secret).mint(Principal(owner="alice"), TokenRequest(scopes=["read"]))
    rotated = tokens("second-secret-" * 4, old_secret)  # the new one signs, the old verifies
    assert (await rotated.authenticate(minted.token)).owner == "alice"
    dropped = tokens("second-secret-" * 4)
    try:
        await dropped.authenticate(minted.token)
    except Exception as exc:  # noqa: BLE001 - asserted below
        assert type(exc).__name__ == "Unauthorized"
    else:
        raise AssertionError("a token of a dropped secret was accepted")
    # The server's own tokens do not verify under another server's secrets either.
    ours = await mint(api, scopes=["read"])
    try:
        await dropped.authenticate(ours["token"])
    except Exception as exc:  # noqa: BLE001 - asserted below
        assert type(exc).__name__ == "Unauthorized"
    else:
        raise AssertionError("a token signed with another secret was accepted")


async def test_bad_token_requests_are_4xx(api: Api) -> None:
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"scopes": []}, 422, "validation_failed"),
        ({"scopes": ["admin"]}, 422, "validation_failed"),
        ({}, 422, "validation_failed"),
        ({"scopes": ["read"], "lifetime_seconds": 0}, 422, "validation_failed"),
        ({"scopes": ["read"], "lifetime_seconds": 10**9}, 422, "validation_failed"),
        ({"scopes": ["read"], "max_bytes": 10}, 422, "validation_failed"),
        ({"scopes": ["upload"], "max_bytes": 0}, 422, "validation_failed"),
        ({"scopes": ["upload"], "max_bytes": 10**15}, 422, "validation_failed"),
        ({"scopes": ["upload"], "formats": ["exe"]}, 422, "validation_failed"),
        ({"scopes": ["upload"], "formats": []}, 422, "validation_failed"),
        ({"scopes": ["read"], "collections": []}, 422, "validation_failed"),
        ({"scopes": ["read"], "collections": ["../x"]}, 400, "invalid_name"),
        ({"scopes": ["read"], "bogus": 1}, 422, "validation_failed"),
    ]
    for body, status, err in cases:
        r = await api.http.post("/v1/tokens", headers=api.alice, json=body)
        assert code(r) == (status, err), (body, r.text)


async def test_speech_needs_the_upload_scope_and_an_allowed_collection(api: Api) -> None:
    reader = bearer(await mint(api, scopes=["read"]))
    elsewhere = bearer(await mint(api, scopes=["upload"], collections=["takes"]))
    speaker = bearer(await mint(api, scopes=["upload", "read"]))
    rows, blobs = await api.row_count(), await api.blob_keys()
    assert code(await api.http.post("/v1/tts", headers=reader, json={"text": "Hi."})) == (403, "scope_denied")
    assert code(await api.http.post("/v1/tts", headers=elsewhere, json={"text": "Hi."})) == (403, "scope_denied")
    await nothing_stored(api, rows, blobs)
    spoken = await api.http.post("/v1/tts", headers=speaker, json={"text": "Hi.", "format": "wav"})
    assert spoken.status_code == 201, spoken.text
    assert spoken.json()["owner"] == "alice"
    assert (await api.http.get("/v1/tts/voices", headers=reader)).status_code == 200
