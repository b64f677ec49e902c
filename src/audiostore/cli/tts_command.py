"""`audiostore tts`: speak text through a running service (AUDIOSTORE_URL, AUDIOSTORE_KEY)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from ..client import Client
from .client_commands import KeyOpt, UrlOpt, err, with_client
from .listing_table import id_column, listing, plain_output
from .human_units import human_duration


def tts(
    text: str = typer.Argument(None, help="The words to speak."),
    voice: str = typer.Option(None, help="Voice id (see --voices); default: the service's."),
    format: str = typer.Option(None, "--format", "-f", help="wav, mp3, opus, ogg, aac or flac."),
    speed: float = typer.Option(None, help="0.5 to 2.0."),
    ttl: int = typer.Option(None, help="Keep the audio this many seconds."),
    segments: bool = typer.Option(False, help="Also store each sentence on its own."),
    expires_in: int = typer.Option(
        None, "--expires-in", help="Signed URL lifetime in seconds (default: the service's "
        "AUDIOSTORE_URL_DEFAULT_EXPIRY, 1 h)."
    ),
    metadata: str = typer.Option(
        None, "--metadata", help='A JSON object to store on the audio, e.g. \'{"order": 7}\'.'
    ),
    out: Path = typer.Option(None, "--out", "-o", help="Also download the audio to this file."),
    json_out: bool = typer.Option(False, "--json", help="Print the audio object as JSON."),
    voices: bool = typer.Option(False, "--voices", help="List the service's voices and exit."),
    url: str = UrlOpt,
    key: str = KeyOpt,
) -> None:
    """Speak text and store it; prints the signed URL (or the object with --json)."""
    if voices:
        listed = with_client(url, key, lambda c: c.tts_voices())
        if json_out:
            typer.echo(json.dumps(listed, indent=2))
            return
        rows = [(v["id"], v["engine"], v["language"], v["name"]) for v in listed["voices"]]
        if plain_output():
            for row in rows:
                typer.echo("\t".join(row))
            return
        table = listing(id_column(), "engine", "language", "name")
        for row in rows:
            table.add_row(*(escape(f) for f in row))
        Console().print(table)
        return
    if not text:
        err.print("[red]error:[/red] give the text to speak (or --voices).")
        raise typer.Exit(2)
    meta = _parsed_metadata(metadata)

    def go(c: Client) -> dict[str, Any]:
        obj = c.tts(text, voice=voice, format=format, speed=speed, ttl_seconds=ttl, segments=segments,
                    expires_in=expires_in, metadata=meta)
        if out is not None:
            c.download(obj["id"], out)
        return obj

    obj = with_client(url, key, go)
    if json_out:
        typer.echo(json.dumps(obj, indent=2))
    elif out is not None:
        typer.echo(str(out))
    else:
        typer.echo(obj["url"])
    err.print(
        f"{obj['id']}  {human_duration(obj['duration'])}  {obj['engine']}/{obj['voice_id']}"
        + ("  (cached)" if obj["cache_hit"] else "")
    )


def _parsed_metadata(raw: str | None) -> Any:
    """--metadata as JSON; text that is not JSON is a usage error. Whether the JSON is an
    acceptable object is the service's call (a 422 `invalid_metadata`, exit 6)."""
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        err.print(f"[red]error:[/red] --metadata is not valid JSON: {escape(exc.msg)}.")
        raise typer.Exit(2) from None


def register(app: typer.Typer) -> None:
    app.command()(tts)
