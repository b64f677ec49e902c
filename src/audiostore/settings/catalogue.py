"""The catalogue database: SQLite in the data folder, or PostgreSQL for several instances."""

from __future__ import annotations

from pydantic import Field

from .place import DataDirSettings

DATABASE_SCHEMES = ("sqlite", "postgresql", "postgres")


class CatalogueSettings(DataDirSettings):
    database_url: str | None = Field(
        None,
        description="`sqlite:///path.db` or `postgresql://user:pass@host/db`. Default: "
        "SQLite at `{data_dir}/catalog.db`.",
    )
    migrate_on_start: bool = Field(True, description="Run database migrations at start.")

    @property
    def resolved_database_url(self) -> str:
        """The SQLAlchemy async URL for the catalogue."""
        url = self.database_url or f"sqlite:///{(self.data_dir / 'catalog.db').resolve()}"
        if url.startswith("sqlite:///"):
            return "sqlite+aiosqlite:///" + url.removeprefix("sqlite:///")
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+asyncpg://" + url.removeprefix(prefix)
        return url

    def problems(self) -> list[str]:
        if not self.database_url:
            return []
        scheme = self.database_url.split(":", 1)[0].split("+", 1)[0].lower()
        if "://" not in self.database_url or scheme not in DATABASE_SCHEMES:
            return [
                "AUDIOSTORE_DATABASE_URL must be sqlite:///path.db or "
                "postgresql://user:password@host:5432/db."
            ]
        return []
