"""generations: the day a job's money counts against the budget

Revision ID: 0012
Revises: 0011

A job resumed on a later day reserves what it still has to pay against that day's budget, so
its spend counts on the day it was last resumed, not the day it was made.
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("generations") as batch_op:
        batch_op.add_column(sa.Column("charged_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE generations SET charged_at = created_at")
    with op.batch_alter_table("generations") as batch_op:
        batch_op.alter_column("charged_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.create_index(batch_op.f("ix_generations_charged_at"), ["charged_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("generations") as batch_op:
        batch_op.drop_index(batch_op.f("ix_generations_charged_at"))
        batch_op.drop_column("charged_at")
