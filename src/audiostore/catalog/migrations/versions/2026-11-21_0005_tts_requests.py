"""tts_requests: the TTS request cache

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

from audiostore.catalog.models import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tts_requests",
        sa.Column("owner", sa.String(128), primary_key=True),
        sa.Column("request_hash", sa.String(64), primary_key=True),
        sa.Column("audio_id", sa.String(36), nullable=False),
        sa.Column("engine", sa.String(32), nullable=False),
        sa.Column("phonemes", sa.Text, nullable=True),
        sa.Column("segments", sa.JSON, nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tts_requests")
