"""`audiostore token ...`, `audiostore upload-url` and `audiostore public ...`: the rights a
key hands to browsers and phones (client tokens, signed upload URLs) and public collections,
over HTTP.

Same conventions as the other client commands (client_commands.py): AUDIOSTORE_URL /
AUDIOSTORE_KEY or --url/--key, results on stdout (or --json), one-line errors on stderr, and
the same exit codes. `token create` prints the token alone on its line, for a script to pass on.
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import Enum

import typer

from .client_commands import KeyOpt, UrlOpt, with_client

token_app = typer.Typer(
    name="token", help="Short-lived client tokens for browsers and phones.", no_args_is_help=True,
)
public_app = typer.Typer(
    name="public", help="Public collections: objects that play with no key and no expiry.",
    no_args_is_help=True,
)


class Scope(str, Enum):
    read = "read"
    upload = "upload"
    delete = "delete"
    list = "list"


@token_app.command("create")
def create(
    scopes: list[Scope] = typer.Option(..., "--scope", "-s", help="read, upload, delete or list; repeat for more."),
    owner: str = typer.Option(None, help="Admin keys: the owner the token acts for."),
    collections: list[str] = typer.Option(None, "--collection", "-c", help="Only this collection; repeat for more."),
    lifetime: int = typer.Option(None, "--lifetime", help="Seconds (default AUDIOSTORE_TOKEN_DEFAULT_LIFETIME)."),
    max_bytes: int = typer.Option(None, "--max-bytes", help="Uploads: largest accepted."),
    formats: list[str] = typer.Option(None, "--format", "-f", help="Uploads: an accepted format; repeat for more."),
    json_out: bool = typer.Option(False, "--json", help="Print the whole answer as JSON."),
    url: str = UrlOpt,
    key: str = KeyOpt,
) -> None:
    """Mint a client token with your API key. Prints the token (send it as `Authorization:
    Bearer <token>`), then its owner, scopes and expiry."""
    minted = with_client(url, key, lambda c: c.create_token(
        [s.value for s in scopes], owner=owner, collections=collections or None,
        lifetime_seconds=lifetime, max_bytes=max_bytes, formats=formats or None,
    ))
    if json_out:
        typer.echo(json.dumps(minted.to_json(), indent=2))
        return
    typer.echo(minted.token)
    limits = f"  collections {','.join(minted.collections)}" if minted.collections else ""
    typer.echo(f"owner {minted.owner}  scopes {','.join(minted.scopes)}{limits}  "
               f"expires {minted.expires_at.isoformat()}")


@token_app.command("revoke")
def revoke(
    owner: str = typer.Argument(..., help="Whose tokens."),
    before: datetime = typer.Option(None, help="Tokens issued before this moment (default: now)."),
    url: str = UrlOpt,
    key: str = KeyOpt,
) -> None:
    """Refuse every client token of OWNER issued before a moment (admin keys)."""
    done = with_client(url, key, lambda c: c.revoke_tokens(owner, before=before))
    typer.echo(f"tokens of {done.owner} issued before {done.not_before.isoformat()} are refused")


def upload_url(
    collection: str = typer.Option(None, "--collection", "-c", help="Where the file goes (default: the service's)."),
    name: str = typer.Option(None, help="The stored object's name."),
    owner: str = typer.Option(None, help="Admin keys: the owner the file is stored for."),
    max_bytes: int = typer.Option(None, "--max-bytes", help="Largest file accepted."),
    formats: list[str] = typer.Option(None, "--format", "-f", help="An accepted format; repeat for more."),
    expires_in: int = typer.Option(None, "--expires-in", help="Seconds the URL works (default AUDIOSTORE_URL_DEFAULT_EXPIRY)."),
    ttl: int = typer.Option(None, "--ttl", help="The stored object expires after this many seconds."),
    json_out: bool = typer.Option(False, "--json", help="Print the whole answer as JSON (url, tus_url, ...)."),
    url: str = UrlOpt,
    key: str = KeyOpt,
) -> None:
    """Make a one-use signed upload URL (key, or a token with the upload scope). Prints the URL
    (a browser or phone PUTs the file to it with no header; `audiostore upload --signed-url
    URL FILE` sends one), then its tus URL and expiry."""
    made = with_client(url, key, lambda c: c.create_upload_url(
        collection=collection, name=name, owner=owner, max_bytes=max_bytes, formats=formats or None,
        expires_in=expires_in, ttl_seconds=ttl,
    ))
    if json_out:
        typer.echo(json.dumps(made.to_json(), indent=2))
        return
    typer.echo(made.url)
    typer.echo(f"tus {made.tus_url}")
    typer.echo(f"method {made.method}  max_bytes {made.max_bytes}  formats {','.join(made.formats)}  "
               f"expires {made.expires_at.isoformat()}")


@public_app.command("add")
def add(
    owner: str = typer.Argument(..., help="The collection's owner."),
    collection: str = typer.Argument(..., help="The collection."),
    url: str = UrlOpt,
    key: str = KeyOpt,
) -> None:
    """Make a collection public. Prints the URL its objects play at (+ id or name)."""
    made = with_client(url, key, lambda c: c.make_public(owner, collection))
    typer.echo(made.url)


@public_app.command("rm")
def rm(
    owner: str = typer.Argument(..., help="The collection's owner."),
    collection: str = typer.Argument(..., help="The collection."),
    url: str = UrlOpt,
    key: str = KeyOpt,
) -> None:
    """Make a public collection private again: its public URLs stop at once."""
    with_client(url, key, lambda c: c.make_private(owner, collection))
    typer.echo(f"{owner}/{collection} is private")


@public_app.command("list")
def list_cmd(
    owner: str = typer.Option(None, help="Admin keys: this owner's only."),
    json_out: bool = typer.Option(False, "--json", help="Print them as JSON."),
    url: str = UrlOpt,
    key: str = KeyOpt,
) -> None:
    """The public collections you may see: `owner/collection  source  url`."""
    found = with_client(url, key, lambda c: c.public_collections(owner=owner))
    if json_out:
        typer.echo(json.dumps([p.to_json() for p in found], indent=2))
        return
    for p in found:
        typer.echo(f"{p.owner}/{p.collection}  {p.source}  {p.url}")


def register(app: typer.Typer) -> None:
    app.add_typer(token_app)
    app.command("upload-url")(upload_url)
    app.add_typer(public_app)


__all__ = ["public_app", "register", "token_app"]
