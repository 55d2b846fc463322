"""What SQL a piece of work sends to the database."""

from __future__ import annotations

from sqlalchemy import event

from microsite.extensions import db


def statements(app, fn) -> list[tuple[str, object]]:
    """(statement, parameters) of every statement the app's engine ran during fn()."""
    seen = []

    def record(conn, cursor, statement, parameters, *args):
        seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        fn()
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    return seen
