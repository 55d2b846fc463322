"""Highlighted snippets cut from the database text, in Chinese-sized fragments.

The text is masked before it is highlighted, so a <mark> can never reveal or split a masked
word: a masked word is *** by then, which the analyzer does not see as a word at all.
Matches are found by analyzing the shown text with the index's analyzer, so the offsets are
the text's own and folded matches (社區 for 社区) light up the characters as written.
"""

from __future__ import annotations

from functools import lru_cache

from markupsafe import Markup, escape

from .analyzer import ChineseTokenizer, fold

# About two lines of Chinese on a phone; two fragments at most, so the snippet stays short.
FRAGMENT_CHARS = 64
FRAGMENTS = 2
LEAD_CHARS = 90
# Context before the first match: enough to read it in its sentence.
BEFORE = 14
_BREAKS = set("。！？!?；;\n")
_MAX_SPANS = 120
_GAP = 1
# Context analyzed on each side of a candidate: the segmenter needs a little to cut the same
# words as it did for the whole text.
_MARGIN = 24


Wanted = tuple[frozenset[str], ...]


@lru_cache(maxsize=2048)
def _probe(text: str) -> str:
    # The shown text folded for finding words: the same article's text comes up in many
    # searches (a page of hits for every common word), and folding it is a dict lookup per
    # character.
    return fold(text).lower()


def _regions(text: str, words: frozenset[str]) -> list[tuple[int, int]]:
    """Stretches of the text worth analyzing: around plain-string occurrences of the words in
    the folded text. Analyzing a whole long article for every hit cost more than the search."""
    probe = _probe(text)
    if len(probe) != len(text):  # a rare lowercase that changes length: analyze it all
        return [(0, len(text))]
    found = []
    for word in words:
        start = probe.find(word)
        while start != -1 and len(found) < _MAX_SPANS:
            found.append((max(0, start - _MARGIN), start + len(word) + _MARGIN))
            start = probe.find(word, start + len(word))
    regions: list[tuple[int, int]] = []
    for start, end in sorted(found):
        if regions and start <= regions[-1][1]:
            regions[-1] = (regions[-1][0], max(regions[-1][1], end))
        else:
            regions.append((start, end))
    return regions


def _spans(text: str, wanted: Wanted) -> list[tuple[int, int, str]]:
    """(start, end, words) ranges to mark: runs of matched words that hold all the words of
    at least one clause the reader asked for, so 网格员 marks 网格员 but not the 网格 of 网格群.
    """
    words = frozenset().union(*wanted)
    tokenizer = ChineseTokenizer()
    found = sorted(
        (t.startchar, t.endchar, t.text)
        for start, end in _regions(text, words)
        for t in tokenizer(text[start:end], chars=True, removestops=False, start_char=start)
        if t.text in words
    )
    runs: list[tuple[int, int, set[str]]] = []
    for start, end, word in found:
        # Adjacent matches, or matches one character apart (社区的工作), read as one phrase.
        if runs and start <= runs[-1][1] + _GAP:
            last = runs[-1]
            runs[-1] = (last[0], max(last[1], end), last[2] | {word})
        else:
            runs.append((start, end, {word}))
    kept = [(s, e, "|".join(sorted(ws))) for s, e, ws in runs if any(c <= ws for c in wanted)]
    return kept[:_MAX_SPANS]


def _marked(text: str, start: int, end: int, spans) -> str:
    out, index = [], start
    for s, e, _ in spans:
        if s < start or e > end:
            continue
        out.append(str(escape(text[index:s])))
        out.append(f"<mark>{escape(text[s:e])}</mark>")
        index = e
    out.append(str(escape(text[index:end])))
    return "".join(out)


def highlight_all(text: str, wanted: Wanted) -> Markup:
    """The whole (short) text with every match marked: for titles."""
    return Markup(_marked(text, 0, len(text), _spans(text, wanted) if wanted else []))


def _window(text: str, first: int) -> tuple[int, int]:
    """A fragment starting a little before `first`, at a sentence break if one is close."""
    start = max(0, first - BEFORE)
    for i in range(first - 1, start - 1, -1):
        if text[i] in _BREAKS:
            start = i + 1
            break
    return start, min(len(text), start + FRAGMENT_CHARS)


def _best_window(text, spans, covered: set[str], taken) -> tuple[int, int, set[str]] | None:
    best = None
    for s, _, _ in spans:
        start, end = _window(text, s)
        if any(start < b and a < end for a, b in taken):
            continue
        inside = {w for a, b, w in spans if a >= start and b <= end}
        gain = len({w for group in inside for w in group.split("|")} - covered)
        if gain and (best is None or gain > best[0]):
            best = (gain, start, end, inside)
    return None if best is None else best[1:]


def snippet(text: str, wanted: Wanted) -> Markup:
    """Up to FRAGMENTS fragments of `text` around the searched words, matches in <mark>.

    `wanted` holds the words of each clause that matched. With no match in the text (the hit
    was in the title or keywords), the text's opening instead.
    """
    text = " ".join(text.split())
    spans = _spans(text, wanted) if wanted else []
    if not spans:
        lead = text[:LEAD_CHARS]
        return Markup(escape(lead) + ("…" if len(text) > LEAD_CHARS else ""))
    windows, covered = [], set()
    for _ in range(FRAGMENTS):
        found = _best_window(text, spans, covered, windows)
        if found is None:
            break
        start, end, inside = found
        windows.append((start, end))
        covered |= {w for group in inside for w in group.split("|")}
    parts = []
    for start, end in sorted(windows):
        prefix = "…" if start > 0 else ""
        suffix = "…" if end < len(text) else ""
        parts.append(prefix + _marked(text, start, end, spans) + suffix)
    return Markup(" ".join(parts))
