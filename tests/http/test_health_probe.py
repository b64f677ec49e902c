"""The plain health probe is answered before routing (`http/health_probe.py`) with what the
route would send, and still goes through every layer of ours: access log, request id,
metrics, nosniff, the request refusals."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest

from audiostore import __version__
from audiostore.http.request_gate import RequestGate
from conftest import Api


def _scope(runtime: Any, *, method: str = "GET", path: str = "/v1/health", query: bytes = b"") -> dict[str, Any]:
    return {
        "type": "http", "method": method, "path": path, "query_string": query, "root_path": "",
        "headers": [], "app": SimpleNamespace(state=SimpleNamespace(runtime=runtime)),
    }


async def test_only_the_plain_probe_skips_the_router(api: Api) -> None:
    routed: list[tuple[str, str, bytes]] = []

    async def router(scope: Any, receive: Any, send: Any) -> None:
        routed.append((scope["method"], scope["path"], scope["query_string"]))

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        raise AssertionError("the probe reads no body")

    lane = RequestGate(router, json_body_bytes=1024)
    await lane(_scope(api.runtime), receive, send)
    assert routed == []
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[0]["status"] == 200

    for scope in (
        _scope(api.runtime, method="HEAD"),
        _scope(api.runtime, query=b"verbose=1"),
        _scope(api.runtime, path="/v1/health/"),
        _scope(api.runtime, path="/v1/info"),
    ):
        await lane(scope, receive, send)
    assert routed == [
        ("HEAD", "/v1/health", b""), ("GET", "/v1/health", b"verbose=1"),
        ("GET", "/v1/health/", b""), ("GET", "/v1/info", b""),
    ]


async def test_the_probe_answers_as_the_route_does(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    # With a query the request goes through the router to the route itself.
    lane, route = await api.http.get("/v1/health"), await api.http.get("/v1/health?via=router")
    for r in (lane, route):
        assert r.status_code == 200
        assert r.json() == {"status": "ok", "catalog": True, "version": __version__}
        assert r.headers["x-content-type-options"] == "nosniff"
        assert len(r.headers["x-request-id"]) >= 16
    assert lane.content == route.content
    assert {k: lane.headers[k] for k in ("content-type", "content-length")} == {
        k: route.headers[k] for k in ("content-type", "content-length")
    }

    async def unreachable() -> None:
        raise ConnectionError("catalogue down")

    monkeypatch.setattr(api.runtime.catalog, "ping", unreachable)
    lane, route = await api.http.get("/v1/health"), await api.http.get("/v1/health?via=router")
    assert lane.status_code == route.status_code == 200
    assert lane.content == route.content
    assert lane.json()["status"] == "degraded"


async def test_the_probe_is_logged_and_counted_under_its_route(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    def probes_counted(text: str) -> float:
        for line in text.splitlines():
            if line.startswith("audiostore_http_requests_total{") and 'route="/v1/health"' in line \
                    and 'status="200"' in line:
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    before = probes_counted((await api.http.get("/metrics")).text)
    with caplog.at_level(logging.INFO, logger="audiostore.access"):
        r = await api.http.get("/v1/health", headers={"X-Request-Id": "probe-from-the-balancer"})
    assert r.headers["x-request-id"] == "probe-from-the-balancer"
    lines = [rec.getMessage() for rec in caplog.records if rec.name == "audiostore.access"]
    assert any("route=/v1/health status=200" in line and "request_id=probe-from-the-balancer" in line
               for line in lines), lines
    assert probes_counted((await api.http.get("/metrics")).text) == before + 1


async def test_the_refusals_still_see_the_probe(api: Api) -> None:
    assert (await api.http.get("/v1/health?a=1&a=2")).status_code == 400
    assert (await api.http.get("/v1/health?a=%00")).status_code == 400
    r = await api.http.request("GET", "/v1/health", content=b"x" * (3 << 20))
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "too_large"


def test_every_request_meets_two_layers_of_ours() -> None:
    # Each pure ASGI layer is a call, an await and a frame on every request (and a wrapper on
    # every body message): a new check before routing goes into the request gate, not a layer
    # of its own, and the health probe is answered there, before FastAPI's routing.
    from audiostore.http.access_log import AccessLog
    from audiostore.http.app import create_app

    app = create_app()
    assert [m.cls for m in app.user_middleware] == [AccessLog, RequestGate]
