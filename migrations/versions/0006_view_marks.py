"""view marks: one row per reader, article and counting window (microsite.web.counting)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 19:50:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "view_marks",
        sa.Column("slot", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("article_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("reader", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("fold", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("slot", "article_id", "reader"),
    )
    with op.batch_alter_table("view_marks", schema=None) as batch_op:
        batch_op.create_index("ix_view_marks_fold", ["fold"], unique=False)


def downgrade():
    with op.batch_alter_table("view_marks", schema=None) as batch_op:
        batch_op.drop_index("ix_view_marks_fold")
    op.drop_table("view_marks")
