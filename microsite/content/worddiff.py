"""Word-level diffs of Chinese text, as escaped HTML with <del> and <ins>.

Chinese has no spaces, so a character diff marks fragments of words (劳务派遣 → 临时用工 would
show as 劳务派遣 with single characters struck and others inserted) and a line diff marks whole
paragraphs. Both sides are cut into words by the segmenter (rjieba, precise mode) and the word
sequences are compared, so a change reads as whole words replaced. Bodies are compared as their
visible text, paragraph by paragraph: paragraphs are matched first, and only paragraphs that
changed are compared word by word, which keeps long articles fast and the result readable.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from itertools import zip_longest

import rjieba
from markupsafe import Markup, escape

from ..text import plain_text

EQUAL, DELETED, INSERTED = "equal", "del", "ins"
# Paragraphs are compared as one token list with this token between them (plain_text's lines
# never contain it); a removed or added break is shown as BREAK_MARK inside <del>/<ins>.
BREAK = "\n"
BREAK_MARK = "↵"
# Changed runs longer than this many words (both sides) are compared paragraph by paragraph.
BLOCK_LIMIT = 4000


@dataclass(frozen=True)
class Piece:
    kind: str  # EQUAL, DELETED or INSERTED
    text: str


def words(text: str) -> list[str]:
    """The text cut into words (precise mode); joined back they give the text unchanged."""
    return list(rjieba.cut(text)) if text else []


def _matcher(old: Sequence[str], new: Sequence[str]) -> SequenceMatcher:
    # autojunk would treat frequent tokens (，的 。) as junk in long texts and misalign them.
    return SequenceMatcher(None, old, new, autojunk=False)


def diff_tokens(old: Sequence[str], new: Sequence[str]) -> list[Piece]:
    """Pieces that turn `old` into `new`; neighbouring tokens of one kind are merged."""
    pieces: list[Piece] = []

    def add(kind: str, tokens: Iterable[str]) -> None:
        text = "".join(tokens)
        if not text:
            return
        if pieces and pieces[-1].kind == kind:
            pieces[-1] = Piece(kind, pieces[-1].text + text)
        else:
            pieces.append(Piece(kind, text))

    for tag, i1, i2, j1, j2 in _matcher(old, new).get_opcodes():
        if tag == "equal":
            add(EQUAL, old[i1:i2])
        else:
            # A replacement reads as "old words struck, new words inserted".
            add(DELETED, old[i1:i2])
            add(INSERTED, new[j1:j2])
    return pieces


def diff_words(old: str, new: str) -> list[Piece]:
    """Pieces that turn the text `old` into `new`, word by word."""
    return diff_tokens(words(old), words(new))


def render(pieces: Iterable[Piece]) -> Markup:
    """Pieces as HTML: unchanged text as is, removed text in <del>, added text in <ins>."""
    out = []
    for piece in pieces:
        text = escape(piece.text)
        out.append(text if piece.kind == EQUAL else Markup(f"<{piece.kind}>{text}</{piece.kind}>"))
    return Markup("").join(out)


def inline_diff(old: str, new: str) -> Markup:
    """A one-line text (a title) diffed word by word, as HTML."""
    return render(diff_words(old, new))


def tags_diff(old: Sequence[str], new: Sequence[str]) -> Markup:
    """Keyword lists: each removed keyword in <del>, each added one in <ins>, space separated."""
    old_set, new_set = set(old), set(new)
    names = sorted(old_set | new_set)
    out = []
    for name in names:
        if name in old_set and name in new_set:
            out.append(escape(name))
        else:
            kind = DELETED if name in old_set else INSERTED
            out.append(Markup(f"<{kind}>{escape(name)}</{kind}>"))
    return Markup(" ").join(out)


@dataclass(frozen=True)
class Paragraph:
    kind: str  # EQUAL (unchanged), DELETED, INSERTED, or "changed" (marked inside)
    html: Markup


def _joined(paragraphs: Sequence[str]) -> list[str]:
    tokens: list[str] = []
    for n, para in enumerate(paragraphs):
        if n:
            tokens.append(BREAK)
        tokens.extend(words(para))
    return tokens


def _changed_block(old: Sequence[str], new: Sequence[str]) -> list[Paragraph]:
    """Paragraphs that differ, compared word by word as one text with breaks as tokens."""
    old_tokens, new_tokens = _joined(old), _joined(new)
    if len(old_tokens) + len(new_tokens) > BLOCK_LIMIT:
        return _pairwise(old, new)
    paragraphs: list[Paragraph] = []
    current: list[Markup] = []
    marked = False

    def close() -> None:
        nonlocal current, marked
        if current:
            paragraphs.append(Paragraph("changed" if marked else EQUAL, Markup("").join(current)))
        current, marked = [], False

    for piece in diff_tokens(old_tokens, new_tokens):
        # An unchanged break ends a paragraph on both sides; a removed or added break is
        # shown with a mark and also starts a new paragraph, so the layout stays readable.
        parts = piece.text.split(BREAK)
        for n, part in enumerate(parts):
            if n:
                if piece.kind != EQUAL:
                    current.append(Markup(f"<{piece.kind}>{BREAK_MARK}</{piece.kind}>"))
                    marked = True
                close()
            if part:
                current.append(render([Piece(piece.kind, part)]))
                marked = marked or piece.kind != EQUAL
    close()
    return paragraphs


def _pairwise(old: Sequence[str], new: Sequence[str]) -> list[Paragraph]:
    """A long rewritten run compared paragraph with paragraph in order, so the cost stays
    proportional to the paragraphs' sizes (a whole-block comparison grows with its square)."""
    paragraphs = []
    for before, after in zip_longest(old, new):
        if after is None:
            paragraphs.append(Paragraph(DELETED, Markup(f"<del>{escape(before)}</del>")))
        elif before is None:
            paragraphs.append(Paragraph(INSERTED, Markup(f"<ins>{escape(after)}</ins>")))
        else:
            paragraphs.append(Paragraph("changed", inline_diff(before, after)))
    return paragraphs


def body_diff(old_html: str, new_html: str) -> list[Paragraph]:
    """Two article bodies as a list of paragraphs of their visible text, changes marked."""
    old = plain_text(old_html).splitlines()
    new = plain_text(new_html).splitlines()
    paragraphs: list[Paragraph] = []
    for tag, i1, i2, j1, j2 in _matcher(old, new).get_opcodes():
        if tag == "equal":
            paragraphs.extend(Paragraph(EQUAL, escape(para)) for para in old[i1:i2])
        elif tag == "delete":
            paragraphs.extend(
                Paragraph(DELETED, Markup(f"<del>{escape(para)}</del>")) for para in old[i1:i2]
            )
        elif tag == "insert":
            paragraphs.extend(
                Paragraph(INSERTED, Markup(f"<ins>{escape(para)}</ins>")) for para in new[j1:j2]
            )
        else:
            paragraphs.extend(_changed_block(old[i1:i2], new[j1:j2]))
    return paragraphs


@dataclass(frozen=True)
class Unchanged:
    """A run of unchanged paragraphs far from any change, shown folded away."""

    paragraphs: tuple[Paragraph, ...]


def folded(paragraphs: Sequence[Paragraph], context: int = 1) -> list[Paragraph | Unchanged]:
    """Paragraphs with each run of unchanged ones more than `context` away from a change
    folded into one Unchanged item, so a long article's diff shows its changes first."""
    changed = [n for n, para in enumerate(paragraphs) if para.kind != EQUAL]
    near = {m for n in changed for m in range(n - context, n + context + 1)}
    out: list[Paragraph | Unchanged] = []
    run: list[Paragraph] = []
    for n, para in enumerate(paragraphs):
        if para.kind == EQUAL and n not in near:
            run.append(para)
            continue
        if run:
            out.append(Unchanged(tuple(run)))
            run = []
        out.append(para)
    if run:
        out.append(Unchanged(tuple(run)))
    return out
