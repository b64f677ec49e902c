"""The tus routes' handler calls each endpoint straight (no FastAPI dependency solve per
PATCH); an endpoint that takes more than the request and the upload id keeps FastAPI's."""

from __future__ import annotations

from fastapi import FastAPI, Query, Request, Response
from fastapi.routing import APIRouter
from httpx import ASGITransport, AsyncClient

from audiostore.http.routes_tus import TUS_VERSION, TusRoute, router


def test_every_tus_endpoint_takes_the_direct_call() -> None:
    routes = [r for r in router.routes if isinstance(r, TusRoute)]
    assert len(routes) >= 7
    assert all(TusRoute._plain(r.dependant) for r in routes), [
        r.path for r in routes if not TusRoute._plain(r.dependant)]


async def test_both_kinds_of_endpoint_answer_with_the_tus_header() -> None:
    other = APIRouter(route_class=TusRoute)

    @other.get("/plain/{upload_id}")
    async def plain(upload_id: str, request: Request) -> Response:
        return Response(f"{upload_id} {request.method}")

    @other.get("/with-query/{upload_id}")
    async def with_query(upload_id: int, request: Request, n: int = Query(1)) -> Response:
        return Response(f"{upload_id + n}")

    app = FastAPI()
    app.include_router(other)
    assert TusRoute._plain(other.routes[0].dependant)  # type: ignore[attr-defined]  # reason: an APIRoute
    assert not TusRoute._plain(other.routes[1].dependant)  # type: ignore[attr-defined]  # reason: as above
    async with AsyncClient(transport=ASGITransport(app), base_url="http://t") as c:
        r = await c.get("/plain/abc")
        assert (r.status_code, r.text, r.headers["tus-resumable"]) == (200, "abc GET", TUS_VERSION)
        r = await c.get("/with-query/40", params={"n": 2})  # converted by FastAPI: an int
        assert (r.status_code, r.text, r.headers["tus-resumable"]) == (200, "42", TUS_VERSION)
        assert (await c.get("/with-query/x")).status_code == 422
