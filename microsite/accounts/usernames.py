"""Usernames: one spelling for each name, and no new name that reads like one already taken.

`normalize` (NFKC) runs when a user is created and when someone signs in, so the full-width
ａｄｍｉｎ, typed by a Chinese input method left in full-width mode, *is* admin. `skeleton`
decides whether two names are look-alikes: NFKC, casefold, accents dropped, a short table of
characters that read alike in most fonts (Cyrillic and Greek letters that look Latin, 0/o,
1/l/i, rn/m, vv/w) and the separators . _ - dropped. It is deliberately stricter than Unicode's
full confusables list in the few cases that matter for short Latin names, and much smaller.
"""

from __future__ import annotations

import unicodedata

# Cyrillic and Greek letters that look like Latin ones, and digits that look like letters.
_LOOKALIKE = str.maketrans(
    {
        "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o",
        "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "і": "l", "ї": "l", "ј": "j",
        "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w", "һ": "h", "ɡ": "g",
        "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "l", "κ": "k", "ν": "v", "ο": "o",
        "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w",
        "0": "o", "1": "l", "i": "l", "|": "l", "5": "s", "$": "s",
        ".": None, "_": None, "-": None,
    }
)  # fmt: skip
# Letter pairs that read as one letter.
_PAIRS = (("rn", "m"), ("vv", "w"))


def normalize(name: str | None) -> str:
    """The stored and compared form of a username: NFKC, no surrounding spaces."""
    return unicodedata.normalize("NFKC", name or "").strip()


def skeleton(name: str) -> str:
    """What a name looks like: equal skeletons mean a reader could take one for the other."""
    folded = unicodedata.normalize("NFKD", normalize(name).casefold())
    shape = "".join(ch for ch in folded if not unicodedata.combining(ch)).translate(_LOOKALIKE)
    for pair, letter in _PAIRS:
        shape = shape.replace(pair, letter)
    return shape


def lookalike_of(name: str, taken: list[str]) -> str | None:
    """The first of `taken` that `name` could be mistaken for, or None."""
    shape = skeleton(name)
    return next((other for other in taken if skeleton(other) == shape), None)


def throttle_key(name: str | None) -> str:
    """The name the sign-in throttle counts under: ａｄｍｉｎ, ADMIN and admin are one."""
    return normalize(name).casefold()[:64]
