"""moving in and out: redirects for old permalinks, imported picture files

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 20:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "redirects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("old_path", sa.String(length=500), nullable=False),
        sa.Column("target", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("old_path"),
    )
    op.create_table(
        "imported_files",
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["image_id"], ["images.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("source"),
    )


def downgrade():
    op.drop_table("imported_files")
    op.drop_table("redirects")
