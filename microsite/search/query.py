"""Reader input to Whoosh queries. Input is never syntax that can fail.

What a reader can write: words separated by spaces (all must appear), "a quoted phrase"
(also “…”, 「…」 and 『…』), and OR between two words or phrases (either may appear).
Everything else — AND, *, :, brackets, field names — is read as plain text, where the
analyzer drops punctuation and stop words. A run of Chinese without spaces is one clause
whose words must stand together, the way readers mean 疫情防控.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

import rjieba
from whoosh.query import And, NullQuery, Or, Phrase, Query, Term

from .analyzer import fold, pairs, query_words, term_info
from .index import FIELD_BOOSTS, pairs_field

# The search box allows 200 characters; longer input (a pasted article, a crafted URL) is
# cut there rather than refused, and never reaches the parser whole.
MAX_QUERY_CHARS = 200
MAX_CLAUSES = 12
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]")
_PIECE = re.compile(
    r'"(?P<q1>[^"]*)"?|“(?P<q2>[^”]*)”?|「(?P<q3>[^」]*)」?|『(?P<q4>[^』]*)』?'
    r'|(?P<word>[^\s"“”「」『』]+)'
)
OR_WORDS = {"OR", "|", "||"}


def clean(raw: str | None) -> str:
    """The reader's input, trimmed, without control characters, at most MAX_QUERY_CHARS."""
    text = _CONTROL.sub(" ", raw or "")
    return " ".join(text.split())[:MAX_QUERY_CHARS].strip()


@dataclass(frozen=True)
class Clause:
    """A word run or a quoted phrase, and the analyzed words it must match in order."""

    text: str
    words: tuple[str, ...]
    quoted: bool

    def query(self) -> Query:
        """One word: a term in each text field. Two: their pair, one term in each pair field.
        More: the pairs at consecutive positions of a pair field (a, b, c stand together
        exactly where "a b" is followed by "b c"), so the count stays exact while the
        position check walks only the postings of pairs, which are rare; an AND of the
        pairs alone would also count articles holding them apart."""
        if len(self.words) == 1:
            return Or([Term(f, self.words[0], boost=b) for f, b in FIELD_BOOSTS.items()])
        terms = pairs(self.words)
        if len(terms) == 1:
            return Or([Term(pairs_field(f), terms[0], boost=b) for f, b in FIELD_BOOSTS.items()])
        return Or([Phrase(pairs_field(f), terms, boost=b) for f, b in FIELD_BOOSTS.items()])


@dataclass(frozen=True)
class ReaderQuery:
    """Everything the reader asked for: an AND of groups, each an OR of clauses."""

    text: str
    groups: tuple[tuple[Clause, ...], ...]

    @property
    def empty(self) -> bool:
        return not self.groups

    @cached_property
    def words(self) -> frozenset[str]:
        """Every analyzed word, for highlighting."""
        return frozenset(w for group in self.groups for c in group for w in c.words)

    def whoosh(self) -> Query:
        if not self.groups:
            return NullQuery
        parts = [Or([c.query() for c in group]) for group in self.groups]
        return And(parts).normalize()

    def suggestions(self) -> list[tuple[str, str]]:
        """(label, query) pairs worth trying when nothing matched."""
        tips: list[tuple[str, str]] = []
        clauses = [c for group in self.groups for c in group]
        if any(c.quoted for c in clauses):
            tips.append(("去掉引号", " ".join(c.text for c in clauses)))
        split = [w for c in clauses for w in _plain_words(c.text)]
        if len(split) > len(clauses):
            tips.append(("分开搜索这些词", " ".join(split)))
        if len(clauses) > 1:
            tips.append(("包含任意一个词", " OR ".join(_quoted(c) for c in clauses)))
        seen, unique = set(), []
        for label, text in tips:
            if text and text != self.text and text not in seen:
                seen.add(text)
                unique.append((label, text))
        return unique


def _quoted(clause: Clause) -> str:
    return f'"{clause.text}"' if clause.quoted else clause.text


def _plain_words(text: str) -> list[str]:
    """The words of a text as the segmenter cuts it normally, a one-character piece joined to
    the word before it (网格 + 员, 栗 + 艳萍 read better as 网格员, 栗艳萍)."""
    folded = fold(text)
    found: list[str] = []
    glue = False
    for start, end in _spans(folded):
        term = term_info(folded[start:end])
        if term is None or term[1]:
            glue = False
            continue
        piece = text[start:end]
        if found and glue and (len(piece) == 1 or len(found[-1]) == 1):
            found[-1] += piece
        else:
            found.append(piece)
        glue = True
    return found


def _spans(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for piece in rjieba.cut(text):
        spans.append((start, start + len(piece)))
        start += len(piece)
    return spans


def parse(raw: str | None) -> ReaderQuery:
    """Read a reader's input; never raises, whatever the input."""
    text = clean(raw)
    groups: list[list[Clause]] = []
    join_next = False
    for match in _PIECE.finditer(text):
        word = match.group("word")
        if word is not None and word in OR_WORDS:
            join_next = bool(groups)
            continue
        quoted = word is None
        piece = word if word is not None else next(g for g in match.groups() if g is not None)
        found = query_words(piece)
        if not found:
            continue
        clause = Clause(piece.strip(), found, quoted)
        if join_next:
            groups[-1].append(clause)
        else:
            groups.append([clause])
        join_next = False
        if sum(len(g) for g in groups) >= MAX_CLAUSES:
            break
    return ReaderQuery(text, tuple(tuple(g) for g in groups))
