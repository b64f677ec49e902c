"""renditions, loudness, waveforms, queues

Adds `audio.loudness_lufs` and `audio.true_peak_dbtp` (measured after upload), the
`derived_blobs` table (renditions and cached waveforms stored beside an object, deleted with
it through ON DELETE CASCADE) and the `queues` table (named, ordered lists of audio ids).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

from audiostore.catalog.models import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audio") as batch:
        batch.add_column(sa.Column("loudness_lufs", sa.Float, nullable=True))
        batch.add_column(sa.Column("true_peak_dbtp", sa.Float, nullable=True))
    op.create_table(
        "derived_blobs",
        sa.Column(
            "audio_id", sa.String(36), sa.ForeignKey("audio.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("variant", sa.String(96), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("key", sa.String(1200), nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("content_type", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("duration", sa.Float, nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "queues",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("audio_ids", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("owner", "name", name="uq_queues_owner_name"),
    )


def downgrade() -> None:
    op.drop_table("queues")
    op.drop_table("derived_blobs")
    with op.batch_alter_table("audio") as batch:
        batch.drop_column("true_peak_dbtp")
        batch.drop_column("loudness_lufs")
