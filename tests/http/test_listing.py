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
    # A blob key is case-sensitive, and so is its prefix (on SQLite too, whose LIKE is not).
    assert await names(prefix="alice/Lessons/") == set()
    assert await names(prefix="ALICE/") == set()
    assert await names(prefix="alice/") == {"Morning warmup", "take", "other"}
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


def test_a_list_page_is_the_models_json() -> None:
    """The page written from the rows is byte for byte what the AudioList model makes of them:
    ints where floats are declared, no location, pending/failed analysis, an expiry, metadata
    and text, a signed URL, renditions with and without a clip and a gain."""
    from datetime import UTC, datetime

    from audiostore.catalog import AudioRow
    from audiostore.catalog.models import DerivedBlobRow
    from audiostore.http.audio_json import audio_list_json
    from audiostore.http.schemas import AudioList, AudioObject, RenditionInfo
    from audiostore.service import SignedUrl

    t = datetime(2026, 12, 1, 15, 4, 5, 678901, tzinfo=UTC)
    common = dict(owner="alice", collection="c", name="n \"q\" ü", key="alice/c/x.wav", state="ready",
                  content_type="audio/wav", format="wav", codec="pcm_s16le", sample_rate=48000,
                  channels=2, size=384044, sha256="0" * 64, created_at=t, updated_at=t)
    rows = [
        AudioRow(id="a1", duration=2, bitrate=None, meta={}, text=None, voice_id=None, expires_at=None,
                 location=None, loudness_lufs=-14, true_peak_dbtp=None, **common),
        AudioRow(id="a2", duration=2.5, bitrate=128000, meta={"take": 2, "tags": ["x"]}, text="words",
                 voice_id="v", expires_at=t, location="spool", loudness_lufs=None, true_peak_dbtp=-1.5,
                 analysis_due_at=t, analysis_error=None, **common),  # every field: read from __dict__
        AudioRow(id="a3", duration=0.1, bitrate=None, meta=None, text=None, voice_id=None, expires_at=None,
                 location="primary", analysis_error="too_long", **common),
    ]
    made = {
        "a1": [DerivedBlobRow(audio_id="a1", variant="v", kind="rendition", key="k", format="mp3",
                              content_type="audio/mpeg", size=10, sha256="1" * 64, duration=2,
                              params={"bitrate": 128000, "sample_rate": 44100, "channels": 2,
                                      "gain_db": 0, "start": 1, "end": 2.5}, created_at=t)],
        "a2": [DerivedBlobRow(audio_id="a2", variant="w", kind="rendition", key="k2", format="opus",
                              content_type="audio/ogg", size=11, sha256="2" * 64, duration=None,
                              params={}, created_at=t)],
        "a3": [],
    }
    signed = [None, SignedUrl("a2", "http://h/v1/audio/a2/content?expires=1&signature=s", t), None]
    models = [AudioObject.from_row(r, s) for r, s in zip(rows, signed, strict=True)]
    for m in models:
        m.renditions = [RenditionInfo.from_derived(d) for d in made[m.id]]
    for cursor in (None, "next"):
        want = AudioList(items=models, next_cursor=cursor).model_dump_json().encode()
        assert audio_list_json(rows, signed, made, cursor) == want
