"""The corpus vocabulary: the segmenter's own dictionary with its word frequencies.

rjieba embeds jieba's dict.txt ("word frequency tag" lines) zstd-compressed inside its shared
library and offers no API to list it. We find the compressed frame in the library and
decompress it with the `zstandard` module or Debian's `zstd` tool, whichever is present. When
neither works, the vocabulary falls back to the words of the seed page (as rjieba cuts them)
counted by occurrence: a much smaller vocabulary, so the table says which one was used.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path

import rjieba

from microsite.cli import DEMO_PAGE
from microsite.content.importer import parse_page

from . import CACHE_DIR

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_DICT_LINE = re.compile(r"^(\S+) (\d+) ([a-z]+)$", re.MULTILINE)
_HAN = re.compile(r"^[\u4e00-\u9fff]+$")
# Tags of words that make plausible headline and tag words: nouns, places, verbal nouns.
NOUNISH = {"n", "nz", "ns", "nt", "vn", "l", "i"}


@dataclass(frozen=True)
class Vocabulary:
    source: str  # "rjieba-dict" or "seed"
    words: list[str]
    tags: list[str]
    cum_weights: list[int]
    digest: str  # identifies the word list, so cached corpora follow a change of dictionary

    @property
    def size(self) -> int:
        return len(self.words)


def _library_path() -> Path:
    spec_dir = Path(rjieba.__file__).parent
    candidates = sorted(spec_dir.glob("rjieba*.so")) + sorted(spec_dir.glob("rjieba*.pyd"))
    if not candidates:
        raise FileNotFoundError("rjieba's compiled library not found")
    return candidates[0]


def _decompress(blob: bytes) -> str | None:
    """The first zstd frame of blob, decompressed, or None if no decompressor can."""
    try:
        import zstandard  # optional: pip install zstandard
    except ImportError:
        zstandard = None
    if zstandard is not None:
        try:
            # decompressobj stops at the end of the first frame; the library's bytes follow.
            out = zstandard.ZstdDecompressor().decompressobj().decompress(blob)
            return out.decode("utf-8", "replace")
        except zstandard.ZstdError:
            return None
    tool = shutil.which("zstd")
    if tool is None:
        return None
    # The library continues after the frame; zstd then complains, but stdout holds the frame.
    done = subprocess.run([tool, "-dc", "-q"], input=blob, capture_output=True, check=False)
    return done.stdout.decode("utf-8", "replace") or None


def _dictionary_text() -> str | None:
    data = _library_path().read_bytes()
    start = data.find(ZSTD_MAGIC)
    while start != -1:
        text = _decompress(data[start:])
        if text and len(_DICT_LINE.findall(text[:20000])) > 500:
            return text
        start = data.find(ZSTD_MAGIC, start + 1)
    return None


def _from_dictionary(text: str) -> tuple[list[str], list[str], list[int]]:
    words, tags, freqs = [], [], []
    for word, freq, tag in _DICT_LINE.findall(text):
        # Han-only words: the corpus is Chinese prose, and Latin entries (C++, AT&T) would
        # only exercise the tokenizer's lowercasing.
        if _HAN.match(word) and int(freq) > 0:
            words.append(word)
            tags.append(tag)
            freqs.append(int(freq))
    return words, tags, freqs


def _from_seed() -> tuple[list[str], list[str], list[int]]:
    page = parse_page(DEMO_PAGE.read_text(encoding="utf-8"))
    text = "\n".join([*page.paragraphs, *(h.title for h in page.headlines)])
    counts = Counter(w for w in rjieba.cut(text) if _HAN.match(w))
    words = sorted(counts, key=lambda w: (-counts[w], w))
    return words, ["n" if len(w) > 1 else "x" for w in words], [counts[w] for w in words]


def _cache_file() -> Path:
    return CACHE_DIR / f"vocab-{_library_path().stat().st_size}.tsv"


def load_vocabulary(allow_dictionary: bool = True) -> Vocabulary:
    """rjieba's dictionary when it can be read (cached as TSV), else the seed page's words."""
    words = tags = freqs = None
    source = "seed"
    if allow_dictionary:
        cache = _cache_file()
        if cache.exists():
            rows = [line.split("\t") for line in cache.read_text(encoding="utf-8").splitlines()]
            words, tags = [r[0] for r in rows], [r[1] for r in rows]
            freqs = [int(r[2]) for r in rows]
        elif (text := _dictionary_text()) is not None:
            words, tags, freqs = _from_dictionary(text)
            cache.parent.mkdir(parents=True, exist_ok=True)
            lines = (f"{w}\t{t}\t{f}" for w, t, f in zip(words, tags, freqs, strict=True))
            cache.write_text("\n".join(lines), encoding="utf-8")
        if words:
            source = "rjieba-dict"
    if not words:
        words, tags, freqs = _from_seed()
    digest = hashlib.sha256("\n".join(words).encode()).hexdigest()[:10]
    return Vocabulary(source, words, tags, list(accumulate(freqs)), digest)
