"""curator review: generation source, star/reject with a note, short titles, remembered recipes

Revision ID: 0005
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = '0004'
branch_labels = None
depends_on = None

_SOURCE = sa.Enum("studio", "batch", "experiment", "cli", name="generationsource", native_enum=False, length=20)
_VERDICT = sa.Enum("starred", "rejected", name="verdict", native_enum=False, length=20)


def upgrade() -> None:
    with op.batch_alter_table("generations") as batch_op:
        batch_op.add_column(sa.Column("source", _SOURCE, nullable=False, server_default="studio"))
        batch_op.create_index(batch_op.f("ix_generations_source"), ["source"], unique=False)
    # Rows from before this revision: experiment cells and batch items are known by their links.
    op.execute("UPDATE generations SET source = 'experiment' WHERE experiment_id IS NOT NULL")
    op.execute("UPDATE generations SET source = 'batch' WHERE id IN (SELECT generation_id FROM batch_items WHERE generation_id IS NOT NULL)")
    with op.batch_alter_table("candidates") as batch_op:
        batch_op.add_column(sa.Column("verdict", _VERDICT, nullable=True))
        batch_op.add_column(sa.Column("review_note", sa.Text(), nullable=True))
    with op.batch_alter_table("agents") as batch_op:
        batch_op.add_column(sa.Column("short_title", sa.String(length=120), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("last_recipe", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("agents") as batch_op:
        batch_op.drop_column("last_recipe")
        batch_op.drop_column("short_title")
    with op.batch_alter_table("candidates") as batch_op:
        batch_op.drop_column("review_note")
        batch_op.drop_column("verdict")
    with op.batch_alter_table("generations") as batch_op:
        batch_op.drop_index(batch_op.f("ix_generations_source"))
        batch_op.drop_column("source")
