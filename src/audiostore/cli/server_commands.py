"""Commands that run on the service's own machine: serve, keys, db. They call the service
directly (no HTTP), using the same settings as the server."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from ..errors import AudiostoreError
from ..settings import Settings
from ..settings import load_settings
from ..stop_signal import PROCESS_STOP
from .catalogue_access import (
    Create,
    DataDir,
    refuse_missing_file,
    refuse_missing_schema,
    run_with_catalog,
    use_data_dir,
)
from .listen_port import claim_listen_port
from .listing_table import id_column, listing, plain_output

if TYPE_CHECKING:  # the server is imported only when a server command runs
    from ..catalog import Catalog
    from ..runtime import Runtime
    from ..service import ApiKeyService

T = TypeVar("T")
err = Console(stderr=True, soft_wrap=True)  # an error is one line, whatever the width
keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
db_app = typer.Typer(help="Catalogue migrations.", no_args_is_help=True)


def run_with_runtime(
    fn: Callable[[Runtime], Awaitable[T]], *, migrate: bool = True, create: bool = False
) -> T:
    """Build a runtime from the environment, run `fn`, close it; errors exit 1 with one line.
    Without `create`, a catalogue that is not there yet is refused rather than made."""

    async def go() -> T:
        from ..runtime import Runtime

        settings = load_settings()
        refuse_missing_file(settings, create=create, can_create=False)
        rt = Runtime.build(settings)
        try:
            await refuse_missing_schema(rt.catalog, settings, create=create, can_create=False)
            if migrate and rt.settings.migrate_on_start:
                await rt.migrate()
            return await fn(rt)
        finally:
            await rt.close()

    try:
        return asyncio.run(go())
    except AudiostoreError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from None


# The child's program: prints the problem (or an empty line) and ends without finalisation.
CREDENTIALS_PROBE = ("from audiostore.runtime import credentials_problem; "
                     "from audiostore.process_exit import end_process; "
                     "print(credentials_problem() or '', flush=True); end_process(0)")


def refuse_rejected_credentials() -> None:
    """Ask the bucket, from a child process (see `runtime.credentials_problem`), whether it
    rejects our credentials; exit 1 with its message if it does. The child's answer counts
    whatever its exit status; a child that died without one is reported, and the start goes on
    (the bucket is then checked by every request, and `audiostore doctor` checks it all)."""
    try:
        done = subprocess.run([sys.executable, "-c", CREDENTIALS_PROBE], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return  # the bucket is slow to answer: that is the spool's business, not a reason to stop
    message = done.stdout.strip()
    if message:
        err.print(f"[red]error:[/red] {message}")
        raise typer.Exit(1)
    if done.returncode != 0:
        said = done.stderr.strip().splitlines()[-1:] or ["no output"]
        err.print(f"[yellow]warning:[/yellow] the check of the S3 credentials at start failed "
                  f"(exit {done.returncode}: {said[0]}); starting anyway.")


def serve(
    host: str = typer.Option(None, help="Listen address (AUDIOSTORE_HOST, default 127.0.0.1)."),
    port: int = typer.Option(None, help="Listen port (AUDIOSTORE_PORT, default 8000)."),
    workers: int = typer.Option(None, help="Worker processes (AUDIOSTORE_WORKERS, default 1)."),
    data_dir: DataDir = None,
) -> None:
    """Run the service (granian). First start: creates the catalogue, prints an admin key once.
    A port already in use stops it (see AUDIOSTORE_REUSE_PORT)."""
    use_data_dir(data_dir)
    for name, value in (("HOST", host), ("PORT", port), ("WORKERS", workers)):
        if value is not None:
            os.environ[f"AUDIOSTORE_{name}"] = str(value)
    try:
        settings = load_settings()
    except AudiostoreError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from None
    port_claim = refuse_busy_port(settings)  # held until the server ends

    if settings.store == "s3":
        refuse_rejected_credentials()  # a wrong secret stops the start, naming the setting

    async def prepare(rt: Runtime) -> Any:
        return await rt.ensure_admin_key()

    issued = run_with_runtime(prepare, create=True)
    if issued is not None:
        typer.echo("First start: created an admin API key. It is shown once; a copy is in "
                   f"{settings.data_dir / 'admin.key'} (mode 0600).")
        typer.echo(f"AUDIOSTORE_KEY={issued.key}")
    if PROCESS_STOP.requested:  # SIGINT/SIGTERM while it started: stop, serve nothing
        err.print("audiostore: stopped before serving (a stop signal came during the start)")
        raise typer.Exit(0)
    typer.echo(start_line(settings), err=True)

    from granian import Granian
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings

    from .server_logging import server_log_config

    server = Granian(
        "audiostore.http.app:create_app",
        factory=True,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        workers=settings.workers,
        log_access=False,  # ours instead: route template, owner, bytes, request id
        log_dictconfig=server_log_config(),
        # A worker that dies (killed, out of memory, a crash in native code) is started
        # again instead of granian shutting the whole service down.
        respawn_failed_workers=True,
        # Without it granian waits for every request in flight (a synthesis up to its
        # deadline, a long download) before a worker stops; then it kills the worker. What a
        # killed worker leaves (pending rows, staged files) is what the jobs clean up anyway.
        workers_kill_timeout=settings.shutdown_timeout_seconds,
        backlog=settings.backlog,
        backpressure=settings.backpressure,
        http1_settings=HTTP1Settings(header_read_timeout=settings.http1_header_read_timeout_ms),
    )

    @server.on_startup
    def stop_if_asked_meanwhile() -> None:
        # granian has its own SIGINT/SIGTERM handlers by now; one that came just before
        # (recorded by PROCESS_STOP) becomes its interrupt, so the workers stop at once.
        if PROCESS_STOP.requested:
            server.signal_handler_interrupt()  # type: ignore[no-untyped-call]  # granian leaves it unannotated

    server.serve()
    del port_claim


def start_line(settings: Settings) -> str:
    """Where it listens (the socket it binds) and where clients reach it (the public URL,
    which signed URLs carry): behind a proxy the two differ, and both matter."""
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    public = settings.resolved_public_url
    return (f"audiostore listening on {host}:{settings.port}; public URL {public} "
            f"(API docs: {public}/docs)")


def refuse_busy_port(settings: Settings) -> socket.socket | None:
    """Exit 1 with one line if the port is taken (`listen_port`); what it returns holds the
    port's name until dropped."""
    try:
        return claim_listen_port(settings)
    except AudiostoreError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from None


@keys_app.command("create")
def keys_create(
    owner: str = typer.Option(..., help="The owner this key acts as."),
    admin: bool = typer.Option(False, help="May act for every owner."),
    label: str = typer.Option(None, help="A note to recognise the key by."),
    data_dir: DataDir = None,
    create: Create = False,
) -> None:
    """Create a key. Its secret is printed alone on the first line of stdout, once.

    Refuses (exit 1) when there is no catalogue where the settings point, unless --create.
    An admin key can also create keys over HTTP: `POST /v1/keys`."""
    use_data_dir(data_dir)
    issued = run_with_catalog(lambda c: key_service(c).create(owner, admin=admin, label=label),
                              create=create, can_create=True)
    typer.echo(issued.key)
    typer.echo(f"id={issued.row.id} owner={owner} admin={admin}", err=True)


@keys_app.command("list")
def keys_list(
    owner: str = typer.Option(None, help="Only this owner's keys."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    data_dir: DataDir = None,
) -> None:
    """List keys (never their secrets)."""
    use_data_dir(data_dir)
    rows = run_with_catalog(lambda c: key_service(c).list(owner))
    items = [
        {"id": r.id, "prefix": r.prefix, "owner": r.owner, "admin": r.admin, "label": r.label,
         "created_at": r.created_at.isoformat(), "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None}
        for r in rows
    ]
    if json_out:
        import json

        typer.echo(json.dumps(items, indent=2))
        return
    fields = [(r.id, r.prefix, r.owner, str(r.admin), r.label or "",
               r.created_at.isoformat()[:19], r.revoked_at.isoformat()[:19] if r.revoked_at else "")
              for r in rows]
    if plain_output():  # piped: whole fields, tab-separated, no header
        for row in fields:
            typer.echo("\t".join(row))
        return
    table = listing(id_column(), "prefix", "owner", "admin", "label", "created", "revoked")
    for row in fields:
        table.add_row(*(escape(f) for f in row))
    Console(highlight=False).print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: str = typer.Argument(..., help="The key's id or prefix."),
    data_dir: DataDir = None,
) -> None:
    """Revoke a key: running servers refuse it within AUDIOSTORE_AUTH_CACHE_SECONDS.

    Through `DELETE /v1/keys/{id}`, the server that answers refuses it at once."""
    use_data_dir(data_dir)
    run_with_catalog(lambda c: key_service(c).revoke(key_id))
    typer.echo(f"revoked {key_id}")


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDir = None, create: Create = False) -> None:
    """Apply every pending migration.

    Refuses (exit 1) when there is no catalogue yet, unless --create. It touches only the
    database: on PostgreSQL nothing is written to the disk."""
    from ..catalog import upgrade

    use_data_dir(data_dir)
    run_with_catalog(lambda c: upgrade(c.engine), create=create, can_create=True, migrate=False)
    typer.echo("catalogue is at the latest revision")


@db_app.command("current")
def db_current(data_dir: DataDir = None) -> None:
    """Print the catalogue's revision and the latest one."""
    from ..catalog import current_revision, head_revision

    use_data_dir(data_dir)
    current = run_with_catalog(lambda c: current_revision(c.engine), migrate=False)
    typer.echo(f"current={current} head={head_revision()}")


def key_service(catalog: Catalog) -> ApiKeyService:
    """The API keys of a catalogue opened alone (no runtime: nothing else is built)."""
    from ..runtime import utc_now
    from ..service import ApiKeyService

    return ApiKeyService(catalog, clock=utc_now, cache_seconds=0)


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.add_typer(keys_app, name="keys")
    app.add_typer(db_app, name="db")
