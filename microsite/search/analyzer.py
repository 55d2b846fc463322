"""The Chinese analyzer: rjieba search-mode words, folded for matching, with true offsets.

Whoosh pickles the analyzer into the index, so this module's import path is part of the
index format: keep the class names and module where they are.

Folding (full-width to half-width, compatibility forms, traditional to simplified) is done
one character for one character on a copy of the text before it is segmented, so the
segmenter sees simplified text (社區 segments like 社区) while every offset still points at
the stored text, which highlights are cut from.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

import rjieba
from whoosh.analysis import Token, Tokenizer
from whoosh.lang.stopwords import stoplists

# Function words that would match nearly every article; reporters' names and single
# content characters (栗, 张) are not here, because Chinese names are short.
_CHINESE_STOP_TEXT = (
    "的 了 和 与 及 或 而 并 且 是 在 也 就 都 又 还 被 把 对 从 向 于 以 之 其 这 那 这个 那个 "
    "这些 那些 着 过 吗 呢 吧 啊 呀 嘛 么 很 等 等等 一个 一些 我们 你们 他们 它们 "
    "因为 所以 但是 如果 虽然 然后 已经 可以 没有 什么 怎么 如何 为了 以及"
)
CHINESE_STOP_WORDS = frozenset(_CHINESE_STOP_TEXT.split())
STOP_WORDS = CHINESE_STOP_WORDS | frozenset(stoplists["en"])

_SURROGATES = range(0xD800, 0xE000)
_IDEOGRAPHS = [*range(0x3400, 0xA000), *range(0xF900, 0xFB00)]


def _simplified(chars: list[str]) -> dict[str, str]:
    """Traditional characters mapped to simplified ones, character by character."""
    import opencc

    # One character per line, so OpenCC's phrase rules never see two characters together:
    # a character folds the same way wherever it stands, in an article and in a query.
    converted = opencc.OpenCC("t2s").convert("\n".join(chars)).split("\n")
    return {c: s for c, s in zip(chars, converted, strict=True) if len(s) == 1 and s != c}


@cache
def fold_table() -> dict[int, str]:
    """One-to-one character folds: NFKC where it yields one character, then t2s."""
    nfkc: dict[int, str] = {}
    for code in range(0x10000):
        if code in _SURROGATES:
            continue
        folded = unicodedata.normalize("NFKC", chr(code))
        # "…" becomes "..." and "㎡" becomes "m2": a fold that changed the length would move
        # every later offset, so those characters stay as they are.
        if len(folded) == 1 and folded != chr(code):
            nfkc[code] = folded
    chars = sorted({chr(c) for c in _IDEOGRAPHS} | set(nfkc.values()))
    simplified = _simplified(chars)
    table = {code: simplified.get(folded, folded) for code, folded in nfkc.items()}
    for char, simple in simplified.items():
        table.setdefault(ord(char), simple)
    return table


def fold(text: str) -> str:
    """Text folded for matching; always the same length as `text`."""
    return text.translate(fold_table())


# Each distinct token text classified once: its indexed form and whether it is a stop word,
# or None for punctuation, spaces, symbols and emoji. Texts repeat a lot, and this keeps the
# per-token cost of the Python loop low.
_terms: dict[str, tuple[str, bool] | None] = {}
_WORD = re.compile(r"\w")
_MEMO_LIMIT = 200_000


def term_info(text: str) -> tuple[str, bool] | None:
    found = _terms.get(text, _terms)
    if found is not _terms:
        return found  # type: ignore[return-value]
    if len(_terms) > _MEMO_LIMIT:
        _terms.clear()
    lowered = text.lower()
    found = (lowered, lowered in STOP_WORDS) if _WORD.search(text) else None
    _terms[text] = found
    return found


# The last text segmented: indexing gives each text to its word field and then straight to
# its pair field, and this way it is segmented once (the segmenter is most of a rebuild).
_last: tuple[str, tuple] = ("", ())


def segment(value: str) -> tuple[tuple[tuple[str, bool], int, int], ...]:
    """((term, is stop word), start, end) of every word of `value`, in rjieba's order."""
    global _last
    last = _last
    if last[0] is value or last[0] == value:
        return last[1]
    found = tuple(
        (term, start, end)
        for text, start, end in rjieba.tokenize(fold(value), mode="search")
        if (term := term_info(text)) is not None
    )
    _last = (value, found)  # one assignment: another thread sees the old pair or the new
    return found


class ChineseTokenizer(Tokenizer):
    """The whole analyzer in one pass: rjieba search-mode words of the folded text,
    lowercased, stop words dropped, positions numbered without gaps (so a phrase across a
    dropped 的 still matches) and offsets into the original text.

    Search mode also yields the parts of long words (中华人民共和国 gives 中华, 人民, 共和国 ...),
    so a reader's shorter word still matches.
    """

    def __eq__(self, other):
        return other is not None and self.__class__ is other.__class__

    def __call__(
        self,
        value,
        positions=False,
        chars=False,
        keeporiginal=False,
        removestops=True,
        start_pos=0,
        start_char=0,
        tokenize=True,
        mode="",
        **kwargs,
    ):
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        token.boost = 1.0
        token.stopped = False
        if not tokenize:
            token.original = token.text = fold(value).lower()
            token.pos = start_pos
            token.startchar, token.endchar = start_char, start_char + len(value)
            yield token
            return
        pos = start_pos
        # rjieba's own order: a long word's parts come just before the word (核酸, 检测, then
        # 核酸检测 if it is one word), so a query for a word or for its parts is a run of
        # adjacent positions in the article too. Highlighting sorts by offset itself.
        for term, start, end in segment(value):
            if term[1]:
                if removestops:
                    continue
                token.stopped = True
            else:
                token.stopped = False
            token.text = term[0]
            if keeporiginal:
                token.original = value[start:end]
            if positions:
                token.pos = pos
                pos += 1
            if chars:
                token.startchar, token.endchar = start_char + start, start_char + end
            yield token


def ChineseAnalyzer():  # noqa: N802 (Whoosh's analyzers are factories named like classes)
    """The analyzer for every text field of the schema."""
    return ChineseTokenizer()


def words(text: str) -> list[str]:
    """The analyzed words of a text, in order (what a query for it looks up)."""
    return [token.text for token in ChineseTokenizer()(text, mode="query")]


def query_words(text: str) -> tuple[str, ...]:
    """The words a query for `text` must match in a row. When one word spans all the others
    (市场经济 gives 市场, 经济, 市场经济), that word alone: an article has it exactly where it
    has the run of its parts, and one term is far cheaper to look up than a phrase."""
    found = [(t.text, t.startchar, t.endchar) for t in ChineseTokenizer()(text, chars=True)]
    if len(found) > 1:
        start, end = min(f[1] for f in found), max(f[2] for f in found)
        for word, first, last in found:
            if first == start and last == end:
                return (word,)
    return tuple(word for word, _, _ in found)


# Joins the two words of an adjacent pair into one term. Words never hold a space (the
# segmenter cuts spaces out, and term_info drops them), so a pair can't collide with a word.
PAIR_JOIN = " "


def pair(first: str, second: str) -> str:
    return f"{first}{PAIR_JOIN}{second}"


def pairs(found: tuple[str, ...] | list[str]) -> list[str]:
    """The adjacent-pair terms of a run of analyzed words: a, b, c gives "a b", "b c"."""
    return [pair(a, b) for a, b in zip(found, found[1:], strict=False)]


class PairTokenizer(Tokenizer):
    """Adjacent pairs of the words ChineseTokenizer yields, one term each, numbered in order.

    A phrase of two words is then one term lookup, and a longer phrase is the pairs standing
    at consecutive positions of this field: the word field needs no positions at all, and a
    phrase check only ever walks the postings of pairs, which are rare. Adjacency is the
    word field's own (stop words dropped, no gaps), so "社区的工作" pairs 社区 with 工作.
    """

    def __eq__(self, other):
        return other is not None and self.__class__ is other.__class__

    def __call__(
        self,
        value,
        positions=False,
        chars=False,
        keeporiginal=False,
        removestops=True,
        start_pos=0,
        start_char=0,
        tokenize=True,
        mode="",
        **kwargs,
    ):
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        token.boost = 1.0
        token.stopped = False
        if not tokenize:
            token.original = token.text = value
            token.pos = start_pos
            token.startchar, token.endchar = start_char, start_char + len(value)
            yield token
            return
        pos = start_pos
        previous = None
        for (text, stop), start, end in segment(value):
            if stop:
                continue  # the word field's positions skip stop words too
            if previous is not None:
                token.text = pair(previous[0], text)
                if keeporiginal:
                    token.original = token.text
                if positions:
                    token.pos = pos
                    pos += 1
                if chars:
                    token.startchar, token.endchar = start_char + previous[1], start_char + end
                yield token
            previous = (text, start)


def PairAnalyzer():  # noqa: N802 (named like Whoosh's analyzer factories)
    """The analyzer of the adjacent-pair fields."""
    return PairTokenizer()
