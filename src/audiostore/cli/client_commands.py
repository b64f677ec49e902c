"""Commands that use a running service over HTTP (AUDIOSTORE_URL, AUDIOSTORE_KEY or
AUDIOSTORE_TOKEN, or flags).

Every command authenticates with an API key or a client token: `--key` and `--token` are one
option (the service tells a token from a key by its shape), so each command takes either;
in the environment a token (`AUDIOSTORE_TOKEN`) wins over a key (`AUDIOSTORE_KEY`), and a
flag over both.

Results go to stdout (one line per item, or JSON with --json); progress bars and errors go
to stderr, errors as one line: `error: <code>: <message>`.

Exit codes scripts can rely on:
  0 success · 1 other error (the service failed, 5xx) · 2 usage (bad flags, missing file) ·
  3 not found · 4 authentication (missing, bad or revoked key; not allowed) ·
  5 service unreachable (or the URL is not an audiostore service) · 6 input refused (not
  audio, too large, bad field, key conflict) · 130 stopped by Ctrl-C

Output for people and for scripts: on a terminal a table; piped, one tab-separated line per
item with every field whole (ids are never cut); `--json` for everything.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from ..client import (
    DEFAULT_TUS_CHUNK_BYTES,
    DEFAULT_TUS_THRESHOLD,
    ApiError,
    AudiostoreClientError,
    Client,
    ConnectionFailed,
    SignedUpload,
    UploadStateFile,
)
from ..client.signed_upload import service_of
from ..client.upload_state import default_state_path
from .human_units import BinaryTransferSpeedColumn, binary_download_column, human_duration, human_size
from .human_units import parse_size
from .listing_table import fitting, id_column, listing, plain_output

T = TypeVar("T")
err = Console(stderr=True, highlight=False, soft_wrap=True)  # an error stays one line, however narrow

UrlOpt = typer.Option(None, "--url", envvar="AUDIOSTORE_URL", help="Service URL.")
KeyOpt = typer.Option(
    None, "--key", "--token", envvar=["AUDIOSTORE_TOKEN", "AUDIOSTORE_KEY"],
    help="API key, or a client token (`audiostore token create`).",
)

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
EXIT_NOT_FOUND, EXIT_AUTH, EXIT_UNREACHABLE, EXIT_REJECTED = 3, 4, 5, 6
EXIT_INTERRUPTED = 130  # the shell's own code for a command stopped by SIGINT

# The service's messages name HTTP routes; on the command line the command says it.
_CLI_WORDS = {
    "GET /v1/tts/voices": "`audiostore tts --voices`",
    "POST /v1/urls": "`audiostore url`",
    ": send 'Authorization: Bearer <key>'": "",  # the CLI sends it; where the key came from follows
    "POST /v1/tokens": "`audiostore token create`",
}


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


def _flag_given(flag: str) -> bool:
    """Whether `flag` is on the command line. Read from it directly: Typer keeps its
    parameter sources in a private, vendored Click."""
    return any(a == flag or a.startswith(f"{flag}=") for a in sys.argv[1:])


def _origin(flag: str, envvar: str) -> str | None:
    """Where `--url` or `--key` came from: the flag (it wins), the environment, or nowhere."""
    if _flag_given(flag):
        return flag
    return envvar if os.environ.get(envvar) else None


def _key_origin() -> str:
    """Where the key or token came from, in the order Click chose it: a flag, else
    AUDIOSTORE_TOKEN, else AUDIOSTORE_KEY."""
    for flag in ("--token", "--key"):
        if _flag_given(flag):
            return f"the {flag[2:]} given with {flag}"
    if os.environ.get("AUDIOSTORE_TOKEN"):
        return "the token in AUDIOSTORE_TOKEN"
    if os.environ.get("AUDIOSTORE_KEY"):
        return "the key in AUDIOSTORE_KEY"
    return "no key was given: set AUDIOSTORE_KEY or pass --key (or a client token: AUDIOSTORE_TOKEN, --token)"


def _check_one_credential() -> None:
    """`--key K --token T` would silently use the last one: refuse it (exit 2)."""
    if _flag_given("--key") and _flag_given("--token"):
        err.print("[red]error:[/red] give --key or --token, not both.")
        raise typer.Exit(EXIT_USAGE)


def _url_origin() -> str:
    return _origin("--url", "AUDIOSTORE_URL") or "the default; set AUDIOSTORE_URL or pass --url"


def _answers_as_audiostore(client: Client) -> bool:
    """Does the client's URL serve audiostore's own health answer (`GET /v1/health`)?"""
    try:
        body = client.health()
    except (AudiostoreClientError, ValueError):  # an error page, or a body that is not JSON
        return False
    return isinstance(body, dict) and "status" in body and "version" in body


def _check_base_url(exc: AudiostoreClientError, client: Client | None) -> None:
    """A 404 (or an answer without the service's error body) from a URL that is not an
    audiostore service, or a wrong path prefix, is a wrong URL, not missing audio: say so
    and stop (exit 5), since every other call would fail the same way."""
    if client is None or not isinstance(exc, ApiError):
        return
    if exc.status != 404 and exc.code != "http_error":
        return
    if _answers_as_audiostore(client):
        return
    err.print(f"[red]error:[/red] {escape(client.base_url)} is not an audiostore service (it answered "
              f"{exc.status} and has no /v1/health); check the URL (from {_url_origin()}).")
    raise typer.Exit(EXIT_UNREACHABLE)


def report(exc: AudiostoreClientError, prefix: str = "", client: Client | None = None) -> int:
    """Print one error line to stderr, in the CLI's words; return its exit code. With the
    `client` that got it, a 404 first checks that the URL is an audiostore service."""
    _check_base_url(exc, client)
    text = f"{exc.code}: {exc.message}" if isinstance(exc, ApiError) else str(exc)
    for http_words, cli_words in _CLI_WORDS.items():
        text = text.replace(http_words, cli_words)
    if isinstance(exc, ApiError) and exc.status in (401, 403) and not exc.code.startswith("signature_"):
        # A signed URL's refusal is the URL's (changed or expired), never the key's.
        text = f"{text.rstrip('.')} ({_key_origin()})."
    err.print(f"[red]error:[/red] {escape(prefix + text)}")
    return exit_code_for(exc)


def with_client(url: str | None, key: str | None, fn: Callable[[Client], T]) -> T:
    """Run `fn` with a client; SDK errors become one stderr line and their exit code."""
    _check_one_credential()
    try:
        with Client(url, api_key=key) as c:
            try:
                return fn(c)
            except AudiostoreClientError as exc:
                raise typer.Exit(report(exc, client=c)) from None
    except AudiostoreClientError as exc:
        raise typer.Exit(report(exc)) from None


@contextmanager
def _progress(enabled: bool) -> Iterator[Progress]:
    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), binary_download_column(),
        BinaryTransferSpeedColumn(), TimeRemainingColumn(), console=err, disable=not enabled,
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
    idempotency_key: str = typer.Option(
        None, "--idempotency-key",
        help="Send the same key again to finish a stopped upload without storing anything twice "
        "(several files: KEY-1, KEY-2, ... in order). Default: a fresh one, printed if stopped.",
    ),
    tus_threshold: int = typer.Option(
        DEFAULT_TUS_THRESHOLD, "--tus-threshold", parser=parse_size, metavar="SIZE", show_default="8MiB",
        help="Files larger than this go as resumable tus uploads (e.g. 64MiB, 0: all).",
    ),
    tus_chunk: int = typer.Option(
        DEFAULT_TUS_CHUNK_BYTES, "--tus-chunk", parser=parse_size, metavar="SIZE", show_default="4MiB",
        help="Bytes per tus PATCH: at most what a dropped connection costs.",
    ),
    state_file: Path = typer.Option(
        None, "--state-file", dir_okay=False,
        help="Where unfinished tus uploads are remembered, to resume them in a later run "
        "(default: $XDG_CACHE_HOME/audiostore/uploads.json, else ~/.cache/audiostore/uploads.json).",
    ),
    signed_url: str = typer.Option(
        None, "--signed-url", metavar="URL",
        help="Send the one FILE to this signed upload URL (`audiostore upload-url`): no key "
        "needed; the URL sets the service, collection and name.",
    ),
    url: str = UrlOpt,
    key: str = KeyOpt,
) -> None:
    """Upload audio files, one progress bar each. A failed file does not stop the others;
    the exit code is the first failure's. Files larger than --tus-threshold go by tus: a
    dropped connection is resumed from the service's offset, and a run that was stopped or
    killed is resumed by running the same command again (the state file remembers the
    upload). Smaller files are finished by the same command with the same --idempotency-key.
    With --signed-url, one file goes to that URL (by tus too above the threshold)."""
    upload_state = UploadStateFile(state_file or default_state_path())
    if signed_url is not None:
        fixed = [flag for flag, value in (("--collection", collection), ("--ttl", ttl), ("--name", name),
                                          ("--idempotency-key", idempotency_key)) if value is not None]
        if len(files) != 1 or fixed:
            err.print("[red]error:[/red] --signed-url takes exactly one file, and the URL sets its "
                      f"collection, name and lifetime{': drop ' + ', '.join(fixed) if fixed else ''}.")
            raise typer.Exit(EXIT_USAGE)
        _upload_signed(signed_url, files[0], json_out, show_progress, tus_threshold, tus_chunk, upload_state)
        return
    if name is not None and len(files) > 1:
        err.print("[red]error:[/red] --name needs exactly one file.")
        raise typer.Exit(EXIT_USAGE)
    run_key = idempotency_key or uuid.uuid4().hex
    stored: list[dict[str, Any]] = []
    failed = EXIT_OK

    def file_key(n: int) -> str:
        return run_key if len(files) == 1 else f"{run_key}-{n}"

    def stopped(f: Path, why: str) -> None:
        if f.stat().st_size > tus_threshold:
            # A tus upload: the service keeps every acknowledged chunk, the state file its URL.
            err.print(f"[red]error:[/red] {escape(f.name)}: upload stopped ({why}). To finish, run "
                      "the same command again: it resumes where the service stands.")
            return
        # Bytes already sent are not kept by the service; a file it did store before the
        # stop is answered again, not stored twice, when the same key comes back.
        err.print(f"[red]error:[/red] {escape(f.name)}: upload stopped ({why}). To finish, run the "
                  f"same command again with --idempotency-key {run_key} (files already stored "
                  "are not stored twice).")

    def go(c: Client) -> None:
        nonlocal failed
        with _progress(show_progress) as progress:
            tasks = [progress.add_task(escape(f.name), total=f.stat().st_size) for f in files]
            for n, (f, task) in enumerate(zip(files, tasks, strict=True), start=1):
                try:
                    obj = c.upload(f, name=name, collection=collection, ttl_seconds=ttl,
                                   progress=_track(progress, task), idempotency_key=file_key(n),
                                   tus_threshold=tus_threshold, tus_chunk_bytes=tus_chunk,
                                   upload_state=upload_state)
                except KeyboardInterrupt:
                    progress.update(task, description=f"[red]{escape(f.name)} stopped")
                    progress.stop()
                    stopped(f, "Ctrl-C")
                    failed = EXIT_INTERRUPTED
                    return
                except AudiostoreClientError as exc:
                    progress.update(task, description=f"[red]{escape(f.name)} failed")
                    code = report(exc, prefix=f"{f.name}: ", client=c)
                    failed = failed or code
                    if isinstance(exc, ConnectionFailed):
                        stopped(f, "the connection failed")
                        break
                    continue
                stored.append(obj.to_json())

    with_client(url, key, go)
    if json_out:
        typer.echo(json.dumps(stored, indent=2))
    else:
        for o in stored:
            typer.echo("\t".join((o["id"], o["name"], human_duration(o["duration"]), human_size(o["size"]))))
    if failed:
        raise typer.Exit(failed)


def _upload_signed(
    signed_url: str, f: Path, json_out: bool, show_progress: bool, tus_threshold: int, tus_chunk: int,
    upload_state: UploadStateFile,
) -> None:
    """`upload --signed-url`: the one file to a signed upload URL, with no key."""
    try:
        service = service_of(signed_url)
    except ValueError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_USAGE) from None

    def go(c: Client) -> SignedUpload:
        with _progress(show_progress) as progress:
            task = progress.add_task(escape(f.name), total=f.stat().st_size)
            try:
                return c.upload_to_signed_url(
                    signed_url, f, progress=_track(progress, task), tus_threshold=tus_threshold,
                    tus_chunk_bytes=tus_chunk, upload_state=upload_state,
                )
            except KeyboardInterrupt:
                progress.stop()
                # A tus upload is remembered in the state file; a PUT that was cut stored nothing
                # and did not spend the URL.
                err.print(f"[red]error:[/red] {escape(f.name)}: upload stopped (Ctrl-C). Run the same "
                          "command again to finish it.")
                raise typer.Exit(EXIT_INTERRUPTED) from None

    stored = with_client(service, None, go)
    if json_out:
        typer.echo(json.dumps(stored.to_json(), indent=2))
    elif stored.audio is not None:
        o = stored.audio
        typer.echo("\t".join((o.id, o.name, human_duration(o.duration), human_size(o.size))))
    else:
        typer.echo(stored.id)


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
            try:
                return c.download(audio_id, target, resume=resume, progress=_track(progress, task))
            except KeyboardInterrupt:
                progress.stop()
                err.print(f"[red]error:[/red] download stopped (Ctrl-C). Run the same command again: "
                          f"it goes on from {escape(str(target))}.part.")
                raise typer.Exit(EXIT_INTERRUPTED) from None

    typer.echo(str(with_client(url, key, go)))


_LS_FIELDS = ("id", "name", "collection", "owner", "format", "duration", "size", "created", "expires")
# What a narrow terminal leaves out first (`--json` and a pipe always have everything).
_LS_LEAST_NEEDED = ["format", "created", "collection", "expires", "size"]


def _when(stamp: str | None) -> str:
    return (stamp or "")[:16].replace("T", " ")  # to the minute, UTC as stored


def _ls_row(o: dict[str, Any]) -> dict[str, str]:
    return {
        "id": o["id"], "name": o["name"], "collection": o["collection"], "owner": o["owner"],
        "format": o["format"], "duration": human_duration(o["duration"]), "size": human_size(o["size"]),
        "created": _when(o["created_at"]), "expires": _when(o["expires_at"]),
    }


def ls(
    collection: str = typer.Option(None, help="Only this collection."),
    q: str = typer.Option(None, "--search", "-q", help="Search names and text."),
    owner: str = typer.Option(None, help="Only this owner's audio (admin keys)."),
    limit: int = typer.Option(50, help="How many to show (0: all)."),
    json_out: bool = typer.Option(False, "--json", help="Print a JSON list."),
    url: str = UrlOpt,
    key: str = KeyOpt,
) -> None:
    """List audio, newest first. On a terminal a table (an owner column when an admin key
    sees more than one owner's audio); piped, one tab-separated line per object with no
    header: id, name, collection, owner, format, duration, size, created, expires."""
    items = with_client(
        url, key,
        lambda c: [o.to_json() for o in c.list(limit=limit or None, collection=collection, q=q, owner=owner)],
    )
    if json_out:
        typer.echo(json.dumps(items, indent=2))
        return
    rows = [_ls_row(o) for o in items]
    if plain_output():
        for row in rows:
            typer.echo("\t".join(row[f] for f in _LS_FIELDS))
        return
    many_owners = owner is not None or len({o["owner"] for o in items}) > 1
    fields = [f for f in _LS_FIELDS if many_owners or f != "owner"]
    out = Console(highlight=False)
    fields = fitting(fields, rows, out.width, _LS_LEAST_NEEDED)
    table = listing(id_column(), *fields[1:])
    for row in rows:
        table.add_row(*(escape(row[f]) for f in fields))
    out.print(table)


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
    hls: bool = typer.Option(False, "--hls", help="The HLS master playlist's URL instead, for a player."),
    start: float | None = typer.Option(None, min=0, help="With --hls: a clip from this second."),
    end: float | None = typer.Option(None, min=0, help="With --hls: a clip up to this second."),
    json_out: bool = typer.Option(False, "--json", help="Print {id, url, expires_at}."),
    url: str = UrlOpt,
    key: str = KeyOpt,
) -> None:
    """Print a signed URL (alone on stdout); it needs no header to fetch. With --format it
    opens that rendition (made by the service on first fetch) and nothing else; with --hls
    the HLS master playlist (of a clip, with --start/--end), whose every URL is signed."""
    rendition = (fmt, bitrate, sample_rate, channels, normalize)
    if fmt is None and rendition[1:] != (None, None, None, None):
        err.print("[red]error:[/red] --bitrate, --sample-rate, --channels and --normalize need --format.")
        raise typer.Exit(EXIT_USAGE)
    if hls and any(option is not None for option in rendition):
        err.print("[red]error:[/red] --hls takes no rendition options (its variants are AAC 64k and 128k).")
        raise typer.Exit(EXIT_USAGE)
    if not hls and (start is not None or end is not None):
        err.print("[red]error:[/red] --start and --end need --hls.")
        raise typer.Exit(EXIT_USAGE)
    if hls:
        signed = with_client(url, key, lambda c: c.hls_url(audio_id, start=start, end=end, expires_in=expires_in))
    else:
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
                failed = failed or report(exc, prefix=f"{audio_id}: ", client=c)
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
