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
