"""Commands that use a running service over HTTP (AUDIOSTORE_URL, AUDIOSTORE_KEY or flags).

Results go to stdout (one line per item, or JSON with --json); progress bars and errors go
to stderr, errors as one line: `error: <code>: <message>`.

Exit codes scripts can rely on:
  0 success · 1 other error (the service failed, 5xx) · 2 usage (bad flags, missing file) ·
  3 not found · 4 authentication (missing, bad or revoked key; not allowed) ·
  5 service unreachable · 6 input refused (not audio, too large, bad field, key conflict)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from ..client import ApiError, AudiostoreClientError, Client, ConnectionFailed

T = TypeVar("T")
err = Console(stderr=True, highlight=False)

UrlOpt = typer.Option(None, "--url", envvar="AUDIOSTORE_URL", help="Service URL.")
KeyOpt = typer.Option(None, "--key", envvar="AUDIOSTORE_KEY", help="API key.")

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
EXIT_NOT_FOUND, EXIT_AUTH, EXIT_UNREACHABLE, EXIT_REJECTED = 3, 4, 5, 6


def exit_code_for(exc: AudiostoreClientError) -> int:
    if isinstance(exc, ApiError):
        if exc.status == 404:
            return EXIT_NOT_FOUND
        if exc.status in (401, 403):
            return EXIT_AUTH
        if 400 <= exc.status < 500:
            return EXIT_REJECTED
        return EXIT_ERROR
    if isinstance(exc, ConnectionFailed):
        return EXIT_UNREACHABLE
    return EXIT_ERROR


def report(exc: AudiostoreClientError, prefix: str = "") -> int:
    """Print one error line to stderr; return its exit code."""
    text = f"{exc.code}: {exc.message}" if isinstance(exc, ApiError) else str(exc)
    err.print(f"[red]error:[/red] {escape(prefix + text)}")
    return exit_code_for(exc)


def with_client(url: str | None, key: str | None, fn: Callable[[Client], T]) -> T:
    """Run `fn` with a client; SDK errors become one stderr line and their exit code."""
    try:
        with Client(url, api_key=key) as c:
            return fn(c)
    except AudiostoreClientError as exc:
        raise typer.Exit(report(exc)) from None


def _human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"


@contextmanager
def _progress(enabled: bool) -> Iterator[Progress]:
    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), DownloadColumn(),
        TransferSpeedColumn(), TimeRemainingColumn(), console=err, disable=not enabled,
    )
    with progress:
        yield progress


def _track(progress: Progress, task: Any) -> Callable[[int, int | None], None]:
    def update(done: int, total: int | None) -> None:
        progress.update(task, completed=done, total=total)

    return update


def upload(
    files: list[Path] = typer.Argument(..., exists=True, dir_okay=False, help="Audio files."),
    collection: str = typer.Option(None, help="Collection to put them in."),
    ttl: int = typer.Option(None, help="Expire after this many seconds."),
    name: str = typer.Option(None, help="Name to store (one file only; default: its file name)."),
    json_out: bool = typer.Option(False, "--json", help="Print the audio objects as a JSON list."),
    show_progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bars on stderr."),
    url: str = UrlOpt,
    key: str = KeyOpt,
) -> None:
    """Upload audio files, one progress bar each. A failed file does not stop the others;
    the exit code is the first failure's."""
    if name is not None and len(files) > 1:
        err.print("[red]error:[/red] --name needs exactly one file.")
        raise typer.Exit(EXIT_USAGE)
    stored: list[dict[str, Any]] = []
    failed = EXIT_OK

    def go(c: Client) -> None:
        nonlocal failed
        with _progress(show_progress) as progress:
            tasks = [progress.add_task(escape(f.name), total=f.stat().st_size) for f in files]
            for f, task in zip(files, tasks, strict=True):
                try:
                    obj = c.upload(f, name=name, collection=collection, ttl_seconds=ttl,
                                   progress=_track(progress, task))
                except AudiostoreClientError as exc:
                    progress.update(task, description=f"[red]{escape(f.name)} failed")
                    code = report(exc, prefix=f"{f.name}: ")
                    failed = failed or code
                    if isinstance(exc, ConnectionFailed):
                        break
                    continue
                stored.append(obj.to_json())

    with_client(url, key, go)
    if json_out:
        typer.echo(json.dumps(stored, indent=2))
    else:
        for o in stored:
            typer.echo(f"{o['id']}  {o['name']}  {o['duration']:.2f}s  {_human_size(o['size'])}")
    if failed:
        raise typer.Exit(failed)


def download(
    audio_id: str = typer.Argument(..., help="The audio id."),
    out: Path = typer.Option(None, "--out", "-o", help="File to write (default: its name, here)."),
    resume: bool = typer.Option(True, "--resume/--no-resume", help="Continue a cut download."),
    show_progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bar on stderr."),
    url: str = UrlOpt,
    key: str = KeyOpt,
) -> None:
    """Download audio bytes to a file (via FILE.part; a cut download resumes where it stopped).
    Prints the file's path."""

    def go(c: Client) -> Path:
        target = out or Path(Path(c.get(audio_id).name).name)
        with _progress(show_progress) as progress:
            task = progress.add_task(escape(target.name), total=None)
            return c.download(audio_id, target, resume=resume, progress=_track(progress, task))

    typer.echo(str(with_client(url, key, go)))


def ls(
    collection: str = typer.Option(None, help="Only this collection."),
    q: str = typer.Option(None, "--search", "-q", help="Search names and text."),
    limit: int = typer.Option(50, help="How many to show (0: all)."),
    json_out: bool = typer.Option(False, "--json", help="Print a JSON list."),
    url: str = UrlOpt,
    key: str = KeyOpt,
) -> None:
    """List audio, newest first."""
    items = with_client(
        url, key,
        lambda c: [o.to_json() for o in c.list(limit=limit or None, collection=collection, q=q)],
    )
    if json_out:
        typer.echo(json.dumps(items, indent=2))
        return
    table = Table("id", "name", "collection", "format", "duration", "size", "created", "expires")
    for o in items:
        table.add_row(o["id"], escape(o["name"]), o["collection"], o["format"], f"{o['duration']:.2f}s",
                      _human_size(o["size"]), o["created_at"][:19], (o["expires_at"] or "")[:19])
    Console(highlight=False).print(table)


def info(audio_id: str = typer.Argument(None, help="An audio id; none: the service's facts."),
         url: str = UrlOpt, key: str = KeyOpt) -> None:
    """Show one audio object (JSON), or the service's backend facts."""
    data = with_client(url, key, lambda c: c.get(audio_id).to_json() if audio_id else c.info())
    typer.echo(json.dumps(data, indent=2))


def url_cmd(
    audio_id: str = typer.Argument(...),
    expires_in: int = typer.Option(None, help="Seconds the URL stays valid."),
    fmt: str = typer.Option(None, "--format", help="A rendition: mp3, opus, aac, wav or flac."),
    bitrate: str = typer.Option(None, help="Rendition bit rate (bit/s, or e.g. 96k)."),
    sample_rate: int = typer.Option(None, help="Rendition sample rate (Hz)."),
    channels: int = typer.Option(None, help="Rendition channels (1 or 2)."),
    normalize: bool = typer.Option(None, "--normalize/--no-normalize", help="Normalise the rendition's loudness."),
    json_out: bool = typer.Option(False, "--json", help="Print {id, url, expires_at}."),
    url: str = UrlOpt,
    key: str = KeyOpt,
) -> None:
    """Print a signed URL (alone on stdout); it needs no header to fetch. With --format it
    opens that rendition (made by the service on first fetch) and nothing else."""
    if fmt is None and (bitrate, sample_rate, channels, normalize) != (None, None, None, None):
        err.print("[red]error:[/red] --bitrate, --sample-rate, --channels and --normalize need --format.")
        raise typer.Exit(EXIT_USAGE)
    signed = with_client(url, key, lambda c: c.sign(
        audio_id, expires_in=expires_in, format=fmt, bitrate=bitrate, sample_rate=sample_rate,
        channels=channels, normalize=normalize,
    ))
    typer.echo(json.dumps(signed.to_json()) if json_out else signed.url)


def rm(audio_ids: list[str] = typer.Argument(...), url: str = UrlOpt, key: str = KeyOpt) -> None:
    """Delete audio. Every id is tried; the exit code is the first failure's."""
    failed = EXIT_OK

    def go(c: Client) -> None:
        nonlocal failed
        for audio_id in audio_ids:
            try:
                c.delete(audio_id)
            except ApiError as exc:
                failed = failed or report(exc, prefix=f"{audio_id}: ")
                continue
            typer.echo(f"deleted {audio_id}")

    with_client(url, key, go)
    if failed:
        raise typer.Exit(failed)


def register(app: typer.Typer) -> None:
    app.command()(upload)
    app.command()(download)
    app.command()(ls)
    app.command()(info)
    app.command("url")(url_cmd)
    app.command()(rm)
