"""PostgreSQL full-text search over our own analyzer's words: one index for every host.

Each published article's words (rjieba, folded, stop words dropped: analyzer.words) are kept
in `articles.search_vector`, weighted title A, keywords B, body C, category D, and written in
the same transaction as the article (sync calls write() before the commit), so every host
finds a change the moment its commit lands, with nothing to run on a new host.

Besides each word, the vector holds each adjacent pair of words as one lexeme ("核酸 检测"): a
two-word phrase is then one lexeme, with no position check, and a longer one its pairs at
consecutive positions (`'a b' <-> 'b c'`): an AND of the pairs alone would also count articles
that hold them apart, and the count must be exact. The position check only ever reads the
positions of pairs, which are rare. (RUM returns `<->` matches in storage order, not by
distance; ranking here is ts_rank's, never RUM's `<=>`, so that does not reach the page.)

Ranking is `ts_rank` with the field weights of the Whoosh backend, over every match (no
pruning), ties newest first, then by higher id; the count is exact.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from sqlalchemy import func, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, selectinload

from ...content.models import Article
from ...extensions import db
from ...text import plain_text
from ..analyzer import words
from ..index import document
from ..query import ReaderQuery

# ts_rank's weights, in the order {D, C, B, A}: category 1, body 1, keywords 1.5, title 2 —
# the ratios of index.FIELD_BOOSTS.
WEIGHTS = "{0.5, 0.5, 0.75, 1.0}"
# ts_rank normalization 1: divide by 1 + log(length), so a long article does not win on
# length alone (Whoosh's BM25 does the same through its length normalisation).
NORMALIZATION = 0
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
_RANK = f"ts_rank('{WEIGHTS}', search_vector, CAST(:q AS tsquery), {NORMALIZATION})"


def _lexeme(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("'", "''")
    return f"'{escaped}'"


def pair(first: str, second: str) -> str:
    """The lexeme of two adjacent words."""
    return f"{first} {second}"


def vector_text(doc: dict) -> str:
    """The tsvector literal of an index document (index.document): every word and every
    adjacent pair, with positions and its field's weight."""
    positions: dict[str, list[str]] = {}
    position = 1

    def add(lexeme: str, where: int, weight: str) -> None:
        found = positions.setdefault(lexeme, [])
        if len(found) < MAX_POSITIONS:
            found.append(f"{min(where, MAX_POSITION)}{weight}")

    for field, weight in FIELDS:
        previous = None
        for word in words(doc.get(field) or ""):
            add(word, position, weight)
            if previous is not None:
                add(pair(previous, word), position, weight)
            previous = word
            position += 1
        position += 1  # no pair across two fields
    return " ".join(f"{_lexeme(lexeme)}:{','.join(at)}" for lexeme, at in positions.items())


def tsquery_text(query: ReaderQuery) -> str:
    """The tsquery of a reader's query: an AND of groups, each an OR of clauses; a clause of
    several words is its adjacent pairs, each following the one before."""
    groups = []
    for group in query.groups:
        clauses = []
        for clause in group:
            found = clause.words
            if len(found) == 1:
                clauses.append(_lexeme(found[0]))
            else:
                pairs = [_lexeme(pair(a, b)) for a, b in zip(found, found[1:], strict=False)]
                clauses.append("(" + " <-> ".join(pairs) + ")")
        groups.append("(" + " | ".join(clauses) + ")")
    return " & ".join(groups)


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


class PostgresBackend:
    name = "postgres"

    def search(self, query: ReaderQuery, limit: int, by_date: bool) -> tuple[list[int], int]:
        params = {"q": tsquery_text(query), "limit": limit}
        where = f"{_LIVE_SQL} AND {_MATCH}"
        order = (
            "published_at DESC, id DESC" if by_date else f"{_RANK} DESC, published_at DESC, id DESC"
        )
        session = db.session
        ids = session.scalars(
            text(f"SELECT id FROM articles WHERE {where} ORDER BY {order} LIMIT :limit"), params
        ).all()
        total = session.scalar(text(f"SELECT count(*) FROM articles WHERE {where}"), params)
        return list(ids), int(total or 0)

    def similar(self, article, limit: int) -> list[int]:
        """Articles sharing this one's commonest words (title words count double)."""
        counts = Counter(w for w in words(plain_text(article.body)) if len(w) > 1)
        counts.update({w: 2 for w in words(article.title or "") if len(w) > 1})
        top = [word for word, _ in counts.most_common(LIKE_TERMS)]
        if not top:
            return []
        params = {
            "q": " | ".join(_lexeme(word) for word in top),
            "own": article.id,
            "limit": limit,
        }
        sql = (
            f"SELECT id FROM articles WHERE {_LIVE_SQL} AND {_MATCH} AND id <> :own "
            f"ORDER BY {_RANK} DESC, {_NEWEST} LIMIT :limit"
        )
        return list(db.session.scalars(text(sql), params))

    def rebuild(self, progress=None, procs: int | None = 1) -> int:
        """Every published article's vector written again, BATCH articles per transaction;
        every other article's cleared. procs is ignored (one connection does the writing)."""
        from ...web.page_cache import ARTICLES_REVISION, new_revision

        bind = db.engine
        with Session(bind) as session:
            ids = list(session.scalars(select(Article.id).where(*LIVE).order_by(Article.id)))
            session.execute(
                text(
                    "UPDATE articles SET search_vector = NULL "
                    f"WHERE search_vector IS NOT NULL AND NOT ({_LIVE_SQL})"
                )
            )
            session.commit()
            done = 0
            for start in range(0, len(ids), BATCH):
                batch = ids[start : start + BATCH]
                write(session, set(batch))
                # Raw UPDATEs move no revision by themselves: stored search pages are named
                # by the stamp alone here (microsite.web.search_pages), so move it.
                new_revision(session, ARTICLES_REVISION)
                session.commit()
                session.expunge_all()
                done += len(batch)
                if progress:
                    progress(done, len(ids))
            if progress and not ids:
                progress(0, 0)
        return done

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
