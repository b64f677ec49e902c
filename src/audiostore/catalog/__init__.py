"""The catalogue: audio metadata and API keys in SQLite or PostgreSQL."""

from .database import create_engine, current_revision, downgrade, head_revision, upgrade
from .models import ApiKeyRow, AudioRow, IdempotencyKeyRow
from .repository import DELETING, PENDING, READY, Catalog, ListQuery

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
