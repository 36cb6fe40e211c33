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
    # Added, filled and indexed in place. Making it NOT NULL would rebuild the table on SQLite,
    # and the rebuild's DROP TABLE is refused while candidates point at it (foreign keys are on).
    # The model gives every new row a value.
    op.add_column("generations", sa.Column("charged_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE generations SET charged_at = created_at")
    op.create_index(op.f("ix_generations_charged_at"), "generations", ["charged_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_generations_charged_at"), table_name="generations")
    with op.batch_alter_table("generations") as batch_op:
        batch_op.drop_column("charged_at")
