"""Commands that run on the service's own machine: serve, keys, db. They call the service
directly (no HTTP), using the same settings as the server."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from ..errors import AudiostoreError
from ..settings_checks import load_settings

if TYPE_CHECKING:  # the server is imported only when a server command runs
    from ..runtime import Runtime

T = TypeVar("T")
err = Console(stderr=True)
keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
db_app = typer.Typer(help="Catalogue migrations.", no_args_is_help=True)


def run_with_runtime(fn: Callable[[Runtime], Awaitable[T]], *, migrate: bool = True) -> T:
    """Build a runtime from the environment, run `fn`, close it; errors exit 1 with one line."""

    async def go() -> T:
        from ..runtime import Runtime

        rt = Runtime.build(load_settings())
        try:
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
) -> None:
    """Run the service (granian). First start: migrates and prints an admin key once."""
    for name, value in (("HOST", host), ("PORT", port), ("WORKERS", workers)):
        if value is not None:
            os.environ[f"AUDIOSTORE_{name}"] = str(value)
    try:
        settings = load_settings()
    except AudiostoreError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from None

    if settings.store == "s3":
        refuse_rejected_credentials()  # a wrong secret stops the start, naming the setting

    async def prepare(rt: Runtime) -> Any:
        return await rt.ensure_admin_key()

    issued = run_with_runtime(prepare)
    if issued is not None:
        typer.echo("First start: created an admin API key. It is shown once; a copy is in "
                   f"{settings.data_dir / 'admin.key'} (mode 0600).")
        typer.echo(f"AUDIOSTORE_KEY={issued.key}")
    typer.echo(f"audiostore listening on {settings.resolved_public_url}  (API docs: /docs)", err=True)

    from granian import Granian
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings

    Granian(
        "audiostore.http.app:create_app",
        factory=True,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        workers=settings.workers,
        log_access=False,
        backlog=settings.backlog,
        backpressure=settings.backpressure,
        http1_settings=HTTP1Settings(header_read_timeout=settings.http1_header_read_timeout_ms),
    ).serve()


@keys_app.command("create")
def keys_create(
    owner: str = typer.Option(..., help="The owner this key acts as."),
    admin: bool = typer.Option(False, help="May act for every owner."),
    label: str = typer.Option(None, help="A note to recognise the key by."),
) -> None:
    """Create a key. Its secret is printed alone on the first line of stdout, once."""
    issued = run_with_runtime(lambda rt: rt.keys.create(owner, admin=admin, label=label))
    typer.echo(issued.key)
    typer.echo(f"id={issued.row.id} owner={owner} admin={admin}", err=True)


@keys_app.command("list")
def keys_list(
    owner: str = typer.Option(None, help="Only this owner's keys."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List keys (never their secrets)."""
    rows = run_with_runtime(lambda rt: rt.keys.list(owner))
    items = [
        {"id": r.id, "prefix": r.prefix, "owner": r.owner, "admin": r.admin, "label": r.label,
         "created_at": r.created_at.isoformat(), "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None}
        for r in rows
    ]
    if json_out:
        import json

        typer.echo(json.dumps(items, indent=2))
        return
    table = Table("id", "prefix", "owner", "admin", "label", "created", "revoked")
    for i in items:
        table.add_row(i["id"], i["prefix"], i["owner"], str(i["admin"]), i["label"] or "",
                      i["created_at"][:19], (i["revoked_at"] or "")[:19])
    Console().print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: str = typer.Argument(..., help="The key's id or prefix.")) -> None:
    """Revoke a key: it stops working at once on this machine (within
    AUDIOSTORE_AUTH_CACHE_SECONDS on other running servers)."""
    run_with_runtime(lambda rt: rt.keys.revoke(key_id))
    typer.echo(f"revoked {key_id}")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    run_with_runtime(lambda rt: rt.migrate(), migrate=False)
    typer.echo("catalogue is at the latest revision")


@db_app.command("current")
def db_current() -> None:
    """Print the catalogue's revision and the latest one."""
    from ..catalog import current_revision, head_revision

    current = run_with_runtime(lambda rt: current_revision(rt.catalog.engine), migrate=False)
    typer.echo(f"current={current} head={head_revision()}")


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.add_typer(keys_app, name="keys")
    app.add_typer(db_app, name="db")
