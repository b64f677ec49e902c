"""How the admin commands reach the server's catalogue: `--data-dir` on each of them, and a
refusal, naming the setting, when they would otherwise make a new, empty catalogue.

`audiostore serve` creates its catalogue on first start; every other command works on one that
exists, unless it is given `--create` (`keys create`, `db upgrade`).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console

from ..catalogue_location import missing_schema, missing_sqlite_catalogue
from ..errors import AudiostoreError, ConfigurationError
from ..settings import Settings
from ..settings import check_settings, load_settings

if TYPE_CHECKING:  # the catalogue is imported only when a command runs
    from ..catalog import Catalog

T = TypeVar("T")
err = Console(stderr=True, soft_wrap=True)  # one error, one line, whatever the width

DataDir = Annotated[Path | None, typer.Option(
    "--data-dir", show_default=False,
    help="The server's data folder: its SQLite catalogue, blobs, signing secret and first "
         "admin key (AUDIOSTORE_DATA_DIR; default ./audiostore-data).",
)]
Create = Annotated[bool, typer.Option(
    "--create", help="Start a new, empty catalogue when there is none (without it the command "
                     "refuses, so a typo in the folder never splits a deployment in two).",
)]

WHAT_TO_DO = ("Run this where `audiostore serve` keeps its data, or point --data-dir "
              "(AUDIOSTORE_DATA_DIR) or AUDIOSTORE_DATABASE_URL at the server's catalogue")


def use_data_dir(path: Path | None) -> None:
    """`--data-dir` is AUDIOSTORE_DATA_DIR for this command (and any process it starts)."""
    if path is not None:
        os.environ["AUDIOSTORE_DATA_DIR"] = str(path)


def refusal(problem: str, *, can_create: bool) -> ConfigurationError:
    remedy = (f"{WHAT_TO_DO}; or add --create to start a new, empty one." if can_create
              else f"{WHAT_TO_DO}.")
    return ConfigurationError(f"{problem}. {remedy}")


def refuse_missing_file(settings: Settings, *, create: bool, can_create: bool) -> None:
    """Before anything touches the disk: stop if the SQLite catalogue is not there."""
    problem = missing_sqlite_catalogue(settings)
    if problem and not create:
        raise refusal(problem, can_create=can_create)


async def refuse_missing_schema(
    catalog: Catalog, settings: Settings, *, create: bool, can_create: bool
) -> None:
    """After connecting: stop if the database was never migrated (a wrong database URL)."""
    problem = await missing_schema(catalog.engine, settings)
    if problem and not create:
        raise refusal(problem, can_create=can_create)


def exit_on_error(run: Callable[[], T]) -> T:
    """Run; an `AudiostoreError` is one line on stderr and exit status 1."""
    try:
        return run()
    except AudiostoreError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from None


def run_with_catalog(
    fn: Callable[[Catalog], Awaitable[T]], *, create: bool = False, can_create: bool = False,
    migrate: bool = True,
) -> T:
    """Open the catalogue alone (no blob store, no data folder: on PostgreSQL nothing is
    written to the disk), run `fn`, close it. `migrate` applies pending migrations first when
    AUDIOSTORE_MIGRATE_ON_START allows, as the server would."""

    async def go() -> T:
        from ..catalog import Catalog, create_engine, upgrade

        settings = load_settings()
        check_settings(settings)
        refuse_missing_file(settings, create=create, can_create=can_create)
        catalog = Catalog(create_engine(settings.resolved_database_url))
        try:
            await refuse_missing_schema(catalog, settings, create=create, can_create=can_create)
            if migrate and settings.migrate_on_start:
                await upgrade(catalog.engine)
            return await fn(catalog)
        finally:
            await catalog.close()

    return exit_on_error(lambda: asyncio.run(go()))
