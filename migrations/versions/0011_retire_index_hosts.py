"""retire index_hosts: the Whoosh index is one host's, and its worker prunes what it applied

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 12:40:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_table("index_hosts")


def downgrade():
    op.create_table(
        "index_hosts",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("applied_id", sa.Integer(), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
