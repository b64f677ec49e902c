"""client tokens and public collections: `token_revocations`, `public_collections`

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01

`token_revocations` holds, per owner, the moment before which that owner's client tokens are
refused (`POST /v1/tokens/revoke`); `public_collections` the collections made public over the
API (`PUT /v1/collections/{owner}/{collection}/public`). Both start empty.
"""

import sqlalchemy as sa
from alembic import op

from audiostore.catalog.models import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "token_revocations",
        sa.Column("owner", sa.String(128), primary_key=True),
        sa.Column("not_before", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_token_revocations_not_before", "token_revocations", ["not_before"])
    op.create_table(
        "public_collections",
        sa.Column("owner", sa.String(128), primary_key=True),
        sa.Column("collection", sa.String(128), primary_key=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("public_collections")
    op.drop_index("ix_token_revocations_not_before", table_name="token_revocations")
    op.drop_table("token_revocations")
