"""One dataset per content: the content hash becomes unique.

Datasets of the same content uploaded before this revision are merged into the oldest: the
scenarios and runs that used a newer copy point to the oldest, and the newer rows go (their
folders stay on disk, unused).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_OLDEST = """(SELECT d2.id FROM datasets d1 JOIN datasets d2
               ON d2.content_hash = d1.content_hash
             WHERE d1.id = {table}.dataset_id
             ORDER BY d2.created_at, d2.id LIMIT 1)"""


def upgrade() -> None:
    for table in ("scenarios", "runs"):
        op.execute(f"UPDATE {table} SET dataset_id = {_OLDEST.format(table=table)} "
                   f"WHERE dataset_id IN (SELECT id FROM datasets)")
    op.execute("""DELETE FROM datasets WHERE EXISTS (
        SELECT 1 FROM datasets older WHERE older.content_hash = datasets.content_hash
          AND (older.created_at < datasets.created_at
               OR (older.created_at = datasets.created_at AND older.id < datasets.id)))""")
    op.drop_index("ix_datasets_content_hash", table_name="datasets")
    op.create_index("ix_datasets_content_hash", "datasets", ["content_hash"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_datasets_content_hash", table_name="datasets")
    op.create_index("ix_datasets_content_hash", "datasets", ["content_hash"])
