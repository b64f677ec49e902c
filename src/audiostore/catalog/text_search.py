"""The `q` filter of a listing, per dialect, on the indexes migration 0002 builds.

`q` means "a substring of the name or the text, any case". Three characters and more go
through the trigram index (FTS5 on SQLite, pg_trgm GIN on PostgreSQL); shorter queries
cannot use a trigram index and fall back to a scan of the rows the other filters leave.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import column, func, or_, select, table, text

from .models import AudioRow

MIN_INDEXED_CHARS = 3  # a trigram index needs three characters to look anything up

_fts = table("audio_search", column("id"))


def like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def text_search_clause(dialect: str, query: str) -> Any:
    """A WHERE clause matching audio whose name or text contains `query`."""
    pattern = "%" + like_escape(query) + "%"
    if dialect == "postgresql":
        # ILIKE on the bare columns is what the gin_trgm_ops indexes serve.
        return or_(AudioRow.name.ilike(pattern, escape="\\"), AudioRow.text.ilike(pattern, escape="\\"))
    if dialect == "sqlite" and len(query) >= MIN_INDEXED_CHARS:
        phrase = '"' + query.replace('"', '""') + '"'  # one FTS5 string: no query syntax
        matches = select(_fts.c.id).where(text("audio_search MATCH :fts_phrase").bindparams(fts_phrase=phrase))
        return AudioRow.id.in_(matches)
    lowered = "%" + like_escape(query.lower()) + "%"
    return or_(
        func.lower(AudioRow.name).like(lowered, escape="\\"),
        func.lower(AudioRow.text).like(lowered, escape="\\"),
    )
