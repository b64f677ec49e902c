"""TTS request cache (issue 6)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21

Reserved slot in the linear chain, filled in by the work it names (empty until then, so the
chain has no gaps while that work is in progress).
"""

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
