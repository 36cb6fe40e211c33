"""batch items by batch and status: "is anything of this batch still pending?" in one lookup

Revision ID: 0010
Revises: 0008

On workers every agent of a batch is its own job, and each job ends by asking whether its
batch is done; without this index that question read every item of the batch.
"""
from alembic import op

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_batch_items_batch_status", "batch_items", ["batch_id", "status"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_batch_items_batch_status", table_name="batch_items")
