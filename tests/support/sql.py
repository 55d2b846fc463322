"""What SQL a piece of work sends to the database, and a database another connection locks."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

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


@contextmanager
def write_lock_held(app, writer: threading.Thread) -> Iterator[threading.Event]:
    """Another connection holds the app's SQLite write lock inside the block. Yields an event
    set once `writer` (started inside the block) sends its first INSERT, UPDATE or DELETE;
    on leaving, the lock goes and then `writer` is joined."""
    path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    with app.app_context():
        engine = db.engine
    writing = threading.Event()

    def notice_the_write(conn, cursor, statement, *args) -> None:
        is_write = statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
        if is_write and threading.current_thread() is writer:
            writing.set()

    blocker = sqlite3.connect(path, isolation_level=None, timeout=0)
    blocker.execute("BEGIN IMMEDIATE")
    event.listen(engine, "before_cursor_execute", notice_the_write)
    try:
        yield writing
    finally:
        blocker.execute("COMMIT")
        blocker.close()
        writer.join(timeout=60)
        event.remove(engine, "before_cursor_execute", notice_the_write)
