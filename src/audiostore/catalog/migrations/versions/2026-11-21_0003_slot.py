"""data safety: spool, delete retries, job locks (issue 4)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21

Reserved slot in the linear chain, filled in by the work it names (empty until then, so the
chain has no gaps while that work is in progress).
"""

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
