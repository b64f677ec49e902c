"""`audiostore queue ...`: named queues of audio and their continuous MP3 stream, over HTTP.

Same conventions as the other client commands (client_commands.py): AUDIOSTORE_URL /
AUDIOSTORE_KEY or --url/--key, results on stdout (or --json), progress and one-line errors
on stderr, and the same exit codes.
"""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from ..client import Client, Queue
from .client_commands import EXIT_USAGE, KeyOpt, UrlOpt, err, with_client
from .listing_table import id_column, listing
from .human_units import human_duration

queue_app = typer.Typer(
    name="queue", help="Queues of audio played as one continuous MP3 stream.", no_args_is_help=True,
)


class Mode(str, Enum):
    sequential = "sequential"
    loop = "loop"
    shuffle = "shuffle"
    endless_shuffle = "endless-shuffle"


ModeOpt = typer.Option(Mode.sequential, "--mode", "-m", help="Play order.")


def _summary(q: Queue) -> str:
    total = sum(i.duration for i in q.items)
    return f"{q.name}  {len(q.items)} items  {human_duration(total)}"


@queue_app.command("put")
def put(
    name: str = typer.Argument(..., help="Queue name."),
    audio_ids: list[str] = typer.Argument(..., help="Audio ids in play order (repeats allowed)."),
    json_out: bool = typer.Option(False, "--json", help="Print the queue as JSON."),
    url: str = UrlOpt,
    key: str = KeyOpt,
) -> None:
    """Create or replace a queue. Prints `name  N items  total duration`."""
    q = with_client(url, key, lambda c: c.put_queue(name, audio_ids))
    typer.echo(json.dumps(q.to_json(), indent=2) if json_out else _summary(q))


@queue_app.command("show")
def show(
    name: str = typer.Argument(..., help="Queue name."),
    json_out: bool = typer.Option(False, "--json", help="Print the queue as JSON."),
    url: str = UrlOpt,
    key: str = KeyOpt,
) -> None:
    """Show a queue's playable items (expired or deleted audio has dropped out)."""
    q = with_client(url, key, lambda c: c.get_queue(name))
    if json_out:
        typer.echo(json.dumps(q.to_json(), indent=2))
        return
    table = listing("#", id_column(), "name", "duration")
    table.title, table.title_justify = escape(_summary(q)), "left"
    for n, item in enumerate(q.items, 1):
        table.add_row(str(n), item.id, escape(item.name), human_duration(item.duration))
    Console(highlight=False).print(table)


@queue_app.command("rm")
def rm(name: str = typer.Argument(..., help="Queue name."), url: str = UrlOpt, key: str = KeyOpt) -> None:
    """Delete a queue (its audio stays)."""
    with_client(url, key, lambda c: c.delete_queue(name))
    typer.echo(f"deleted queue {name}")


@queue_app.command("url")
def url_cmd(
    name: str = typer.Argument(..., help="Queue name."),
    mode: Mode = ModeOpt,
    expires_in: int = typer.Option(None, help="Seconds the URL stays valid."),
    hls: bool = typer.Option(False, "--hls", help="The queue's HLS playlist instead of its MP3 stream."),
    json_out: bool = typer.Option(False, "--json", help="Print {name, mode, url, expires_at}."),
    url: str = UrlOpt,
    key: str = KeyOpt,
) -> None:
    """Print a signed URL (alone on stdout) that plays the queue's stream with no header
    (with --hls: its HLS playlist)."""
    signed = with_client(url, key, lambda c: c.queue_url(name, mode.value, expires_in=expires_in, hls=hls))
    typer.echo(json.dumps(signed.to_json()) if json_out else signed.url)


@queue_app.command("play")
def play(
    name: str = typer.Argument(..., help="Queue name."),
    out: Path = typer.Option(..., "--out", "-o", dir_okay=False, help="MP3 file to write."),
    mode: Mode = ModeOpt,
    seconds: float = typer.Option(
        None, "--seconds", "-s", min=0.001,
        help="Stop after this many seconds of audio (default: when the stream ends; loops never do).",
    ),
    json_out: bool = typer.Option(False, "--json", help="Print {path, mode, seconds, bytes}."),
    show_progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress on stderr."),
    url: str = UrlOpt,
    key: str = KeyOpt,
) -> None:
    """Write the queue's stream to a file, cut on a frame boundary after --seconds of audio
    or when the stream ends (Ctrl-C stops early and keeps what was written). Prints the path."""
    if seconds is None and mode in (Mode.loop, Mode.endless_shuffle):
        err.print("[yellow]note:[/yellow] this mode never ends; stop with Ctrl-C or use --seconds.")
    result: dict[str, Any] = {}
    interrupted = False

    def go(c: Client) -> None:
        nonlocal interrupted
        stream = c.stream_queue(name, mode.value, until=seconds)  # errors raise before any byte
        bar = Progress(TextColumn("{task.description}"), BarColumn(),
                       TextColumn("{task.completed:.1f}s of audio"), TimeElapsedColumn(),
                       console=err, disable=not show_progress)
        with stream, bar, out.open("wb") as f:
            task = bar.add_task(escape(f"{name} ({mode.value})"), total=seconds)
            try:
                for chunk in stream:
                    f.write(chunk)
                    bar.update(task, completed=stream.seconds)
            except KeyboardInterrupt:
                interrupted = True
        result.update(path=str(out), mode=mode.value, seconds=round(stream.seconds, 3), bytes=stream.bytes)

    try:
        with_client(url, key, go)
    except OSError as exc:  # the output file cannot be written
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_USAGE) from None
    typer.echo(json.dumps(result) if json_out else result["path"])
    if interrupted:
        raise typer.Exit(130)


def register(app: typer.Typer) -> None:
    app.add_typer(queue_app)


__all__ = ["queue_app", "register"]
