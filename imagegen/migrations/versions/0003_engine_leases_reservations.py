"""engine: leases instead of pids, budget reservations, image format and size, pending image keys, batch item approvals

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ('generations', 'batches'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('lease_owner', sa.String(length=64), nullable=True))
            batch_op.add_column(sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True))
            batch_op.drop_column('worker_pid')
    with op.batch_alter_table('generations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reserved_usd', sa.Float(), nullable=False, server_default='0'))
    with op.batch_alter_table('candidates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('format', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('byte_size', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('pending_key', sa.String(length=300), nullable=True))
    with op.batch_alter_table('batch_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('approval_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_batch_items_approval_id', 'approvals', ['approval_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('batch_items', schema=None) as batch_op:
        batch_op.drop_constraint('fk_batch_items_approval_id', type_='foreignkey')
        batch_op.drop_column('approval_id')
    with op.batch_alter_table('candidates', schema=None) as batch_op:
        batch_op.drop_column('pending_key')
        batch_op.drop_column('byte_size')
        batch_op.drop_column('format')
    with op.batch_alter_table('generations', schema=None) as batch_op:
        batch_op.drop_column('reserved_usd')
    for table in ('generations', 'batches'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('worker_pid', sa.Integer(), nullable=True))
            batch_op.drop_column('lease_until')
            batch_op.drop_column('lease_owner')
