"""batch items by batch and status; approvals by candidate

Revision ID: 0010
Revises: 0008

On workers every agent of a batch is its own job, and each job ends by asking whether its
batch is done; without this index that question read every item of the batch. The Batch
page's review filter asks, for each candidate of a page, whether it was approved: without an
index on `approvals.candidate_id` each of those questions read the whole approvals table.
"""
from alembic import op

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_batch_items_batch_status", "batch_items", ["batch_id", "status"], unique=False)
    op.create_index("ix_approvals_candidate_id", "approvals", ["candidate_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_approvals_candidate_id", table_name="approvals")
    op.drop_index("ix_batch_items_batch_status", table_name="batch_items")
