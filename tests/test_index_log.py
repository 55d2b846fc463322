"""The search outbox: index_changes rows written with each searchable commit, an index that
records the last id it applied, catching up after failures, pruning and resynchronising."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from microsite import search
from microsite.content.models import DRAFT, PRUNED_MARK, IndexChange, IndexHost
from microsite.extensions import db
from microsite.search import index, sync
from microsite.text import local_now
from tests.support.factories import add_article
from tests.support.search import hit_ids, results

# The change log exists for the Whoosh backend (one index per host); PostgreSQL search, the
# default on PostgreSQL, writes its words with the article instead.
pytestmark = pytest.mark.usefixtures("on_whoosh")


def logged() -> list[int]:
    """The article ids in the change log, in id order."""
    return list(db.session.scalars(select(IndexChange.article_id).order_by(IndexChange.id)))


def top() -> int:
    return db.session.scalar(select(func.max(IndexChange.id))) or 0


def applied() -> int:
    return index.read_applied(index.live_dir(search.state().home))


def test_searchable_changes_are_logged_in_their_own_transaction(app):
    article = add_article("日志一", "<p>正文</p>")
    assert logged() == [article.id]
    article.view_count += 1  # not something the index holds
    db.session.commit()
    assert logged() == [article.id]
    article.title = "日志一改"
    db.session.commit()
    assert logged() == [article.id, article.id]
    article.title = "回滚的修改"
    db.session.flush()
    db.session.rollback()  # the change and its log row go together
    assert logged() == [article.id, article.id]
    draft = add_article("草稿", "<p>草稿</p>", status=DRAFT)  # drafts too: it may have been live
    assert logged()[-1] == draft.id
    db.session.delete(draft)
    db.session.commit()
    assert logged()[-1] == draft.id


def test_renaming_a_category_logs_each_of_its_articles(indexed):
    before = top()
    indexed.category.name = "新栏目名"
    db.session.commit()
    renamed = set(db.session.scalars(select(IndexChange.article_id).where(IndexChange.id > before)))
    assert indexed.id in renamed and len(renamed) > 1


def test_rebuild_records_the_log_position_and_commits_advance_it(indexed):
    assert applied() >= top() and applied() > 0  # applied entries may be pruned already
    add_article("推进位置", "<p>推进 zx1</p>")
    assert applied() == top() > 0


def test_a_failed_index_write_is_retried_from_the_log(client, indexed, monkeypatch):
    real = index.apply
    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        raise OSError("disk full")

    monkeypatch.setattr(index, "apply", broken)
    article = add_article("写索引失败", "<p>失败后重试 qx7</p>")  # saved all the same
    assert calls and applied() < top()
    monkeypatch.setattr(index, "apply", real)
    assert hit_ids(results(client, "qx7")) == []  # a reader's search never writes the index
    assert search.apply_pending() > 0  # the worker's next turn
    assert hit_ids(results(client, "qx7")) == [article.id]
    assert applied() == top()


def test_prune_keeps_what_a_known_host_has_not_applied(indexed, monkeypatch):
    monkeypatch.setattr(search, "PRUNE_MIN_AGE", timedelta(minutes=-1))  # settled at once
    state = search.state()
    first = add_article("两台主机都已读", "<p>x</p>")
    seen_by_both = top()
    second = add_article("另一主机未读", "<p>x</p>")
    db.session.add(IndexHost(name="other:/index", applied_id=seen_by_both, seen_at=local_now()))
    db.session.commit()
    state._report(db.engine, applied())
    state.prune()
    assert first.id not in logged() and logged() == [second.id]
    db.session.query(IndexHost).filter_by(name="other:/index").update({"applied_id": top()})
    db.session.commit()
    assert state.prune() == 1
    assert logged() == []
    assert db.session.get(IndexHost, PRUNED_MARK).applied_id == applied()


def test_retention_prunes_old_entries_and_forgets_silent_hosts(indexed):
    stale = local_now() - timedelta(hours=25)
    old = add_article("很久以前", "<p>x</p>")
    db.session.execute(IndexChange.__table__.update().values(created_at=stale))
    db.session.add(IndexHost(name="gone:/index", applied_id=0, seen_at=stale))
    db.session.add(IndexHost(name="slow:/index", applied_id=0, seen_at=local_now()))
    db.session.commit()
    fresh = add_article("保留期内", "<p>x</p>")  # applied everywhere, but only just written
    search.state().prune()
    # The slow host still counts, so only the expired entries went.
    assert old.id not in logged() and logged() == [fresh.id]
    assert db.session.get(IndexHost, "gone:/index") is None
    assert db.session.get(IndexHost, "slow:/index") is not None


def test_an_index_behind_the_pruned_log_resynchronises(client, indexed, monkeypatch):
    monkeypatch.setattr(search, "PRUNE_MIN_AGE", timedelta(minutes=-1))  # settled at once
    state = search.state()
    monkeypatch.setattr(state, "follow", lambda *args, **kwargs: 0)  # this host is down meanwhile
    missed = add_article("错过的文章", "<p>错过 mz3</p>")
    indexed.status = "cleared"
    db.session.commit()
    state.retention = timedelta(0)
    db.session.execute(IndexChange.__table__.update().values(created_at=local_now() - timedelta(1)))
    db.session.commit()
    state.prune()
    assert logged() == []
    monkeypatch.undo()  # back up: the worker's next turn resynchronises
    search.apply_pending()
    assert hit_ids(results(client, "mz3")) == [missed.id]
    assert hit_ids(results(client, "网格员")) == []
    assert applied() >= db.session.get(IndexHost, PRUNED_MARK).applied_id


def test_entries_applied_everywhere_stay_a_few_minutes(indexed):
    article = add_article("刚写入", "<p>x</p>")
    search.state()._report(db.engine, applied())  # every known host has applied it
    search.state().prune()
    assert article.id in logged()  # a rebuilt index might still start before it


def test_on_postgresql_log_writers_commit_one_after_another(app):
    """Sequence ids are handed out in insert order, not commit order: the log's writers take
    a transaction lock so that a host never reads id N+1 while N may still commit."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers by itself")
    saved = threading.Event()

    def save():
        with app.app_context():
            add_article("等锁", "<p>x</p>")
            db.session.remove()
        saved.set()

    with db.engine.connect() as other_writer:
        lock = text("SELECT pg_advisory_xact_lock(:key)")
        other_writer.execute(lock, {"key": sync.OUTBOX_LOCK_KEY})
        worker = threading.Thread(target=save)
        worker.start()
        assert not saved.wait(0.5)  # waits for the other transaction to end
        other_writer.rollback()
    worker.join(10)
    assert saved.is_set()


def test_log_rows_undone_with_a_savepoint_are_written_again(app):
    article = add_article("保存点", "<p>x</p>")
    before = len(logged())
    article.title = "外层事务里的修改"
    db.session.flush()  # a change in the outer transaction
    outer = db.session.begin_nested()
    inner = db.session.begin_nested()
    inner.commit()  # releasing a savepoint writes the change's log row, inside `outer`...
    outer.rollback()  # ...which takes the row away again; the change itself stays
    db.session.commit()
    assert db.session.get(type(article), article.id).title == "外层事务里的修改"
    assert logged()[before:] == [article.id]
