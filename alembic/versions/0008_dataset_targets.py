"""datasets: what the labels are (class, yes/no columns, values) and the yes/no columns' names

Revision ID: 0008
Revises: 0003
Create Date: 2026-11-30 23:00:00

A CSV upload may carry several 0/1 label columns (a multi-label dataset) or one column of
float targets (regression) instead of class labels. Every earlier upload is a classification
dataset, hence the server default.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("datasets", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("target", sa.String(length=16), nullable=False, server_default="label")
        )
        batch_op.add_column(sa.Column("label_names", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("datasets", schema=None) as batch_op:
        batch_op.drop_column("label_names")
        batch_op.drop_column("target")
