"""The rebuild's bulk writer writes the index Whoosh's own writer writes, byte for byte.

Both writers index the same documents into two fresh indexes; every term entry (its
statistics and, for short lists, the postings inlined in it), every posting block, every
stored field, field length and date column must be equal. The documents cover what varies:
folding, stop words, a pair that repeats in one text, empty and one-word fields, Latin and
digits, and words common enough to fill several 128-posting blocks.
"""

from __future__ import annotations

import io
import pickle
import random
import struct
import zlib
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
import rjieba
from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import W3TermInfo
from whoosh.writing import SegmentWriter

from microsite.search import analyzer, bulk, index
from microsite.search.codec import InliningCodec

WORDS = [
    "社区", "防控", "网格员", "核酸检测", "学校", "老师", "学生", "工作", "的", "了",
    "經濟", "市場", "醫院", "ＡＢＣ", "abc-123", "2022", "年", "栗艳萍",
]  # fmt: skip
TEXTS = [
    "“社區防控”工作，ＡＢＣ-123 做了核酸檢測…栗艳萍说：好！",
    "学校老师学校老师学校老师",  # a pair three times in one text
    "社区的工作很细。",
    "",
    "的",
    "一",
    "中华人民共和国国务院",
    "Hello, World! hello world 123 ４５６",
    "💥 <script> 社区 🙂",
]


def _documents(count: int) -> list[dict]:
    rng = random.Random(16)
    docs = []
    for n in range(count):
        body = TEXTS[n] if n < len(TEXTS) else "".join(rng.choices(WORDS, k=rng.randint(0, 60)))
        title = "".join(rng.choices(WORDS, k=rng.randint(0, 4)))
        article = SimpleNamespace(
            id=n + 1,
            title=title,
            body=f"<p>{body}</p>",
            tags=[SimpleNamespace(name=w) for w in rng.sample(WORDS, rng.randint(0, 2))],
            category=SimpleNamespace(name=rng.choice(WORDS)) if n % 3 else None,
            published_at=datetime(2022, 1, 1) + timedelta(hours=n),
        )
        docs.append(index.document(article))
    return docs


def _build(where, docs, writer_class):
    where.mkdir()
    ix = whoosh_index.create_in(str(where), index.make_schema())
    writer = writer_class(ix, codec=InliningCodec())
    for doc in docs:
        writer.add_document(**doc)
    writer.commit(merge=False)
    return index.open_generation(where)


def _blocks(postfile, info) -> list:
    """(block info, decoded block data) of each stored block of a long posting list."""
    offset, length = info.extent()
    if isinstance(length, tuple):  # W3TermInfo.from_bytes leaves it unpacked
        (length,) = length
    raw = postfile.get(offset, length)
    assert raw[:4] == b"W3Bl"
    found, at = [], 4
    while at < len(raw):
        (size,) = struct.unpack("!i", raw[at : at + 4])
        stream = io.BytesIO(raw[at + 4 : at + 4 + abs(size)])
        head = pickle.Unpickler(stream).load()
        data = pickle.loads(zlib.decompress(stream.read()))
        found.append((size < 0, head, data))
        at += 4 + abs(size)
    return found


def _contents(ix) -> dict:
    """Everything a reader can see of a one-segment index, raw bytes where there are any."""
    with ix.reader() as reader:
        terms = reader._terms
        found = {"docs": reader.doc_count_all()}
        for fieldname, text in reader.all_terms():
            info = reader.term_info(fieldname, text)
            raw = terms._tindex[terms._keycoder(fieldname, text)]
            # The entry's statistics as stored; the postings as a reader decodes them (the
            # pickles may differ where one writer shares a bytes object the other repeats).
            stats = raw[: W3TermInfo._struct.size]
            matcher = reader.postings(fieldname, text)
            postings = []
            while matcher.is_active():
                postings.append((matcher.id(), matcher.weight(), matcher.value()))
                matcher.next()
            blocks = None if info.is_inlined() else _blocks(terms._postfile, info)
            found[(fieldname, text)] = (stats, info.is_inlined(), postings, blocks)
        for fieldname in reader.indexed_field_names():
            if not reader.schema[fieldname].scorable:
                continue  # no lengths kept
            found[("length", fieldname)] = (
                reader.field_length(fieldname),
                reader.min_field_length(fieldname),
                reader.max_field_length(fieldname),
                [reader.doc_field_length(d, fieldname) for d in range(reader.doc_count_all())],
            )
        found["stored"] = list(reader.iter_docs())
        dates = reader.column_reader("published_at", translate=False)
        found["dates"] = [dates[d] for d in range(reader.doc_count_all())]
    return found


@pytest.mark.parametrize("count", [len(TEXTS), 400])
def test_the_bulk_writer_writes_what_whoosh_writes(tmp_path, count):
    docs = _documents(count)
    expected = _contents(_build(tmp_path / "whoosh", docs, SegmentWriter))
    found = _contents(_build(tmp_path / "bulk", docs, bulk.BulkWriter))
    assert found.keys() == expected.keys()
    for key, value in expected.items():
        assert found[key] == value, key
    if count > 128:
        # The corpus does exercise multi-block lists (not only inlined entries).
        longest = max(
            len(v[2]) for k, v in expected.items() if isinstance(k, tuple) and k[0] != "length"
        )
        assert longest > 128


def test_index_words_are_the_analyzers_words():
    texts = [*TEXTS, *("".join(random.Random(n).choices(WORDS, k=40)) for n in range(50))]
    for text in texts:
        assert bulk.index_words(text) == analyzer.words(text)
        folded = analyzer.fold(text)
        tokens = [word for word, _, _ in rjieba.tokenize(folded, mode="search")]
        assert rjieba.cut_for_search(folded) == tokens
