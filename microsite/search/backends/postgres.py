"""PostgreSQL full-text search over our own analyzer's words: one index for every host.

Each published article's words (rjieba, folded, stop words dropped: analyzer.words) are kept
in `articles.search_vector`, weighted title A, keywords B, body C, category D, and written in
the same transaction as the article (sync calls write() before the commit), so every host
finds a change the moment its commit lands, with nothing to run on a new host.

A phrase is its words at consecutive positions (`'核酸' <-> '检测' <-> '结果'`). RUM keeps
each word's positions in the index, so it checks a phrase without reading the rows; GIN
rechecks the candidates' vectors. (Earlier the vectors also held every adjacent pair as a
lexeme, as the Whoosh index does: nearly every pair is distinct, and the index came out 4x
larger and 9x slower to build, for 10k articles 422 MB and minutes, where the words alone
take seconds. Then only the pairs holding one of the 2,000 commonest words of rjieba's
dictionary (Lucene's CommonGrams): at 10k the RUM index was 355 MB against 92 MB, and,
once queries of three words were ordered by their OR, phrases were no faster measurably:
SQL p50 3.0-3.2 ms with pairs, 3.1 ms without, p95 within the run-to-run noise.)

Ranking is cover density (`ts_rank_cd`, PostgreSQL's default weights: title 1.0, keywords
0.4, body 0.2, category 0.1), ties newest first, then by higher id, over every match:
- with the RUM index, RUM's ordered scan (`ORDER BY search_vector <=> q`, RUM's own
  cover-density score) hands over the best matches first, and the tie-break is done on the
  few rows read (see _rum_top), so only the page's rows are read from the table. RUM still
  scores and sorts every match from the index before its first row (rumgettuple), so a
  common word's cost grows with its matches (bench/RESULTS.md: 132 ms of SQL for 75,183 at
  100k), without GIN's reading of every match's vector. The scan's order is the rows' own
  only where it is provably `<=>`'s on the rows: one
  word, two, or an OR of words (see ordering_text); a query of three words or more is
  ordered by the OR of its words. RUM 1.3.13 returns `<->` matches in storage order, not
  by score, so the ordering query of a phrase is its words' AND or OR (the match query
  stays the phrase);
- with GIN (no RUM on the server), every match is ranked with ts_rank_cd and sorted, the
  same kind of score but not RUM's exact figures (the order of near-equal matches differs).
The count is a separate `count(*)` over the index's bitmap, exact, far cheaper than ranking,
sent in the same round trip (a page that holds every match is its own count).

A full rebuild (`flask reindex`) segments every article once, COPYs the vectors into a
temporary table and writes them with one UPDATE ... FROM, only where a vector changed; when
most of them change it drops the index and builds it again in that transaction (readers
wait for it: writing 10k vectors into a live RUM index took
358 s, against 108 s with the index built afterwards). Writers are held off only for that
last step, and articles saved while the vectors were computed are computed again then.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Iterable
from datetime import timedelta

import rjieba
from sqlalchemy import func, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, selectinload

from ...content.models import Article
from ...extensions import db
from ...text import local_now, plain_text
from ..analyzer import _terms as _TERMS
from ..analyzer import fold, term_info
from ..index import document
from ..query import ReaderQuery

# What a vector holds (words with positions, weighted per field; version 2 added adjacent
# pairs, 3 took them out again, 4 added the pairs of a common word, 5 took those out too):
# bump when that changes, so caches keyed by it (the bench's loaded clusters) are rebuilt.
VECTOR_VERSION = 5
FIELDS = (("title", "A"), ("tags", "B"), ("body", "C"), ("category", "D"))
# PostgreSQL keeps at most 256 positions per lexeme and numbers positions up to 16383.
MAX_POSITIONS = 256
MAX_POSITION = 16383
BATCH = 500
LIKE_TERMS = 12
LIVE = (Article.is_live,)

_MATCH = "search_vector @@ CAST(:q AS tsquery)"
# Article.is_live, written out for the text statements below (one definition, in models.py).
_LIVE_SQL = str(
    Article.is_live.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
)
_NEWEST = "published_at DESC, id DESC"
_WHERE = f"{_LIVE_SQL} AND {_MATCH}"
# Rows read from RUM's ordered scan beyond twice the page: spares a second round trip when
# scores tie at the page's end (exactness does not depend on it, see _rum_top).
RUM_MARGIN = 20
# GIN's ranking: cover density with the default weights, the closest PostgreSQL has to RUM's
# <=> (the same idea, not the same figures: measured, their ratio varies within a query).
_RANK = "ts_rank_cd(search_vector, CAST(:r AS tsquery))"
_DISTANCE = "search_vector <=> CAST(:r AS tsquery)"
INDEX = "ix_articles_search_vector"
# Articles saved this long before a rebuild's vectors were computed are computed again at
# the end (updated_at has whole seconds).
CATCH_UP_MARGIN = timedelta(seconds=2)
# A rebuild that changes more than this share of the vectors builds the index anew.
REINDEX_SHARE = 0.2


def _lexeme(word: str) -> str:
    if "'" not in word and "\\" not in word:
        return f"'{word}'"
    escaped = word.replace("\\", "\\\\").replace("'", "''")
    return f"'{escaped}'"


def vector_text(doc: dict) -> str:
    """The tsvector literal of an index document (index.document): every word, with its
    positions and its field's weight. (Written for speed: this is most of a rebuild.)"""
    fields: list[tuple[str, dict[str, list[int]]]] = []
    position = 1
    for field, weight in FIELDS:
        positions: dict[str, list[int]] = {}
        for word in _words(doc.get(field) or ""):
            found = positions.get(word)
            if found is None:
                positions[word] = [position]
            else:
                found.append(position)
            position += 1
        fields.append((weight, positions))
        position += 1  # no phrase across two fields
    merged: dict[str, list[str]] = {}
    for weight, positions in fields:
        for word, at in positions.items():
            if position > MAX_POSITION:
                at = [min(p, MAX_POSITION) for p in at]
            merged.setdefault(word, []).extend([f"{p}{weight}" for p in at])
    return " ".join(
        f"{_lexeme(word)}:{','.join(at[:MAX_POSITIONS])}" for word, at in merged.items()
    )


def _words(value: str) -> list[str]:
    """analyzer.words(value): each word of the folded text, lowercased, stop words dropped,
    without a token object (or even a tuple) per word."""
    if not value:
        return []
    memo, missing, out = _TERMS, _TERMS, []
    append = out.append
    for piece, _start, _end in rjieba.tokenize(fold(value), mode="search"):
        found = memo.get(piece, missing)
        if found is missing:
            found = term_info(piece)
        if found is not None and not found[1]:
            append(found[0])
    return out


def tsquery_text(query: ReaderQuery, follow: str = " <-> ") -> str:
    """The tsquery of a reader's query: an AND of groups, each an OR of clauses; a clause of
    several words is those words, each at its distance after the one before (`follow`:
    " & " gives the AND of the words)."""
    groups = []
    for group in query.groups:
        clauses = []
        for clause in group:
            found = _phrase(clause)
            if len(found) == 1:
                clauses.append(_lexeme(found[0][0]))
                continue
            text = _lexeme(found[0][0])
            for (_, before), (word, at) in zip(found, found[1:], strict=False):
                gap = " <-> " if at - before == 1 else f" <{at - before}> "
                text += (gap if follow == " <-> " else follow) + _lexeme(word)
            clauses.append("(" + text + ")")
        groups.append("(" + " | ".join(clauses) + ")")
    return " & ".join(groups)


def ordering_text(query: ReaderQuery) -> str:
    """The query RUM's `<=>` ranks by: one for which RUM's ordered scan is provably in the
    order of `<=>` computed on the rows (see _rum_top).

    RUM scores a row twice, with the same cover-density code (rum_ts_utils.c,
    calc_score_docr) on the same positions, but it groups repeated covers by a "quick and
    dirty hash" of pointers (new_cover_key, shifted and summed over the cover's entries),
    and the pointers differ: in the index (rum_tsquery_distance, calc_score_addinfo) the
    query's items, 12 bytes apart in the query's prefix layout; on a row (rum_ts_distance_tt,
    calc_score) arrays palloc'd one per lexeme. A cover seen as a repeat on one side
    (divided by 2², 3², ...) can be a new one on the other, so for three words the scan's
    order is not the rows' (measured: '农村 企业 科技', covers 企业 农村 科技 and 农村 科技 企业,
    hash 4·4+2·1+3 = 4·3+2·4+1 in the index, apart on the row). Two cases cannot collide:
    - at most two distinct lexemes, all ANDed: every cover is two entries of different
      lexemes (Cover() stops at the first entry completing the query, then walks back to
      the nearest entry completing it again), hashed 2a+b or 2b+a, never equal;
    - an OR of lexemes: every cover is one entry, hashed by its own lexeme's pointer.
    Then both sides group alike, the sums are the same double, the same float4 score, and
    the index's float8 1/score and the row's float4 1/score are both monotone in it. Any
    other query (three lexemes or more, phrases in an OR) is ordered by the OR of its
    lexemes: each word's weighted occurrences, without cover density's closeness of the
    words (which a phrase's match already asks for), but in an order RUM keeps. Ranking such
    queries on the rows instead kept cover density but cost 31 ms for 1,339 matches at 10k."""
    clauses = [[[word for word, _ in _phrase(c)] for c in group] for group in query.groups]
    distinct = list(dict.fromkeys(w for group in clauses for words in group for w in words))
    if all(len(group) == 1 for group in clauses) and len(distinct) <= 2:
        return " & ".join(_lexeme(w) for w in distinct)
    return " | ".join(_lexeme(w) for w in distinct)


def _phrase(clause) -> list[tuple[str, int]]:
    """(word, position) of the words a clause's phrase must hold, positions counted as the
    vectors count them. Search mode puts a long word's parts just before the word itself
    (社区工作人员: 社区 工作 作人 人员 工作人员), always the same parts for the same word, so
    the word alone stands for them: 社区 then 工作人员 four places on is the same phrase,
    with two posting lists to intersect instead of five."""
    words = clause.words
    if len(words) < 3:
        return [(word, at) for at, word in enumerate(words)]
    from ..analyzer import ChineseTokenizer

    spans = [(t.text, t.startchar, t.endchar) for t in ChineseTokenizer()(clause.text, chars=True)]
    if tuple(word for word, _, _ in spans) != tuple(words):
        return [(word, at) for at, word in enumerate(words)]  # not the words parsed: as they are
    kept = []
    for at, (word, start, end) in enumerate(spans):
        covered = any(
            s <= start and end <= e and (s, e) != (start, end) for _, s, e in spans[at + 1 :]
        )
        if not covered:
            kept.append((word, at))
    return kept


def _live(session: Session, ids: Iterable[int]) -> list[Article]:
    ordered = sorted(set(ids))
    found: list[Article] = []
    for start in range(0, len(ordered), BATCH):
        query = (
            select(Article)
            .options(selectinload(Article.tags))
            .where(Article.id.in_(ordered[start : start + BATCH]), *LIVE)
        )
        found.extend(session.scalars(query))
    return found


def write(session: Session, ids: set[int]) -> None:
    """Bring the vectors of these articles in line with the session's state, in its
    transaction: published articles get their words, every other id none."""
    if not ids:
        return
    live = _live(session, ids)
    rows = [{"id": a.id, "v": vector_text(document(a))} for a in live]
    if rows:
        session.execute(
            text("UPDATE articles SET search_vector = CAST(:v AS tsvector) WHERE id = :id"), rows
        )
    gone = sorted(ids - {a.id for a in live})
    if gone:
        session.execute(
            text("UPDATE articles SET search_vector = NULL WHERE id = ANY(:ids)"), {"ids": gone}
        )


def _literal(value) -> str:
    """A value written into SQL: an integer, or an E'' string (backslashes and quotes
    escaped, whatever standard_conforming_strings says)."""
    if isinstance(value, int):
        return str(value)
    return "E'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


_PARAM = re.compile(r"(?<!:):(\w+)")


def _select(statements: list[str], params: dict) -> list[list[tuple]]:
    """The rows of each SELECT, all sent in one round trip, with seq scans off around them.

    One round trip: on a busy two-core host each one cost a few milliseconds, more than the
    statements themselves. Seq scans off: the planner prices `search_vector @@ q` on a row
    as cheap, but every vector is TOASTed (kilobytes), and a seq scan for a word in half the
    articles took 1.4 s at 10k against 1.5 ms through the index's bitmap. The parameters are
    written in as literals (the simple query protocol takes no parameters)."""
    bound = [_PARAM.sub(lambda m: _literal(params[m.group(1)]), sql) for sql in statements]
    sql = "; ".join(["SET LOCAL enable_seqscan = off", *bound, "SET LOCAL enable_seqscan = on"])
    results: list[list[tuple]] = []
    cursor = db.session.connection().connection.dbapi_connection.cursor()
    try:
        cursor.execute(sql)
        while True:
            if cursor.description is not None:
                results.append(cursor.fetchall())
            if not cursor.nextset():
                break
    finally:
        cursor.close()
    return results


def rum_sql(where: str, fetch: int) -> str:
    """The statement reading RUM's ordered scan: (id, published_at, distance), best first."""
    return (
        f"SELECT id, published_at, {_DISTANCE} AS d FROM articles WHERE {where} "
        f"ORDER BY {_DISTANCE} LIMIT {int(fetch)}"
    )


def index_kind(connection) -> str | None:
    """ "rum", "gin" or None: the access method of the search vector's index."""
    return connection.scalar(
        text(
            "SELECT am.amname FROM pg_class c JOIN pg_am am ON am.oid = c.relam "
            "WHERE c.relname = :name AND c.relkind = 'i'"
        ),
        {"name": INDEX},
    )


class PostgresBackend:
    name = "postgres"

    def __init__(self) -> None:
        self._kinds: dict[str, str | None] = {}

    def kind(self) -> str | None:
        """The index's kind on this app's database, read once per process."""
        key = str(db.engine.url)
        if key not in self._kinds:
            with db.engine.connect() as connection:
                self._kinds[key] = index_kind(connection)
        return self._kinds[key]

    def search(self, query: ReaderQuery, limit: int, by_date: bool) -> tuple[list[int], int]:
        params = {"q": tsquery_text(query), "r": ordering_text(query)}
        count = f"SELECT count(*) FROM articles WHERE {_WHERE}"
        if by_date:
            (ids,), total = self._top(f"ORDER BY {_NEWEST}", params, limit, also=[count])
        elif self.kind() == "rum":
            ids, total = self._rum_top(params, limit, also=[count])
        else:
            (ids,), total = self._top(f"ORDER BY {_RANK} DESC, {_NEWEST}", params, limit, [count])
        return ids, total

    @staticmethod
    def _top(order: str, params: dict, limit: int, also=(), where: str = _WHERE):
        """([ids], count) of the first `limit` matches in this order; the count only when
        asked for (`also`) and needed: when the page holds every match, it is their number."""
        sql = f"SELECT id FROM articles WHERE {where} {order} LIMIT {int(limit)}"
        found = _select([sql, *also], params)
        ids = [row[0] for row in found[0]]
        total = len(ids) if len(ids) < limit or not also else found[1][0][0]
        return (ids,), total

    @staticmethod
    def _rum_top(params: dict, limit: int, also=(), where: str = _WHERE):
        """(ids, count) of the `limit` best matches read from RUM's ordered scan, ties newest
        first, then by higher id; the count as in _top. For an ordering query from
        ordering_text() (or an OR of words): `<=>` on the rows never decreases along the scan.

        PostgreSQL 15 puts no incremental sort on an index's ordering operator (given the
        tie-break, the planner ranks every match instead), so the tie-break is done here:
        the rows read are sorted by (distance, date, id), and the scan is read further while
        its last row still scores as well as the page's last. Exact by the monotonicity
        alone: a row not read scores no better than the last row read, which scores worse
        than the page's last. The margin only saves a second round trip on ties."""
        fetch = 2 * limit + RUM_MARGIN
        while True:
            sql = rum_sql(where, fetch)
            # Sorts off for this statement: a phrase's ordering query is not its match query,
            # and the planner, expecting few matches, ranked them all in a sort (43 ms for
            # 1,339 matches at 10k) instead of reading RUM's order.
            sorts_off = ["SET LOCAL enable_sort = off", sql, "SET LOCAL enable_sort = on"]
            found = _select([*sorts_off, *also], params)
            rows = found[0]
            exhausted = len(rows) < fetch
            ranked = sorted(rows, key=lambda row: (row[2], -row[1].timestamp(), -row[0]))
            if exhausted or limit == 0 or rows[-1][2] > ranked[limit - 1][2]:
                break
            fetch *= 4
        total = len(rows) if exhausted or not also else found[1][0][0]
        return [row[0] for row in ranked[:limit]], total

    def every_score(self, query: ReaderQuery) -> list[tuple[float, int]]:
        """(score, id) of every match, higher is better, each computed from its row alone
        (no index order, no limit): the reference the tests compare pages with."""
        score = f"-({_DISTANCE})" if self.kind() == "rum" else _RANK
        params = {"q": tsquery_text(query), "r": ordering_text(query)}
        sql = f"SELECT {score}, id FROM articles WHERE {_WHERE}"
        return [(value, ident) for value, ident in db.session.execute(text(sql), params)]

    def similar(self, article, limit: int) -> list[int]:
        """Articles sharing this one's commonest words (title words count double)."""
        counts = Counter(w for w in _words(plain_text(article.body)) if len(w) > 1)
        counts.update({w: 2 for w in _words(article.title or "") if len(w) > 1})
        top = [word for word, _ in counts.most_common(LIKE_TERMS)]
        if not top:
            return []
        # An OR of distinct words: RUM's ordered scan is exact for it (ordering_text).
        q = " | ".join(_lexeme(word) for word in top)
        params = {"q": q, "r": q, "own": article.id}
        where = f"{_WHERE} AND id <> :own"
        if self.kind() == "rum":
            return self._rum_top(params, limit, where=where)[0]
        return self._top(f"ORDER BY {_RANK} DESC, {_NEWEST}", params, limit, where=where)[0][0]

    def rebuild(self, progress=None, procs: int | None = 1) -> int:
        """Every published article's vector computed again and written where it changed;
        every other article's cleared. procs is ignored (one connection does the writing).
        See the module's docstring for the steps."""
        with db.engine.connect() as connection:
            count = _Rebuild(connection, progress).run()
            connection.commit()
        self._kinds.clear()
        return count

    def status(self) -> dict:
        try:
            with db.engine.connect() as connection:
                documents = connection.scalar(
                    select(func.count())
                    .select_from(Article)
                    .where(text("search_vector IS NOT NULL"))
                )
        except DBAPIError:
            return {"status": "missing", "message": "搜索索引尚未建立。"}
        return {"status": "ok", "generation": "postgres", "documents": int(documents or 0)}


class _Rebuild:
    """One full rebuild on one connection, in one transaction (see the module's docstring)."""

    def __init__(self, connection, progress) -> None:
        self.connection, self.progress = connection, progress
        self.session = Session(bind=connection)

    def run(self) -> int:
        connection = self.connection
        connection.execute(
            text(
                "CREATE TEMP TABLE search_rebuild (id integer PRIMARY KEY, v tsvector) "
                "ON COMMIT DROP"
            )
        )
        since = local_now() - CATCH_UP_MARGIN
        total = self.session.scalar(select(func.count(Article.id)).where(*LIVE)) or 0
        done, last = 0, 0
        while True:
            batch = list(
                self.session.scalars(
                    select(Article.id)
                    .where(*LIVE, Article.id > last)
                    .order_by(Article.id)
                    .limit(BATCH)
                )
            )
            if not batch:
                break
            self._stage(batch)
            done, last = done + len(batch), batch[-1]
            if self.progress:
                self.progress(min(done, total), total)
        if self.progress and not done:
            self.progress(0, 0)
        # Writers wait from here to the commit (readers do not): what they saved while the
        # vectors were computed is computed again, then every vector is written at once.
        connection.execute(text("LOCK TABLE articles IN SHARE ROW EXCLUSIVE MODE"))
        changed = list(self.session.scalars(select(Article.id).where(Article.updated_at >= since)))
        if changed:
            connection.execute(
                text("DELETE FROM search_rebuild WHERE id = ANY(:ids)"), {"ids": changed}
            )
            self._stage(changed)
        connection.execute(
            text(
                "UPDATE articles SET search_vector = NULL "
                f"WHERE search_vector IS NOT NULL AND NOT ({_LIVE_SQL})"
            )
        )
        stale = connection.scalar(
            text(
                "SELECT count(*) FROM search_rebuild s JOIN articles a USING (id) "
                "WHERE a.search_vector IS DISTINCT FROM s.v"
            )
        )
        definition = connection.scalar(
            text("SELECT indexdef FROM pg_indexes WHERE indexname = :name"), {"name": INDEX}
        )
        rebuild_index = definition is not None and stale > REINDEX_SHARE * max(total, 1)
        if rebuild_index:
            connection.execute(text(f"DROP INDEX {INDEX}"))
        connection.execute(
            text(
                "UPDATE articles a SET search_vector = s.v FROM search_rebuild s "
                "WHERE a.id = s.id AND a.search_vector IS DISTINCT FROM s.v"
            )
        )
        if rebuild_index:
            connection.execute(text(definition))
        # Raw UPDATEs move no revision by themselves, and stored search pages are named by the
        # page cache's stamp alone on PostgreSQL (web/search_pages): move it in this commit.
        from ...web.page_cache import ARTICLES_REVISION, new_revision

        new_revision(self.session, ARTICLES_REVISION)
        self.session.flush()
        return connection.scalar(text("SELECT count(*) FROM search_rebuild"))

    def _stage(self, ids: list[int]) -> None:
        """The vectors of these articles (the live ones), copied into the temporary table."""
        live = _live(self.session, ids)
        buffer = io.StringIO()
        for article in live:
            vector = vector_text(document(article))
            buffer.write(f"{article.id}\t{_copy_escape(vector)}\n")
        self.session.expunge_all()
        cursor = self.connection.connection.dbapi_connection.cursor()
        with cursor.copy("COPY search_rebuild (id, v) FROM STDIN") as copy:
            copy.write(buffer.getvalue())


def _copy_escape(value: str) -> str:
    """A value for COPY's text format."""
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )
