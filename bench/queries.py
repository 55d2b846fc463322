"""200 deterministic search queries over a corpus: single words, two-word AND, phrases.

Words are drawn by frequency from the dictionary's mid range (not the function words at the
top, which analyzers drop, nor the rare tail that no article contains), stratified by length
so two-character words (the common case, and FTS5-trigram's weak spot) and three- or
four-character words both appear. Phrases are two or three consecutive words cut from the
corpus itself: half from the seed's sentences, which recur across articles, half from
generated sentences, which are rare.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

import rjieba

from .vocab import Vocabulary

SINGLE, AND, PHRASE = "word", "and", "phrase"
COUNTS = {SINGLE: 80, AND: 60, PHRASE: 60}
_HAN = re.compile(r"^[\u4e00-\u9fff]+$")
# Rank window of the word pool: past the commonest words, within the common vocabulary.
POOL_RANKS = (150, 20000)


@dataclass(frozen=True)
class Query:
    kind: str
    terms: tuple[str, ...]  # one word, two words (AND), or the words of one phrase

    @property
    def text(self) -> str:
        """What a reader types: words separated by a space; a phrase in double quotes."""
        if self.kind == PHRASE:
            return '"' + "".join(self.terms) + '"'
        return " ".join(self.terms)

    @property
    def needles(self) -> tuple[str, ...]:
        """The strings a matching text contains (a phrase is one string)."""
        return ("".join(self.terms),) if self.kind == PHRASE else self.terms


def _word_pool(vocab: Vocabulary) -> dict[int, tuple[list[str], list[int]]]:
    freqs = [b - a for a, b in zip([0, *vocab.cum_weights[:-1]], vocab.cum_weights, strict=True)]
    ranked = sorted(range(vocab.size), key=lambda i: (-freqs[i], vocab.words[i]))
    low, high = POOL_RANKS
    pool: dict[int, tuple[list[str], list[int]]] = {2: ([], []), 3: ([], []), 4: ([], [])}
    for i in ranked[low:high]:
        word = vocab.words[i]
        if len(word) in pool and vocab.tags[i] not in {"x", "m", "q", "r", "u", "p", "c"}:
            pool[len(word)][0].append(word)
            pool[len(word)][1].append(freqs[i])
    return pool


def _words(r: random.Random, pool, k: int) -> list[str]:
    # Two-character words half the time, three and four characters the other half.
    out = []
    for _ in range(k):
        length = r.choices([2, 3, 4], weights=[5, 3, 2])[0]
        words, weights = pool[length]
        out.append(r.choices(words, weights=weights)[0])
    return out


def _phrase(r: random.Random, sentence: str) -> tuple[str, ...] | None:
    words = rjieba.cut(sentence)
    for _ in range(20):
        size = r.choice([2, 3])
        start = r.randrange(max(1, len(words) - size))
        terms = tuple(words[start : start + size])
        if len(terms) == size and all(_HAN.match(t) for t in terms):  # noqa: SIM102
            if 4 <= len("".join(terms)) <= 8:
                return terms
    return None


def make_queries(
    vocab: Vocabulary, texts: list[str], seed_sentences: list[str], seed: int = 7
) -> list[Query]:
    """The query set for a corpus whose article texts are `texts`."""
    r = random.Random(seed)
    pool = _word_pool(vocab)
    queries = [Query(SINGLE, (w,)) for w in dict.fromkeys(_words(r, pool, COUNTS[SINGLE] * 2))]
    del queries[COUNTS[SINGLE] :]
    while len(queries) < COUNTS[SINGLE] + COUNTS[AND]:
        a, b = _words(r, pool, 2)
        if a != b and Query(AND, (a, b)) not in queries:
            queries.append(Query(AND, (a, b)))
    seed_set = set(seed_sentences)
    while len(queries) < sum(COUNTS.values()):
        if len(queries) % 2:
            sentence = r.choice(seed_sentences)
        else:
            text = r.choice(texts)
            sentences = [s for s in re.split(r"[。！？；\n]", text) if len(s) > 10]
            sentences = [s for s in sentences if s not in seed_set] or sentences
            sentence = r.choice(sentences)
        terms = _phrase(r, sentence)
        if terms and Query(PHRASE, terms) not in queries:
            queries.append(Query(PHRASE, terms))
    return queries
