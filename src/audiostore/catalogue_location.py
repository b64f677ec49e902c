"""Where the settings put the catalogue, and whether one is already there.

Run from another folder, an admin command that simply opened `./audiostore-data/catalog.db`
would create a second, empty catalogue there (and `keys create` would print a key the running
server has never heard of). So the admin commands and `audiostore doctor` ask here first;
only `audiostore serve`, or a command given `--create`, makes a new catalogue.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .settings import Settings

if TYPE_CHECKING:  # SQLAlchemy and Alembic load only when a command opens the catalogue
    from sqlalchemy.ext.asyncio import AsyncEngine


def sqlite_file(settings: Settings) -> Path | None:
    """The SQLite file the settings name, or None for PostgreSQL (or an in-memory SQLite)."""
    url = settings.resolved_database_url
    if not url.startswith("sqlite"):
        return None
    path = url.split(":///", 1)[1]
    return None if path in ("", ":memory:") else Path(path)


def chosen_by(settings: Settings) -> str:
    """Which setting chose the catalogue's place, in the words a user can act on."""
    if settings.database_url:
        return "AUDIOSTORE_DATABASE_URL"
    if "data_dir" in settings.model_fields_set:
        return "AUDIOSTORE_DATA_DIR / --data-dir"
    return ("the default data folder ./audiostore-data; AUDIOSTORE_DATA_DIR or --data-dir "
            "choose another")


def missing_sqlite_catalogue(settings: Settings) -> str | None:
    """Why there is no catalogue yet, when the settings name a SQLite file that does not
    exist; None otherwise. Asks before anything opens the file (opening creates it)."""
    path = sqlite_file(settings)
    if path is None or path.exists():
        return None
    return f"There is no catalogue at {path} (from {chosen_by(settings)})"


async def missing_schema(engine: AsyncEngine, settings: Settings) -> str | None:
    """Why the database holds no catalogue, when it has never been migrated; None otherwise."""
    from .catalog import current_revision

    if await current_revision(engine) is not None:
        return None
    url = engine.url
    sqlite = url.get_backend_name() == "sqlite"
    where = url.database if sqlite else f"{url.host or 'socket'}/{url.database}"  # no password
    return f"The database {where} (from {chosen_by(settings)}) holds no audiostore catalogue"
