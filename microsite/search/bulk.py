"""A segment writer for full rebuilds: the same index Whoosh's SegmentWriter writes, faster.

Whoosh's writer spends most of a rebuild in pure Python per posting: every token becomes a
Token object, every posting a tuple in a pool that is sorted (and spilled) before a term
writer walks it again. Here each text is segmented once for both of its fields (words
without offsets: indexing needs none), the postings of a text field are grouped per term in
a dict as documents arrive, and at commit the terms are written in order through Whoosh's
own field writer (W3, with the project's inlining codec), so the files are Whoosh's format
and any Whoosh reader opens them. tests/test_search_bulk.py checks the result equals
Whoosh's own writer's, term entry for term entry and posting for posting.

Only the schema's ChineseTokenizer and PairTokenizer fields take the fast path; any other
indexed field (the id, the date) goes through the field's own index() as in Whoosh.
"""

from __future__ import annotations

import gc
import struct
from collections import Counter, defaultdict
from contextlib import contextmanager
from itertools import count
from pickle import dumps

import rjieba
from whoosh.codec.whoosh3 import W3TermInfo
from whoosh.filedb.filetables import _lengths as _HASH_LENGTHS
from whoosh.system import _INT_SIZE
from whoosh.util.numeric import byte_to_length, length_to_byte
from whoosh.writing import SegmentWriter

from .analyzer import ChineseTokenizer, PairTokenizer, fold, pair, term_info

# Raw segmenter token -> indexed word, or None for a stop word or punctuation. Bounded: a
# rebuild of a large corpus sees many one-off tokens (numbers, names).
_index_terms: dict[str, str | None] = {}
_MEMO_LIMIT = 500_000
_uint = struct.Struct("!I").pack
pack_ushort = struct.Struct("!H").pack
_TERMINFO = W3TermInfo._struct


def index_words(value: str) -> list[str]:
    """The words ChineseTokenizer indexes for `value` (stop words dropped), in its order.

    cut_for_search gives the words of tokenize(mode="search") without their offsets
    (tests/test_search_bulk.py checks both agree); classifying each distinct token once
    leaves the per-token work to C (map, filter)."""
    tokens = rjieba.cut_for_search(fold(value))
    memo = _index_terms
    new = set(tokens).difference(memo)
    if new:
        if len(memo) > _MEMO_LIMIT:
            memo.clear()
            new = set(tokens)
        for token in new:
            info = term_info(token)
            memo[token] = None if info is None or info[1] else info[0]
    return list(filter(None, map(memo.__getitem__, tokens)))


@contextmanager
def collection_paused():
    """No cyclic garbage collection while postings pile up: they are millions of small
    containers without cycles, and every full collection walks all of them again (that was
    most of the accumulation's time in a profile). Restored afterwards, as it was."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _encoded_positions(positions: list[int]) -> bytes:
    # Positions.encode, the same bytes: a count, then the pickled deltas.
    deltas = [b - a for a, b in zip([0, *positions], positions, strict=False)]
    return _uint(len(deltas)) + dumps(deltas, 2)


class BulkWriter(SegmentWriter):
    """SegmentWriter for one fresh segment, postings grouped per term in memory.

    Meant for rebuilds into an empty index: no deletions, no update_document, and memory
    grows with the segment (build() starts a new writer every BATCH_DOCS documents)."""

    def __init__(self, ix, **kwargs) -> None:
        super().__init__(ix, **kwargs)
        schema = self.schema
        self._fast: dict[str, str] = {}
        for name, field in schema.items():
            analyzer = getattr(field, "analyzer", None)
            if type(analyzer) is ChineseTokenizer and not field.format.supports("positions"):
                self._fast[name] = "words"
            elif type(analyzer) is PairTokenizer and field.format.supports("positions"):
                self._fast[name] = "pairs"
        # fieldname -> term -> [(docnum, frequency or positions)], docnums ascending.
        self._terms: dict[str, defaultdict] = {n: defaultdict(list) for n in self._fast}
        # fieldname -> term bytes -> [(docnum, weight, value bytes)] for the other fields.
        self._other: dict[str, defaultdict] = defaultdict(lambda: defaultdict(list))
        # fieldname -> {docnum: the field length's byte, as the length column stores it}.
        self._length_bytes: dict[str, dict[int, int]] = defaultdict(dict)
        self._last_text: tuple[str | None, list[str]] = (None, [])

    def _words(self, value: str) -> list[str]:
        # A text goes to its word field and then to its pair field: segmented once.
        last = self._last_text
        if last[0] is value or last[0] == value:
            return last[1]
        found = index_words(value)
        self._last_text = (value, found)
        return found

    def add_document(self, **fields) -> None:
        self._check_state()
        perdocwriter = self.perdocwriter
        schema = self.schema
        docnum = self.docnum
        names = sorted(name for name in fields if not name.startswith("_"))
        self._check_fields(schema, names)
        if any(name.startswith("_") for name in fields):
            raise NotImplementedError("boosts and _stored_ values are not supported here")
        perdocwriter.start_doc(docnum)
        try:
            for name in names:
                value = fields[name]
                if value is None:
                    continue
                field = schema[name]
                length = 0
                kind = self._fast.get(name)
                if kind == "words":
                    length = self._add_words(name, docnum, self._words(value))
                elif kind == "pairs":
                    length = self._add_pairs(name, docnum, self._words(value))
                elif field.indexed:
                    other = self._other[name]
                    for tbytes, freq, weight, vbytes in field.index(value):
                        if field.scorable:
                            length += freq
                        other[tbytes].append((docnum, weight, vbytes))
                if field.separate_spelling() or field.vector:
                    raise NotImplementedError(f"field {name}: spelling or vectors")
                if length:
                    self._length_bytes[name][docnum] = length_to_byte(length)
                perdocwriter.add_field(name, field, value if field.stored else None, length)
                column = field.column_type
                if column:
                    perdocwriter.add_column_value(name, column, field.to_column_value(value))
        except Exception:
            perdocwriter.cancel_doc()
            raise
        perdocwriter.finish_doc()
        self._added = True
        self.docnum += 1

    def _add_words(self, name: str, docnum: int, words: list[str]) -> int:
        terms = self._terms[name]
        for word, freq in Counter(words).items():
            terms[word].append((docnum, freq))
        return len(words)

    def _add_pairs(self, name: str, docnum: int, words: list[str]) -> int:
        if len(words) < 2:
            return 0
        found = list(map(pair, words, words[1:]))
        terms = self._terms[name]
        # Each pair's last position; a pair that occurs more than once gets all of them.
        last = dict(zip(found, count(), strict=False))
        if len(last) == len(found):
            for text, position in last.items():
                terms[text].append((docnum, position))
        else:
            every: dict[str, list[int]] = {}
            for position, text in enumerate(found):
                every.setdefault(text, []).append(position)
            for text, positions in every.items():
                terms[text].append((docnum, positions[0] if len(positions) == 1 else positions))
        return len(found)

    # --- writing the segment -------------------------------------------------------------

    def _flush_segment(self) -> None:
        self.perdocwriter.close()
        fieldwriter = self.fieldwriter
        schema = self.schema
        for name in sorted({*self._terms, *self._other}):
            field = schema[name]
            lengths = self._length_bytes.get(name, {})
            if name in self._terms:
                postings = self._terms[name]
                if not postings:
                    continue
                fieldwriter.start_field(name, field)
                self._write_terms(fieldwriter, postings, self._value_encoder(self._fast[name]))
            else:
                postings = self._other[name]
                if not postings:
                    continue
                fieldwriter.start_field(name, field)
                for tbytes in sorted(postings):
                    fieldwriter.start_term(tbytes)
                    for docnum, weight, value in postings[tbytes]:
                        lb = lengths.get(docnum, 0)
                        fieldwriter.add(docnum, weight, value, byte_to_length(lb) if lb else 0)
                    fieldwriter.finish_term()
            fieldwriter.finish_field()
        fieldwriter.close()
        self._terms.clear()
        self._other.clear()

    def _write_terms(self, fieldwriter, postings: dict, encode) -> None:
        """Every term of the current field, in order. A list shorter than the codec's inline
        limit (most pairs occur in one article) is packed here into the term entry, the
        bytes W3TermInfo.to_bytes and OrderedHashWriter.add would write; longer ones go
        through Whoosh's postings writer, which cuts them into blocks."""
        lengths = self._length_bytes.get(fieldwriter._fieldname, {})
        limit = fieldwriter._codec._inlinelimit
        tindex = fieldwriter._tindex
        prefix = pack_ushort(fieldwriter._fieldid)
        dbfile, hashfn, buckets = tindex.dbfile, tindex.hashfn, tindex.buckets
        write, tell, index_append = dbfile.write, dbfile.tell, tindex.index.append
        lastkey = tindex.lastkey
        for text in sorted(postings):
            found = postings[text]
            btext = text.encode("utf-8")
            if len(found) >= limit:
                tindex.lastkey = lastkey
                fieldwriter.start_term(btext)
                add = fieldwriter._postwriter.add_posting
                for docnum, item in found:
                    weight, value = encode(item)
                    lb = lengths.get(docnum, 0)
                    add(docnum, weight, value, byte_to_length(lb) if lb else 0)
                fieldwriter.finish_term()
                lastkey = tindex.lastkey
                continue
            ids, weights, values = [], [], []
            total = maxweight = 0.0
            minlb, maxlb = None, 0
            for docnum, item in found:
                weight, value = encode(item)
                ids.append(docnum)
                weights.append(weight)
                values.append(value)
                total += weight
                if weight > maxweight:
                    maxweight = weight
                lb = lengths.get(docnum, 0)
                if lb:
                    if minlb is None or lb < minlb:
                        minlb = lb
                    if lb > maxlb:
                        maxlb = lb
            head = _TERMINFO.pack(1, total, len(ids), minlb or 0, maxlb, maxweight, ids[0], ids[-1])
            entry = head + dumps((tuple(ids), tuple(weights), tuple(values)), 2)
            key = lastkey = prefix + btext
            pos = tell()
            index_append(pos)
            write(_HASH_LENGTHS.pack(len(key), len(entry)) + key + entry)
            h = hashfn(key)
            buckets[h & 255].append((h, pos))
        tindex.lastkey = lastkey

    @staticmethod
    def _value_encoder(kind: str):
        if kind == "words":
            # Frequency: weight is the frequency (field boost 1.0), the value its uint.
            packed: dict[int, tuple[float, bytes]] = {}

            def encode_words(freq: int) -> tuple[float, bytes]:
                found = packed.get(freq)
                if found is None:
                    found = packed[freq] = (float(freq), _uint(freq))
                return found

            return encode_words
        single: dict[int, tuple[float, bytes]] = {}

        def encode_pairs(found) -> tuple[float, bytes]:
            if type(found) is int:
                value = single.get(found)
                if value is None:
                    value = single[found] = (1.0, _uint(1) + dumps([found], 2))
                return value
            return float(len(found)), _encoded_positions(found)

        return encode_pairs


assert _INT_SIZE == 4  # the value layout above is Whoosh's, with 4-byte counts
