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


async def test_each_operation_names_the_errors_it_can_answer(api: Api) -> None:
    """The catalogue's precise answers are in the document, not only `4XX`: a client
    generator can tell a full disk (507) from a lying file (422) from a dead engine (502)."""
    from audiostore import errors
    from audiostore.http.openapi_errors import ERRORS_BY_OPERATION

    doc = (await api.http.get("/openapi.json")).json()
    operations = {f"{m.upper()} {p}": op for p, ops in doc["paths"].items() for m, op in ops.items()}
    assert set(operations) == set(ERRORS_BY_OPERATION), "every operation in the table, and only those"
    upload = operations["POST /v1/audio"]["responses"]
    assert {"401", "403", "409", "413", "415", "422", "503", "507"} <= set(upload)
    assert "`audio_too_long`" in upload["422"]["description"]
    assert "`insufficient_storage`" in upload["507"]["description"]
    assert upload["507"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
    assert "`engine_failed`" in operations["POST /v1/tts"]["responses"]["502"]["description"]
    content = operations["GET /v1/audio/{audio_id}/content"]["responses"]
    assert "`processing_limit`" in content["422"]["description"] and "416" in content
    documented = {err for errs in ERRORS_BY_OPERATION.values() for err in errs}
    seen_by_clients = {
        cls for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.AudiostoreError) and cls.status < 500
        or isinstance(cls, type) and cls in (errors.EngineFailed, errors.StorageUnavailable,
                                             errors.InsufficientStorage, errors.ShuttingDown)
    } - {errors.AudiostoreError}
    assert seen_by_clients <= documented, sorted(c.__name__ for c in seen_by_clients - documented)
