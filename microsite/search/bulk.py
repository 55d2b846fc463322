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
import zlib
from array import array
from collections import Counter, defaultdict
from contextlib import contextmanager
from hashlib import md5
from itertools import accumulate
from operator import sub
from pickle import dumps

import rjieba
from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC, W3TermInfo
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
_int = struct.Struct("!i").pack
_long = struct.Struct("!q").pack
_MAGIC = WHOOSH3_HEADER_MAGIC
# Terms written per batch in _write_terms.
_CHUNK = 4096
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
            if getattr(field.format, "field_boost", None) != 1.0:
                continue
            kind = type(field.format).__name__
            if type(analyzer) is ChineseTokenizer and kind in ("Frequency", "Positions"):
                self._fast[name] = "words" if kind == "Frequency" else "positions"
            elif type(analyzer) is PairTokenizer and kind == "Positions":
                self._fast[name] = "pairs"
        # fieldname -> term -> [(docnum, frequency or positions)], docnums ascending.
        self._terms: dict[str, defaultdict] = {n: defaultdict(list) for n in self._fast}
        # fieldname -> term bytes -> [(docnum, weight, value bytes)] for the other fields.
        self._other: dict[str, defaultdict] = defaultdict(lambda: defaultdict(list))
        # fieldname -> {docnum: the field length's byte, as the length column stores it}.
        self._length_bytes: dict[str, dict[int, int]] = defaultdict(dict)
        self._last_text: tuple[str | None, list[str]] = (None, [])
        # fieldname -> the most positions one document has in it.
        self._longest: dict[str, int] = {}

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
                elif kind == "positions":
                    length = self._add_positions(name, docnum, self._words(value))
                elif kind == "pairs":
                    words = self._words(value)
                    length = self._add_positions(name, docnum, list(map(pair, words, words[1:])))
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

    def _add_positions(self, name: str, docnum: int, found: list[str]) -> int:
        terms = self._terms[name]
        # A term's position, or the list of them when it occurs more than once.
        every: dict[str, int | list[int]] = {}
        get = every.get
        for position, text in enumerate(found):
            seen = get(text)
            if seen is None:
                every[text] = position
            elif type(seen) is int:
                every[text] = [seen, position]
            else:
                seen.append(position)
        for text, positions in every.items():
            terms[text].append((docnum, positions))
        if len(found) > self._longest.get(name, 0):
            self._longest[name] = len(found)
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
        """Every term of the current field, in order, as W3FieldWriter writes them: the term
        entries (W3TermInfo.to_bytes) into the terms hash (OrderedHashWriter.add), a list
        shorter than the codec's inline limit packed into its entry (most pairs occur in
        one article), a longer one as W3PostingsWriter's blocks in the postings file. Done
        for many terms at a time, so most of the per-term work runs in C (comprehensions,
        join, accumulate) rather than in Whoosh's per-term method calls."""
        lengths = bytearray(self.docnum - self.docbase)
        for docnum, lb in self._length_bytes.get(fieldwriter._fieldname, {}).items():
            lengths[docnum - self.docbase] = lb
        limit = fieldwriter._codec._inlinelimit
        blocklimit = fieldwriter._codec._blocklimit
        compression = fieldwriter._codec._compression
        fixed = fieldwriter._format.fixed_value_size()
        tindex = fieldwriter._tindex
        postfile = fieldwriter._postfile
        prefix = pack_ushort(fieldwriter._fieldid)
        dbfile, buckets = tindex.dbfile, tindex.buckets
        singles = None
        if self._fast[fieldwriter._fieldname] != "words":
            longest = self._longest.get(fieldwriter._fieldname, 0)
            singles = [_uint(1) + dumps([p], 2) for p in range(longest)]
        terms = sorted(postings)
        for start in range(0, len(terms), _CHUNK):
            chunk = terms[start : start + _CHUNK]
            keys = [prefix + text.encode("utf-8") for text in chunk]
            entries = []
            for text in chunk:
                found = postings[text]
                if len(found) == 1:
                    docnum, item = found[0]
                    weight, value = encode(item)
                    lb = lengths[docnum]
                    entries.append(
                        _TERMINFO.pack(1, weight, 1, lb, lb, weight, docnum, docnum)
                        + dumps(((docnum,), (weight,), (value,)), 2)
                    )
                elif len(found) < limit:
                    entries.append(_inlined_entry(found, encode, lengths))
                else:
                    ids = [docnum for docnum, _ in found]
                    if singles is None:
                        encoded = [encode(item) for _, item in found]
                        weights = [weight for weight, _ in encoded]
                        values = [value for _, value in encoded]
                    else:  # positions: the same values as encode, without a call each
                        items = [item for _, item in found]
                        values = [
                            singles[i] if type(i) is int else _encoded_positions(i) for i in items
                        ]
                        weights = [1.0 if type(i) is int else float(len(i)) for i in items]
                    entries.append(
                        _blocks_entry(
                            postfile,
                            ids,
                            weights,
                            values,
                            [lengths[docnum] for docnum in ids],
                            blocklimit,
                            compression,
                            fixed,
                        )
                    )
            records = [
                _HASH_LENGTHS.pack(len(key), len(entry)) + key + entry
                for key, entry in zip(keys, entries, strict=True)
            ]
            first = dbfile.tell()
            positions = list(accumulate(map(len, records[:-1]), initial=first))
            _extend_index(tindex.index, positions)
            dbfile.write(b"".join(records))
            for key, pos in zip(keys, positions, strict=True):
                h = int.from_bytes(md5(key, usedforsecurity=False).digest()[12:], "big")
                buckets[h & 255].append((h, pos))
            tindex.lastkey = keys[-1]

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

        def encode_positions(found) -> tuple[float, bytes]:
            if type(found) is int:
                value = single.get(found)
                if value is None:
                    value = single[found] = (1.0, _uint(1) + dumps([found], 2))
                return value
            return float(len(found)), _encoded_positions(found)

        return encode_positions


def _extend_index(index, positions: list[int]) -> None:
    # GrowableArray.append for many positions at once: widened first if the last needs it.
    try:
        index.array.extend(array(index.array.typecode, positions))
    except OverflowError:
        index._retype(positions[-1])
        index.array.extend(array(index.array.typecode, positions))


def _inlined_entry(found, encode, lengths) -> bytes:
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
        lb = lengths[docnum]
        if lb:
            if minlb is None or lb < minlb:
                minlb = lb
            if lb > maxlb:
                maxlb = lb
    head = _TERMINFO.pack(1, total, len(ids), minlb or 0, maxlb, maxweight, ids[0], ids[-1])
    return head + dumps((tuple(ids), tuple(weights), tuple(values)), 2)


def _blocks_entry(postfile, ids, weights, values, lbs, blocklimit, compression, fixed) -> bytes:
    """A long posting list written as W3PostingsWriter writes it (the magic, then blocks of
    `blocklimit` postings: length, info pickle, compressed data pickle; the last block's
    length negative); returns its term entry, pointing at the blocks. lbs: each posting's
    field-length byte."""
    startoffset = postfile.tell()
    out = [_MAGIC]
    total = maxweight = 0.0
    minlb, maxlb = None, 0
    count_all = len(ids)
    for begin in range(0, count_all, blocklimit):
        end = begin + blocklimit
        bids, bweights, bvalues, blbs = (
            ids[begin:end],
            weights[begin:end],
            values[begin:end],
            lbs[begin:end],
        )
        size = len(bids)
        # Whoosh's weights pass through an array("f"): whole frequencies survive unchanged.
        block_max = max(bweights)
        block_max = block_max if block_max > 0 else 0
        block_min_lb = min(blbs)
        if not block_min_lb:
            block_min_lb = min((lb for lb in blbs if lb), default=0)
        block_max_lb = max(blbs)
        if bweights.count(1.0) == size:
            mini_weights = None
        elif bweights.count(bweights[0]) == size:
            mini_weights = bweights[0]
        else:
            mini_weights = tuple(bweights)
        if fixed is None or fixed < 0:
            mini_values = tuple(bvalues)
        elif fixed == 0:
            mini_values = None
        else:
            mini_values = b"".join(bvalues)
        deltas = tuple(map(sub, bids, [0, *bids[:-1]]))
        data = dumps((deltas, mini_weights, mini_values), 2)
        if compression:
            data = zlib.compress(data, compression)
        info = dumps((size, bids[-1], block_max, compression, block_min_lb, block_max_lb), 2)
        length = len(info) + len(data)
        out.append(_int(-length if end >= count_all else length) + info + data)
        total += sum(bweights)
        if block_max > maxweight:
            maxweight = block_max
        if block_min_lb and (minlb is None or block_min_lb < minlb):
            minlb = block_min_lb
        if block_max_lb > maxlb:
            maxlb = block_max_lb
    written = b"".join(out)
    postfile.write(written)
    head = _TERMINFO.pack(0, total, count_all, minlb or 0, maxlb, maxweight, ids[0], ids[-1])
    return head + _long(startoffset) + _int(len(written))


assert _INT_SIZE == 4  # the value layout above is Whoosh's, with 4-byte counts
