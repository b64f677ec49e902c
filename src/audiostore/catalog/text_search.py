"""The `q` filter of a listing, per dialect, on the indexes migration 0002 builds.

`q` means "a substring of the name or the text, any case". Three characters and more go
through the trigram index (FTS5 on SQLite, pg_trgm GIN on PostgreSQL); shorter queries
cannot use a trigram index and fall back to a scan of the rows the other filters leave.

PostgreSQL's planner weighs the index against a walk of the keyset index by itself. SQLite's
cannot, so the choice is made here: a rare term (at most `SQLITE_DRIVE_LIMIT` matches in the
whole catalogue) drives the query from its matches; a common one walks down the keyset index
testing each row's name and text, and stops after a page (a per-row FTS lookup measured far
slower than the plain test). The weak spot: a term common in the catalogue but rare among
the rows the other filters leave.
"""

from __future__ import annotations

from sqlalchemy import BindParameter, ColumnElement, bindparam, func, or_, text
from sqlalchemy.ext.asyncio import AsyncSession

from .models import AudioRow

MIN_INDEXED_CHARS = 3  # a trigram index needs three characters to look anything up
SQLITE_DRIVE_LIMIT = 2000


def like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def text_search_clause(
    session: AsyncSession, dialect: str, query: str
) -> ColumnElement[bool]:
    """A WHERE clause matching audio whose name or text contains `query`."""
    pattern = "%" + like_escape(query) + "%"
    if dialect == "postgresql":
        # ILIKE on the bare columns is what the gin_trgm_ops indexes serve. The pattern is
        # inlined, not a bind parameter: with a parameter, asyncpg's prepared statement soon
        # gets PostgreSQL's generic plan, which cannot see how rare the pattern is and walks
        # the whole keyset index for a rare term (measured: 500 ms instead of 5 ms at 1M rows).
        inline: BindParameter[str] = bindparam("text_pattern", pattern, literal_execute=True)
        return or_(AudioRow.name.ilike(inline, escape="\\"), AudioRow.text.ilike(inline, escape="\\"))
    if dialect == "sqlite" and len(query) >= MIN_INDEXED_CHARS:
        phrase = '"' + query.replace('"', '""') + '"'  # one FTS5 string: no query syntax
        found = await session.execute(
            text("SELECT id FROM audio_search WHERE audio_search MATCH :phrase LIMIT :n"),
            {"phrase": phrase, "n": SQLITE_DRIVE_LIMIT + 1},
        )
        ids = list(found.scalars())
        if len(ids) <= SQLITE_DRIVE_LIMIT:
            return AudioRow.id.in_(ids)
        # Common: about one row in (catalogue / matches) qualifies, so walking the keyset
        # index and testing each row fills a page after a few hundred rows.
    lowered = "%" + like_escape(query.lower()) + "%"
    return or_(
        func.lower(AudioRow.name).like(lowered, escape="\\"),
        func.lower(AudioRow.text).like(lowered, escape="\\"),
    )
