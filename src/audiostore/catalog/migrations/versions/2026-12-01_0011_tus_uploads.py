"""resumable uploads and signed upload URLs: `tus_uploads`, `upload_grant_uses`

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01

`tus_uploads`: one row per tus upload in progress (its committed offset, its declared length,
its upload fields, the lease of the PATCH appending now). `upload_grant_uses`: the nonces of
signed upload URLs already used, so each is used once across every instance.
"""

import sqlalchemy as sa
from alembic import op

from audiostore.catalog.models import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tus_uploads",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("length", sa.BigInteger(), nullable=True),
        sa.Column("upload_offset", sa.BigInteger(), nullable=False),
        sa.Column("upload_metadata", sa.Text(), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("bounds", sa.JSON(), nullable=False),
        sa.Column("writer", sa.String(36), nullable=True),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("audio_id", sa.String(36), nullable=True),
        sa.Column("error_code", sa.String(32), nullable=True),
        sa.Column("error_status", sa.Integer(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_tus_uploads_expires_at", "tus_uploads", ["expires_at"])
    op.create_table(
        "upload_grant_uses",
        sa.Column("nonce", sa.String(64), primary_key=True),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("audio_id", sa.String(36), nullable=True),
        sa.Column("tus_upload_id", sa.String(36), nullable=True),
        sa.Column("used_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_upload_grant_uses_expires_at", "upload_grant_uses", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_upload_grant_uses_expires_at", "upload_grant_uses")
    op.drop_table("upload_grant_uses")
    op.drop_index("ix_tus_uploads_expires_at", "tus_uploads")
    op.drop_table("tus_uploads")
