"""listing support: agents by name, the categories in use

Revision ID: 0006
Revises: 0002
Create Date: 2026-11-24 09:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('agents', schema=None) as batch_op:
        batch_op.create_index('ix_agents_name_id', ['name', 'id'], unique=False)
    op.create_table('categories',
    sa.Column('name', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    # Existing catalogs get their categories now; from here on the catalog's writes keep them.
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        op.execute("INSERT INTO categories (name) SELECT DISTINCT c FROM agents, json_array_elements_text(agents.categories) AS c")
    else:
        op.execute("INSERT INTO categories (name) SELECT DISTINCT j.value FROM agents, json_each(agents.categories) AS j")


def downgrade() -> None:
    op.drop_table('categories')
    with op.batch_alter_table('agents', schema=None) as batch_op:
        batch_op.drop_index('ix_agents_name_id')
