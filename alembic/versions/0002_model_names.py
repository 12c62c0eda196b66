"""model names

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 04:23:31.764524
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db.base

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "model_names",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", app.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", app.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_model_names_run_id_runs"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_model_names")),
    )
    with op.batch_alter_table("model_names", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_model_names_run_id"), ["run_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("model_names", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_model_names_run_id"))

    op.drop_table("model_names")
