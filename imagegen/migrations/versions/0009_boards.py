"""boards: a reroll, an upscale or the curator's own image joins the board it was made on

Revision ID: 0009
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("generations") as batch_op:
        batch_op.add_column(sa.Column("board_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("replaces_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_generations_board_id"), ["board_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("generations") as batch_op:
        batch_op.drop_index(batch_op.f("ix_generations_board_id"))
        batch_op.drop_column("replaces_id")
        batch_op.drop_column("board_id")
