"""batches: whether a pause was the budget's, not a person's

Revision ID: 0011
Revises: 0010

A Pause holds back the batch's jobs that have not yet sent their call. When the batch pauses
itself because the budget is spent, the jobs that already reserved their share go on.
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("batches") as batch_op:
        batch_op.add_column(sa.Column("budget_paused", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("batches") as batch_op:
        batch_op.drop_column("budget_paused")
