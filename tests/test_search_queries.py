"""The analyzer and the reader-query parser: offsets, folding, and input that never fails."""

from __future__ import annotations

import pickle
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from microsite.search import analyzer, query
from microsite.search.index import make_schema
from tests.support.search import results

SAMPLE = "“社區防控”工作，ＡＢＣ-123 做了核酸檢測…栗艳萍说：好！"


def tokens(text: str, **options):
    return [
        (t.text, t.pos, t.startchar, t.endchar)
        for t in analyzer.ChineseTokenizer()(text, positions=True, chars=True, **options)
    ]


def test_tokens_are_folded_words_with_true_offsets_and_no_gaps():
    found = tokens(SAMPLE)
    assert [t[0] for t in found] == [
        "社区", "防控", "工作", "abc", "abc-123", "做", "核酸", "检测", "栗", "艳萍", "说", "好",
    ]  # fmt: skip
    assert [t[1] for t in found] == list(range(len(found)))
    for text, _, start, end in found:
        assert analyzer.fold(SAMPLE[start:end]).lower() == text


def test_stop_words_are_dropped_but_kept_for_the_highlighter():
    assert [t[0] for t in tokens("社区的工作")] == ["社区", "工作"]
    tokenizer = analyzer.ChineseTokenizer()
    assert [(t.text, t.stopped) for t in tokenizer("社区的工作", removestops=False)] == [
        ("社区", False),
        ("的", True),
        ("工作", False),
    ]


def test_folding_keeps_every_offset():
    # NFKC of "…" is "...", of "㎡" is "m2": those stay, so the length never changes.
    for char in ("…", "㎡", "ﬁ", "½"):
        assert len(unicodedata.normalize("NFKC", char)) != 1
        assert analyzer.fold(char) == char
    assert analyzer.fold("ＡＢＣ１２３，\u3000社區網格員") == "ABC123, 社区网格员"
    table = analyzer.fold_table()
    assert all(len(value) == 1 for value in table.values())


@given(st.text(max_size=80))
def test_any_text_keeps_length_and_offsets(text):
    assert len(analyzer.fold(text)) == len(text)
    for word, _, start, end in tokens(text):
        assert 0 <= start < end <= len(text)
        assert analyzer.fold(text[start:end]).lower() == word


def test_the_analyzer_pickles_with_the_schema():
    schema = pickle.loads(pickle.dumps(make_schema()))
    assert list(schema["body"].process_text("社區工作")) == ["社区", "工作"]
    # The pair field pairs words across a stop word, as the word field's positions do.
    assert list(schema["body_pairs"].process_text("社區的工作很細")) == ["社区 工作", "工作 细"]


@pytest.mark.parametrize(
    ("raw", "groups"),
    [
        ("疫情防控", [[("疫情防控", False)]]),
        ('"核酸 检测" 社区', [[("核酸 检测", True)], [("社区", False)]]),
        ("「社区」", [[("社区", True)]]),
        ("社区 OR 网格员", [[("社区", False), ("网格员", False)]]),
        ("OR 社区 OR", [[("社区", False)]]),
        ("title:社区 AND (网格员*)", [[("title:社区", False)], [("(网格员*)", False)]]),
        ('"未闭合的引号', [[("未闭合的引号", True)]]),
        ("的 了 和", []),
    ],
)
def test_reader_input_is_text_not_syntax(raw, groups):
    parsed = query.parse(raw)
    assert [[(c.text, c.quoted) for c in group] for group in parsed.groups] == groups


def test_long_and_control_character_input_is_cut_and_cleaned():
    assert len(query.parse("社区" * 1000).text) == query.MAX_QUERY_CHARS
    assert query.parse("社\x00区\x1b网\u202e格").text == "社 区 网 格"
    assert query.parse("a " * 100).groups == ()


NASTY = st.sampled_from(
    ['"', "“", "」", "(", ")", "[", "]", "{", "}", "*", "?", ":", "~", "^", "\\", "/", "-", "+",
     "AND", "OR", "NOT", "TO", "title:", "body:", "\u3000", "\x00", "\x07", "\u202e", "\ufeff",
     "社區", "核酸检测", "的", "💥", "\ud7ff", "%", "&", "<script>", "\u0301", "'"]
)  # fmt: skip
QUERIES = st.one_of(
    st.text(max_size=60),
    st.lists(st.one_of(NASTY, st.text(max_size=6)), max_size=25).map("".join),
    st.lists(st.one_of(NASTY, st.text(max_size=6)), max_size=25).map(" ".join),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(q=QUERIES, sort=st.sampled_from(["relevance", "date", "x"]))
def test_no_query_is_ever_a_server_error(reader, q, sort):
    response = reader.get("/search", query_string={"q": q, "sort": sort})
    # NUL is refused for the whole site with a 400 page; everything else gets an answer.
    assert response.status_code == (400 if "\x00" in q else 200)


def test_a_2000_character_query_gets_an_answer(reader):
    page = results(reader, "社区网格员核酸检测" * 250)
    assert page.select_one(".search-empty, .search-results")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("中华人民共和国", ("中华人民共和国",)),  # one dictionary word: one term, not a phrase
        ("丁零零", ("丁零零",)),
        ("网格员", ("网格", "员")),  # not one word to the segmenter: its parts, in a row
        ("社区的工作", ("社区", "工作")),
    ],
)
def test_a_word_that_spans_its_parts_is_looked_up_alone(text, expected):
    assert analyzer.query_words(text) == expected


def test_a_rebuilt_index_keeps_rare_pairs_inline_and_finds_them(tmp_path):
    # Whoosh's own inlining path calls a method its term entry lacks; ours must write entries
    # that every reader decodes, and a phrase found once must still be found.
    from datetime import datetime
    from types import SimpleNamespace

    from microsite.search import index
    from microsite.search.query import parse

    article = SimpleNamespace(
        id=7, title="学校老师学生座谈", body="<p>学校老师学生一起座谈。</p>", tags=[],
        category=None, published_at=datetime(2022, 9, 2),
    )  # fmt: skip
    index.build(tmp_path, [article], 1)
    _, ix = index.open_live(tmp_path)
    with ix.searcher() as searcher:
        info = searcher.reader().term_info("body_pairs", "老师 学生")
        assert info.is_inlined()
        for q in ("学校老师学生", "老师学生", "座谈"):
            assert [hit["id"] for hit in searcher.search(parse(q).whoosh())] == ["7"]
