"""The SDK's connections send each request's last partial TCP segment at once (`TCP_NODELAY`):
without it, Nagle's algorithm holds that segment of every tus PATCH until the server's delayed
ACK. The SDK sets no socket option of its own: httpcore sets `TCP_NODELAY` on every socket
it opens (sync since httpcore 0.17.2; asyncio and trio through anyio do), on top of a
transport's own `socket_options`. These tests read the option back from the socket of a real
connection to a real `audiostore serve`, so losing it (an httpcore change, or an SDK transport
of its own) fails here; and a transport the user gives is the one used, with its options."""

from __future__ import annotations

import socket

import httpx

from fixtures_client_server import Served

from audiostore.client import AsyncClient, Client

KEEPALIVE = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]


def option(response: httpx.Response, level: int, name: int) -> int:
    """A socket option of the connection `response` came on (still open: streamed, unread)."""
    sock = response.extensions["network_stream"].get_extra_info("socket")
    return int(sock.getsockopt(level, name))


def test_the_sync_clients_connections_set_tcp_nodelay(served: Served) -> None:
    with Client(served.url) as c, c._http.stream("GET", "/v1/health") as r:
        assert r.status_code == 200
        assert option(r, socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1


async def test_the_async_clients_connections_set_tcp_nodelay(served: Served) -> None:
    async with AsyncClient(served.url) as c, c._http.stream("GET", "/v1/health") as r:
        assert r.status_code == 200
        assert option(r, socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1


def test_a_users_transport_is_used_with_its_own_options(served: Served) -> None:
    with Client(served.url, transport=httpx.HTTPTransport(socket_options=KEEPALIVE)) as c, \
            c._http.stream("GET", "/v1/health") as r:
        assert option(r, socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        assert option(r, socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    with Client(served.url) as c, c._http.stream("GET", "/v1/health") as r:
        assert option(r, socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 0  # it was the user's


async def test_an_async_users_transport_is_used_with_its_own_options(served: Served) -> None:
    transport = httpx.AsyncHTTPTransport(socket_options=KEEPALIVE)
    async with AsyncClient(served.url, transport=transport) as c, c._http.stream("GET", "/v1/health") as r:
        assert option(r, socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        assert option(r, socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
