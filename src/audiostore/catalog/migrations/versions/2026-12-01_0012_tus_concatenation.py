"""tus concatenation: `tus_uploads.concat`, `tus_uploads.concat_parts`

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01

`concat` is NULL for a plain upload, `partial` for a piece that is never stored on its own,
`final` for the upload assembled from pieces; `concat_parts` lists a final upload's pieces
(their ids, in order). Existing rows are plain uploads.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tus_uploads") as batch:
        batch.add_column(sa.Column("concat", sa.String(8), nullable=True))
        batch.add_column(sa.Column("concat_parts", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tus_uploads") as batch:
        batch.drop_column("concat_parts")
        batch.drop_column("concat")
