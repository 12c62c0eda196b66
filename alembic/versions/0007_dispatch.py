"""runs.queue and runs.dispatched_at (dispatch backends)

Revision ID: 0007
Revises: 0004
Create Date: 2026-11-30 19:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db.base

revision: str = "0007"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("queue", sa.String(length=64), nullable=False, server_default="default")
        )
        batch_op.add_column(sa.Column("dispatched_at", app.db.base.UTCDateTime(), nullable=True))
        batch_op.create_index("ix_runs_status_queue", ["status", "queue"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("ix_runs_status_queue")
        batch_op.drop_column("dispatched_at")
        batch_op.drop_column("queue")
