"""analysis given up: `audio.analysis_error`

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01

An analysis that passes the processing limits (a small file that decodes to hours), or whose
audio does not decode, is given up for good instead of being retried by the analysis job
after every lease: the row's `analysis_due_at` is cleared and `analysis_error` holds the
error code (`processing_limit`, `undecodable_audio`). NULL for every row before.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audio") as batch:
        batch.add_column(sa.Column("analysis_error", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audio") as batch:
        batch.drop_column("analysis_error")
