"""idempotency keys: `idempotency_keys.stored_at`

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01

A claim now records the id of the object its request stores from the start (`audio_id`),
so a retry can follow that object's row while it is pending; `stored_at` says when the first
request stored it (NULL while it is in progress). Existing rows that name an object were
stored when they were claimed.
"""

import sqlalchemy as sa
from alembic import op

from audiostore.catalog.models import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.add_column(sa.Column("stored_at", UTCDateTime(), nullable=True))
    op.execute("UPDATE idempotency_keys SET stored_at = created_at WHERE audio_id IS NOT NULL")


def downgrade() -> None:
    # Before 0013 a claim in progress named no object.
    op.execute("UPDATE idempotency_keys SET audio_id = NULL WHERE stored_at IS NULL")
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.drop_column("stored_at")
