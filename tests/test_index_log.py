"""The search outbox: index_changes rows written with each searchable commit, an index that
records the last id it applied, catching up after failures, and pruning what it applied."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from microsite import search
from microsite.content.models import DRAFT, IndexChange
from microsite.extensions import db
from microsite.search import index, sync
from tests.support.factories import add_article
from tests.support.search import hit_ids, results

# The change log exists for the Whoosh backend (one host's index); PostgreSQL search, the
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


def test_prune_deletes_what_the_index_applied_but_the_newest_entry(indexed, monkeypatch):
    monkeypatch.setattr(search, "PRUNE_MIN_AGE", timedelta(minutes=-1))  # settled at once
    state = search.state()
    first = add_article("已经应用", "<p>x</p>")
    monkeypatch.setattr(state, "follow", lambda *args, **kwargs: 0)  # the worker is busy
    waiting = add_article("还没应用", "<p>x</p>")
    assert applied() < top()
    state.prune()
    assert first.id not in logged() and logged() == [waiting.id]
    monkeypatch.undo()
    monkeypatch.setattr(search, "PRUNE_MIN_AGE", timedelta(minutes=-1))
    search.apply_pending()
    assert applied() == top()
    assert state.prune() == 0
    # The page cache's stamp names the newest entry: an empty log would name an empty log's
    # stamp again, and pages stored under it before the first change would come back.
    assert logged() == [waiting.id]


def test_entries_applied_stay_a_few_minutes(indexed):
    article = add_article("刚写入", "<p>x</p>")
    add_article("再写一篇", "<p>x</p>")
    assert applied() == top()
    search.state().prune()
    assert article.id in logged()  # a rebuild that began just now may still need it


def test_nothing_is_pruned_while_a_rebuild_runs(indexed, monkeypatch):
    monkeypatch.setattr(search, "PRUNE_MIN_AGE", timedelta(minutes=-1))
    state = search.state()
    article = add_article("重建期间", "<p>x</p>")
    add_article("重建期间二", "<p>x</p>")
    with index._rebuild_lock(state.home):  # what index.build holds while it builds
        assert state.prune() == 0
        # The generation being built follows the log from where the rebuild began.
        assert article.id in logged()
        with pytest.raises(search.RebuildInProgress):
            search.rebuild()
    assert state.prune() > 0
    assert article.id not in logged()


def test_the_index_follows_its_log_without_a_row_per_host(client, indexed):
    """One index, one reader of the log: nothing is written about hosts, and a change made
    while the worker was away is applied on its next turn."""
    tables = set(db.inspect(db.engine).get_table_names())
    assert "index_hosts" not in tables
    article = add_article("主机表已退役", "<p>退役 hv4</p>")
    assert hit_ids(results(client, "hv4")) == [article.id]


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
