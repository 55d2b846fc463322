"""search vector: articles.search_vector (our analyzer's words, weighted) for PostgreSQL search

Revision ID: 0007
Revises: 0006

A no-op on SQLite, where Whoosh is the search engine. On PostgreSQL the column is filled by
every article save (in the same transaction) and by `flask reindex`; the index is RUM when the
extension can be created (Debian: postgresql-15-rum), GIN otherwise.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

INDEX = "ix_articles_search_vector"


def _create_rum(bind) -> bool:
    available = bind.execute(
        sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'rum'")
    ).scalar()
    if not available:
        return False
    try:
        # A savepoint: without the right to create it, the migration goes on with GIN.
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS rum"))
    except sa.exc.DBAPIError:
        return False
    return True


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE articles ADD COLUMN search_vector tsvector")
    if _create_rum(bind):
        op.execute(f"CREATE INDEX {INDEX} ON articles USING rum (search_vector rum_tsvector_ops)")
    else:
        op.execute(f"CREATE INDEX {INDEX} ON articles USING gin (search_vector)")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"DROP INDEX IF EXISTS {INDEX}")
    op.execute("ALTER TABLE articles DROP COLUMN IF EXISTS search_vector")
