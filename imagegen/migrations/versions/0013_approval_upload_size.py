"""approvals: the upload's width, height, format and byte size

Revision ID: 0013
Revises: 0012

Recorded as the upload is made, so pages, the CLI and the export tell them without decoding
it. Approvals made before this stay without them (nothing is decoded to fill them in).
"""
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

COLUMNS = ("width", "height", "format", "byte_size")


def upgrade() -> None:
    op.add_column("approvals", sa.Column("width", sa.Integer(), nullable=True))
    op.add_column("approvals", sa.Column("height", sa.Integer(), nullable=True))
    op.add_column("approvals", sa.Column("format", sa.String(length=10), nullable=True))
    op.add_column("approvals", sa.Column("byte_size", sa.Integer(), nullable=True))


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN, which SQLite has had since 3.35 (the app needs that version):
    # no table rebuild, which foreign keys to approvals would refuse.
    for column in reversed(COLUMNS):
        op.drop_column("approvals", column)
