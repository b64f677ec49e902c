"""list filters: `ix_audio_owner_key` and `ix_audio_owner_created_at_id`

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01

`GET /v1/audio?prefix=` and `created_after` / `created_before` walked all of an owner's
rows in `ix_audio_owner_id`, which holds neither column (40-80 ms for 100,000 rows when few
match). The key index is in the byte-wise collation the prefix range is compared in
(catalog/key_prefix.py): `COLLATE "C"` on PostgreSQL, SQLite's default BINARY.
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    collate = ' COLLATE "C"' if op.get_bind().dialect.name == "postgresql" else ""
    op.execute(f'CREATE INDEX ix_audio_owner_key ON audio (owner, "key"{collate}, id)')
    op.create_index("ix_audio_owner_created_at_id", "audio", ["owner", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_audio_owner_created_at_id", table_name="audio")
    op.drop_index("ix_audio_owner_key", table_name="audio")
