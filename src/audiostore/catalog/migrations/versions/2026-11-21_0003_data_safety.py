"""data safety: blob location (primary|spool), delete retry backoff, key lookups

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21

- `location`: where an object's blob is, `primary` or `spool` (the local fallback spool used
  while the primary store is unreachable).
- `attempts`, `next_attempt_at`: blob-delete retries of `deleting` rows, with backoff.
- indexes: `key` (spool drain and reconcile look rows up by blob key), `(state,
  next_attempt_at)` (the delete-retry claim), `location` (spool depth).
"""

import sqlalchemy as sa
from alembic import op

from audiostore.catalog.models import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audio") as batch:
        batch.add_column(
            sa.Column("location", sa.String(16), nullable=False, server_default="primary")
        )
        batch.add_column(sa.Column("attempts", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("next_attempt_at", UTCDateTime(), nullable=True))
    op.create_index("ix_audio_key", "audio", ["key"])
    op.create_index("ix_audio_state_next_attempt", "audio", ["state", "next_attempt_at"])
    op.create_index("ix_audio_location", "audio", ["location"])


def downgrade() -> None:
    op.drop_index("ix_audio_location", "audio")
    op.drop_index("ix_audio_state_next_attempt", "audio")
    op.drop_index("ix_audio_key", "audio")
    with op.batch_alter_table("audio") as batch:
        batch.drop_column("next_attempt_at")
        batch.drop_column("attempts")
        batch.drop_column("location")
