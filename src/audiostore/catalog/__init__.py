"""The catalogue: every table of audiostore in SQLite or PostgreSQL, a module per table."""

from .audio_rows import ListQuery
from .database import create_engine, current_revision, downgrade, head_revision, upgrade
from .models import ApiKeyRow, AudioRow, IdempotencyKeyRow
from .repository import Catalog
from .row_states import DELETING, PENDING, READY

__all__ = [
    "DELETING",
    "PENDING",
    "READY",
    "ApiKeyRow",
    "AudioRow",
    "Catalog",
    "IdempotencyKeyRow",
    "ListQuery",
    "create_engine",
    "current_revision",
    "downgrade",
    "head_revision",
    "upgrade",
]
