"""GET /v1/audio: filters, search, keyset cursor pagination."""

from __future__ import annotations

from pathlib import Path

from conftest import Api


async def test_pages_cover_everything_once_newest_first(api: Api, tones: dict[str, Path]) -> None:
    ids = [(await api.upload(tones["wav"], name=f"n{i}")).json()["id"] for i in range(7)]
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await api.http.get("/v1/audio", headers=api.alice, params=params)).json()
        seen += [o["id"] for o in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids))


async def test_filters_and_search(api: Api, tones: dict[str, Path]) -> None:
    await api.upload(tones["wav"], name="Morning warmup", collection="lessons")
    await api.upload(tones["wav"], name="take", collection="takes", text="She sells sea shells")
    await api.upload(tones["wav"], name="other", collection="takes")

    async def names(**params: str) -> set[str]:
        r = await api.http.get("/v1/audio", headers=api.alice, params=params)
        assert r.status_code == 200, r.text
        return {o["name"] for o in r.json()["items"]}

    assert await names(collection="takes") == {"take", "other"}
    assert await names(q="warmup") == {"Morning warmup"}
    assert await names(q="SEA SHELLS") == {"take"}
    assert await names(q="100%") == set()
    assert await names(prefix="alice/lessons/") == {"Morning warmup"}
    assert await names(created_after="2000-01-01T00:00:00Z") == {"Morning warmup", "take", "other"}
    assert await names(created_before="2000-01-01T00:00:00Z") == set()


async def test_bad_cursor_and_limit(api: Api) -> None:
    r = await api.http.get("/v1/audio", headers=api.alice, params={"cursor": "not-a-cursor"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_cursor"
    r = await api.http.get("/v1/audio", headers=api.alice, params={"limit": 0})
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_failed"


async def test_a_list_page_can_carry_a_signed_url_per_item(api: Api, tones: dict[str, Path]) -> None:
    """Seed 003 lists its files with a URL each: `urls=true` signs the page in one request."""
    made = [(await api.upload(tones["wav"], name=f"u{i}")).json() for i in range(3)]
    page = (await api.http.get("/v1/audio", headers=api.alice,
                               params={"urls": "true", "expires_in": 120})).json()
    assert [i["id"] for i in page["items"]] == [m["id"] for m in reversed(made)]
    for item in page["items"]:
        assert item["url"] and item["url_expires_at"]
        fetched = await api.http.get(item["url"].replace("http://testserver", ""))  # no header
        assert fetched.status_code == 200
        assert fetched.content == tones["wav"].read_bytes()
    plain = (await api.http.get("/v1/audio", headers=api.alice)).json()
    assert all(i["url"] is None for i in plain["items"])
    for params, status in (({"expires_in": 60}, 422), ({"urls": "true", "expires_in": 10**9}, 422),
                           ({"urls": "maybe"}, 422)):
        r = await api.http.get("/v1/audio", headers=api.alice, params=params)
        assert r.status_code == status, (params, r.text)


async def test_audio_is_found_by_its_exact_name(api: Api, tones: dict[str, Path]) -> None:
    """Seed 003 addresses files by name (`story.mp3`): `name=` matches exactly, per owner."""
    story = (await api.upload(tones["wav"], name="story.mp3")).json()
    await api.upload(tones["wav"], name="story.mp3.bak")
    await api.upload(tones["wav"], name="Story.mp3")
    await api.upload(tones["wav"], name="story.mp3", headers=api.bob)
    found = (await api.http.get("/v1/audio", headers=api.alice, params={"name": "story.mp3"})).json()
    assert [i["id"] for i in found["items"]] == [story["id"]]
    none = (await api.http.get("/v1/audio", headers=api.alice, params={"name": "story"})).json()
    assert none["items"] == []
