"""analysis after the upload's 201: `audio.analysis_due_at`

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21

EBU R128 loudness (a full decode with 4x-oversampled true peak: about 1.5 s of CPU per hour
of audio) and the ingest renditions now run after the upload has answered. A row whose
analysis is still to do carries the time from which the analysis job may take it
(`analysis_due_at`); NULL means done. Rows stored before this revision were measured at
ingest, so they stay NULL. The partial index holds only the rows still to analyse.
"""

import sqlalchemy as sa
from alembic import op

from audiostore.catalog.models import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_DUE = sa.text("analysis_due_at IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("audio") as batch:
        batch.add_column(sa.Column("analysis_due_at", UTCDateTime(), nullable=True))
    op.create_index(
        "ix_audio_analysis_due_at", "audio", ["analysis_due_at"],
        postgresql_where=_DUE, sqlite_where=_DUE,
    )


def downgrade() -> None:
    op.drop_index("ix_audio_analysis_due_at", "audio")
    with op.batch_alter_table("audio") as batch:
        batch.drop_column("analysis_due_at")
