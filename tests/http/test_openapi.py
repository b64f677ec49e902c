"""/openapi.json describes every route once: each operation has an id of its own (a GET and
HEAD `api_route` shared one, which FastAPI warns of and code generators trip on)."""

from __future__ import annotations

import warnings

from conftest import Api


async def test_every_operation_has_its_own_id(api: Api) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # FastAPI warns of a duplicate operation id
        r = await api.http.get("/openapi.json")
    assert r.status_code == 200
    ids = [op["operationId"] for path in r.json()["paths"].values() for op in path.values()]
    assert len(ids) == len(set(ids))
    assert {"get", "head"} <= set(r.json()["paths"]["/v1/audio/{audio_id}/content"])


async def test_the_document_states_every_status_and_limit(api: Api) -> None:
    """Issue 11: the statuses the routes answer and the bounds the service enforces are in
    the document (the bounds that are settings, as configured)."""
    doc = (await api.http.get("/openapi.json")).json()
    paths, schemas = doc["paths"], doc["components"]["schemas"]
    settings = api.runtime.settings
    for method in ("get", "head"):
        content = paths["/v1/audio/{audio_id}/content"][method]["responses"]
        assert {"200", "206", "304", "4XX"} <= set(content), (method, sorted(content))
    assert {"200", "201"} <= set(paths["/v1/tts"]["post"]["responses"])

    def query(path: str, method: str, name: str) -> dict:
        return next(p for p in paths[path][method]["parameters"] if p["name"] == name)

    assert query("/v1/queues/{name}/stream.mp3", "get", "mode")["schema"]["enum"] == [
        "sequential", "loop", "shuffle", "endless-shuffle"]
    assert schemas["QueueUrlRequest"]["properties"]["mode"]["enum"][0] == "sequential"
    idem = query("/v1/audio", "post", "Idempotency-Key")["schema"]
    assert idem["pattern"] == "^[!-~]{1,255}$"
    life = query("/v1/audio", "get", "expires_in")["schema"]["anyOf"][0]
    assert (life["minimum"], life["maximum"]) == (1, settings.url_max_expiry)
    assert schemas["TtsBody"]["properties"]["text"]["maxLength"] == settings.tts_max_text_chars
    assert schemas["BatchUrlRequest"]["properties"]["ids"]["maxItems"] == 1000
    assert schemas["QueueBody"]["properties"]["audio_ids"]["maxItems"] == settings.queue_max_items
    assert query("/v1/audio/{audio_id}/waveform", "get", "bits")["schema"]["enum"] == [8, 16]
    upload = paths["/v1/audio"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert upload["properties"]["metadata"]["maxLength"] == 16 * 1024
