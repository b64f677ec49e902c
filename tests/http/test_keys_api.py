"""/v1/keys: an admin key creates, lists and revokes keys over HTTP; any other key gets 403;
bad input is a 4xx that creates no key."""

from __future__ import annotations

from conftest import Api


async def key_count(api: Api) -> int:
    return await api.runtime.catalog.api_keys.count()


async def test_admin_creates_lists_and_revokes_keys(api: Api) -> None:
    made = await api.http.post("/v1/keys", headers=api.admin, json={"owner": "carol", "label": "phone app"})
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["owner"] == "carol" and body["admin"] is False and body["label"] == "phone app"
    assert body["key"].startswith(f"as_{body['prefix']}_") and body["revoked_at"] is None
    carol = api.auth(body["key"])
    assert (await api.http.get("/v1/audio", headers=carol)).status_code == 200
    assert (await api.http.get("/v1/keys", headers=carol)).status_code == 403  # not an admin

    listed = await api.http.get("/v1/keys", headers=api.admin)
    assert listed.status_code == 200
    assert body["key"] not in listed.text and "secret" not in listed.text  # never a secret
    mine = [k for k in listed.json()["items"] if k["id"] == body["id"]]
    assert mine == [{k: v for k, v in body.items() if k != "key"}]
    only = (await api.http.get("/v1/keys", headers=api.admin, params={"owner": "carol"})).json()
    assert [k["id"] for k in only["items"]] == [body["id"]]

    gone = await api.http.delete(f"/v1/keys/{body['id']}", headers=api.admin)
    assert gone.status_code == 204
    # Refused at once on the server that revoked it (its verified-key cache is cleared).
    assert (await api.http.get("/v1/audio", headers=carol)).status_code == 401
    again = await api.http.delete(f"/v1/keys/{body['id']}", headers=api.admin)
    assert again.status_code == 404 and again.json()["error"]["code"] == "not_found"
    revoked = (await api.http.get("/v1/keys", headers=api.admin, params={"owner": "carol"})).json()
    assert revoked["items"][0]["revoked_at"] is not None


async def test_an_admin_key_made_over_http_is_an_admin(api: Api) -> None:
    made = (await api.http.post("/v1/keys", headers=api.admin, json={"owner": "ops", "admin": True})).json()
    ops = api.auth(made["key"])
    assert made["admin"] is True
    second = await api.http.post("/v1/keys", headers=ops, json={"owner": "dave"})
    assert second.status_code == 201
    by_prefix = await api.http.delete(f"/v1/keys/{second.json()['prefix']}", headers=ops)
    assert by_prefix.status_code == 204


async def test_non_admin_and_anonymous_callers_touch_no_key(api: Api) -> None:
    before = await key_count(api)
    bob_key_id = [k.id for k in await api.runtime.keys.list("bob")][0]
    for headers, status in ((api.alice, 403), ({}, 401)):
        created = await api.http.post("/v1/keys", headers=headers, json={"owner": "alice", "admin": True})
        assert created.status_code == status
        assert created.json()["error"]["code"] == ("forbidden" if status == 403 else "unauthorized")
        assert (await api.http.get("/v1/keys", headers=headers)).status_code == status
        assert (await api.http.delete(f"/v1/keys/{bob_key_id}", headers=headers)).status_code == status
    assert await key_count(api) == before
    assert (await api.http.get("/v1/audio", headers=api.bob)).status_code == 200  # still valid


async def test_bad_key_requests_are_4xx_and_create_nothing(api: Api) -> None:
    before = await key_count(api)
    cases = [
        ({"owner": "../etc"}, 400, "invalid_name"),
        ({"owner": ""}, 400, "invalid_name"),
        ({"owner": "x" * 200}, 400, "invalid_name"),
        ({"owner": "erin", "label": "l" * 256}, 422, "validation_failed"),
        ({"owner": "erin", "label": "nul\x00"}, 422, "validation_failed"),
        ({"owner": "erin", "scopes": ["all"]}, 422, "validation_failed"),
        ({"label": "no owner"}, 422, "validation_failed"),
        ({"owner": "erin", "admin": "maybe"}, 422, "validation_failed"),
    ]
    for body, status, code in cases:
        r = await api.http.post("/v1/keys", headers=api.admin, json=body)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), (body, r.text)
    unknown = await api.http.delete("/v1/keys/0190d6f0-0000-7000-8000-000000000000", headers=api.admin)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
    assert await key_count(api) == before
