"""A port in use stops `audiostore serve` at once, unless AUDIOSTORE_REUSE_PORT asks otherwise.

granian binds its listening sockets with SO_REUSEPORT (on Linux each worker binds its own),
so a second server on a busy port would start without a word and the kernel would split the
connections between two servers, often with two different catalogues behind them. So before
granian starts, `claim_listen_port` binds the address itself without SO_REUSEPORT, which the
kernel refuses while anything listens there, and closes that socket again.

That check and granian's own bind are two steps; two servers started at the same moment could
both pass the check before either binds. On Linux the server therefore also holds, for its
whole life, an abstract Unix socket named after the port: a second server finds it taken and
stops, and the kernel frees it when the process ends, however it ends. (Abstract sockets live
in the network namespace, like the port itself, and leave no file behind.)

Several granian workers of one server are one process tree and are not affected: the check
runs once, in the parent, before the workers exist.
"""

from __future__ import annotations

import socket
import sys

from ..errors import ConfigurationError
from ..settings import Settings


def busy_port_error(settings: Settings, reason: str) -> ConfigurationError:
    return ConfigurationError(
        f"Port {settings.port} on {settings.host} is already in use ({reason}; from "
        "AUDIOSTORE_PORT / --port and AUDIOSTORE_HOST / --host). Stop the other server or "
        "choose another port; AUDIOSTORE_REUSE_PORT=true lets several servers of one catalogue "
        "share a port on purpose."
    )


def _hold_port_name(settings: Settings) -> socket.socket | None:
    """The abstract socket `audiostore-serve:PORT`, bound and returned; None where the
    platform has no abstract sockets. Raises `ConfigurationError` if another server holds it."""
    if not sys.platform.startswith("linux"):
        return None
    holder = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        holder.bind(f"\0audiostore-serve:{settings.port}")
    except OSError:
        holder.close()
        raise busy_port_error(settings, "another audiostore serve holds it") from None
    return holder


def _refuse_bound_port(settings: Settings) -> None:
    infos = socket.getaddrinfo(settings.host, settings.port, type=socket.SOCK_STREAM,
                               flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        # SO_REUSEADDR, as every server sets: connections of an earlier run still in TIME_WAIT
        # do not count as "in use"; a listening socket still does.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise busy_port_error(settings, exc.strerror or "bind failed") from None


def claim_listen_port(settings: Settings) -> socket.socket | None:
    """Stop with `ConfigurationError` if the server's port is taken. Keep the returned object
    referenced until the server ends (it holds the port's name on Linux); with
    AUDIOSTORE_REUSE_PORT nothing is checked or held."""
    if settings.reuse_port:
        return None
    holder = _hold_port_name(settings)
    try:
        _refuse_bound_port(settings)
    except BaseException:
        if holder is not None:
            holder.close()
        raise
    return holder
