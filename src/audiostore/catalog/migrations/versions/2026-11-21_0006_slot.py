"""idempotent uploads (issue 7)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21

Reserved slot in the linear chain, filled in by the work it names (empty until then, so the
chain has no gaps while that work is in progress).
"""

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
