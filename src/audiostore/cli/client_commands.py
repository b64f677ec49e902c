"""Commands that use a running service over HTTP (AUDIOSTORE_URL, AUDIOSTORE_KEY)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from ..client import ApiError, AudiostoreClientError, Client

T = TypeVar("T")
err = Console(stderr=True)

UrlOpt = typer.Option(None, "--url", envvar="AUDIOSTORE_URL", help="Service URL.")
KeyOpt = typer.Option(None, "--key", envvar="AUDIOSTORE_KEY", help="API key.")

# Exit codes scripts can rely on.
EXIT_ERROR, EXIT_NOT_FOUND, EXIT_AUTH, EXIT_UNREACHABLE = 1, 3, 4, 5


def with_client(url: str | None, key: str | None, fn: Callable[[Client], T]) -> T:
    try:
        with Client(url, api_key=key) as c:
            return fn(c)
    except ApiError as exc:
        err.print(f"[red]error:[/red] {exc.code}: {exc.message}")
        code = {404: EXIT_NOT_FOUND, 401: EXIT_AUTH, 403: EXIT_AUTH}.get(exc.status, EXIT_ERROR)
        raise typer.Exit(code) from None
    except AudiostoreClientError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(EXIT_UNREACHABLE) from None


def _human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"


def upload(
    files: list[Path] = typer.Argument(..., exists=True, dir_okay=False, help="Audio files."),
    collection: str = typer.Option(None, help="Collection to put them in."),
    ttl: int = typer.Option(None, help="Expire after this many seconds."),
    json_out: bool = typer.Option(False, "--json", help="Print the audio objects as JSON."),
    url: str = UrlOpt,
    key: str = KeyOpt,
) -> None:
    """Upload audio files."""

    def go(c: Client) -> list[dict[str, Any]]:
        return [c.upload(f, collection=collection, ttl_seconds=ttl) for f in files]

    objs = with_client(url, key, go)
    if json_out:
        typer.echo(json.dumps(objs, indent=2))
    else:
        for o in objs:
            typer.echo(f"{o['id']}  {o['name']}  {o['duration']:.2f}s  {_human_size(o['size'])}")


def ls(
    collection: str = typer.Option(None, help="Only this collection."),
    q: str = typer.Option(None, "--search", "-q", help="Search names and text."),
    limit: int = typer.Option(50, help="How many to show."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    url: str = UrlOpt,
    key: str = KeyOpt,
) -> None:
    """List audio, newest first."""
    items = with_client(url, key, lambda c: list(c.list(limit=limit, collection=collection, q=q)))
    if json_out:
        typer.echo(json.dumps(items, indent=2))
        return
    table = Table("id", "name", "collection", "format", "duration", "size", "created", "expires")
    for o in items:
        table.add_row(o["id"], o["name"], o["collection"], o["format"], f"{o['duration']:.2f}s",
                      _human_size(o["size"]), o["created_at"][:19], (o["expires_at"] or "")[:19])
    Console().print(table)


def info(audio_id: str = typer.Argument(None, help="An audio id; none: the service's facts."),
         url: str = UrlOpt, key: str = KeyOpt) -> None:
    """Show one audio object (JSON), or the service's backend facts."""
    data = with_client(url, key, lambda c: c.get(audio_id) if audio_id else c.info())
    typer.echo(json.dumps(data, indent=2))


def url_cmd(
    audio_id: str = typer.Argument(...),
    expires_in: int = typer.Option(None, help="Seconds the URL stays valid."),
    url: str = UrlOpt,
    key: str = KeyOpt,
) -> None:
    """Print a signed URL (alone on stdout)."""
    signed = with_client(url, key, lambda c: c.sign(audio_id, expires_in=expires_in))
    typer.echo(signed["url"])


def rm(audio_ids: list[str] = typer.Argument(...), url: str = UrlOpt, key: str = KeyOpt) -> None:
    """Delete audio."""

    def go(c: Client) -> None:
        for audio_id in audio_ids:
            c.delete(audio_id)
            typer.echo(f"deleted {audio_id}")

    with_client(url, key, go)


def download(
    audio_id: str = typer.Argument(...),
    out: Path = typer.Option(None, "--out", "-o", help="File to write (default: the name)."),
    url: str = UrlOpt,
    key: str = KeyOpt,
) -> None:
    """Download audio bytes to a file."""

    def go(c: Client) -> Path:
        target = out or Path(c.get(audio_id)["name"])
        return c.download(audio_id, target)

    path = with_client(url, key, go)
    typer.echo(str(path))


def register(app: typer.Typer) -> None:
    app.command()(upload)
    app.command()(ls)
    app.command()(info)
    app.command("url")(url_cmd)
    app.command()(rm)
    app.command()(download)
