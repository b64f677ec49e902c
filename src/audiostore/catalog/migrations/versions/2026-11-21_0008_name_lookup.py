"""exact-name lookup: an index on `audio (owner, name, id)`

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-21

`GET /v1/audio?name=story.mp3` finds an owner's audio by its exact name (apps that address
their files by name, as seed 003's player does). The index serves the equality and the keyset
order by id, so a page costs the same however many objects the owner has.
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audio_owner_name_id", "audio", ["owner", "name", "id"])


def downgrade() -> None:
    op.drop_index("ix_audio_owner_name_id", "audio")
