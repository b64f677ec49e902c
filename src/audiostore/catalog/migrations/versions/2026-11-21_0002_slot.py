"""search index and S3 scale-out (issue 3)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21

Reserved slot in the linear chain, filled in by the work it names (empty until then, so the
chain has no gaps while that work is in progress).
"""

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
