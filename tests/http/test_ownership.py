"""Another owner's object answers 404 everywhere; admins may act for any owner."""

from __future__ import annotations

from pathlib import Path

from conftest import Api


async def test_other_owner_sees_404_everywhere(api: Api, tones: dict[str, Path]) -> None:
    obj = (await api.upload(tones["wav"])).json()
    oid = obj["id"]
    calls = [
        api.http.get(f"/v1/audio/{oid}", headers=api.bob),
        api.http.get(f"/v1/audio/{oid}/content", headers=api.bob),
        api.http.head(f"/v1/audio/{oid}/content", headers=api.bob),
        api.http.patch(f"/v1/audio/{oid}", headers=api.bob, json={"name": "x"}),
        api.http.post(f"/v1/audio/{oid}/url", headers=api.bob, json={}),
        api.http.delete(f"/v1/audio/{oid}", headers=api.bob),
    ]
    for call in calls:
        r = await call
        assert r.status_code == 404, r.request.method
    batch = (await api.http.post("/v1/urls", headers=api.bob, json={"ids": [oid]})).json()
    assert batch["urls"][0]["error"]["code"] == "not_found"
    assert (await api.http.get("/v1/audio", headers=api.bob)).json()["items"] == []
    # still there for alice
    assert (await api.http.get(f"/v1/audio/{oid}", headers=api.alice)).json()["name"] == obj["name"]


async def test_admin_acts_for_any_owner(api: Api, tones: dict[str, Path]) -> None:
    oid = (await api.upload(tones["wav"])).json()["id"]
    assert (await api.http.get(f"/v1/audio/{oid}", headers=api.admin)).status_code == 200
    listed = (await api.http.get("/v1/audio", headers=api.admin, params={"owner": "alice"})).json()
    assert [o["id"] for o in listed["items"]] == [oid]
    r = await api.upload(tones["wav"], headers=api.admin, owner="carol")
    assert r.json()["owner"] == "carol"
    assert (await api.http.delete(f"/v1/audio/{oid}", headers=api.admin)).status_code == 204


async def test_a_non_admin_naming_another_owner_is_403_and_writes_nothing(api: Api, tones: dict[str, Path]) -> None:
    """Silently answering with bob's own objects (or storing as bob) let a client believe it
    had acted for carol; it is told instead."""
    rows, blobs = await api.row_count(), await api.blob_keys()
    r = await api.upload(tones["wav"], headers=api.bob, owner="carol")
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden", r.text
    assert await api.row_count() == rows and await api.blob_keys() == blobs
    listed = await api.http.get("/v1/audio", headers=api.bob, params={"owner": "alice"})
    assert listed.status_code == 403 and listed.json()["error"]["code"] == "forbidden"
    # naming oneself is fine
    assert (await api.upload(tones["wav"], headers=api.bob, owner="bob")).json()["owner"] == "bob"
    assert (await api.http.get("/v1/audio", headers=api.bob, params={"owner": "bob"})).status_code == 200
