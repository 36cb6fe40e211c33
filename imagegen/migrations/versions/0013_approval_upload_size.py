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

COLUMNS = (("width", sa.Integer()), ("height", sa.Integer()), ("format", sa.String(length=10)), ("byte_size", sa.Integer()))


def upgrade() -> None:
    for name, type_ in COLUMNS:
        op.add_column("approvals", sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN, which SQLite has had since 3.35 (the app needs that version):
    # no table rebuild, which foreign keys to approvals would refuse.
    for name, _ in reversed(COLUMNS):
        op.drop_column("approvals", name)
