"""Sweeps: a sweep's request and scope; its members are runs.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from api.models import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sweeps",
        sa.Column("id", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("scenario_id", sa.String(16), nullable=True),
        sa.Column("scenario_name", sa.String(200), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("provinces", sa.JSON(), nullable=False),
        sa.Column("province_code", sa.String(2), nullable=True),
        sa.Column("lang", sa.String(2), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(16), nullable=True),
        sa.ForeignKeyConstraint(["scenario_id"], ["scenarios.id"], ondelete="SET NULL",
                                name="fk_sweeps_scenario_id_scenarios"),
        sa.PrimaryKeyConstraint("id", name="pk_sweeps"),
    )
    op.create_index("ix_sweeps_scenario_id", "sweeps", ["scenario_id"])
    op.create_index("ix_sweeps_province_code", "sweeps", ["province_code"])
    op.create_index("ix_sweeps_created_at", "sweeps", ["created_at"])
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("sweep_id", sa.String(16), nullable=True))
        batch.add_column(sa.Column("sweep_member", sa.String(16), nullable=True))
        batch.add_column(sa.Column("sweep_params", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("draw", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("monte_carlo", sa.JSON(), nullable=True))
        batch.create_index("ix_runs_sweep_id", ["sweep_id"])
        batch.create_foreign_key("fk_runs_sweep_id_sweeps", "sweeps", ["sweep_id"], ["id"],
                                 ondelete="CASCADE")


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_constraint("fk_runs_sweep_id_sweeps", type_="foreignkey")
        batch.drop_index("ix_runs_sweep_id")
        for col in ("monte_carlo", "draw", "sweep_params", "sweep_member", "sweep_id"):
            batch.drop_column(col)
    op.drop_table("sweeps")
