"""Search over the seed: finding words inside sentences, highlighting, masking, paging, the
index following the database, and what readers see when there is no index."""

from __future__ import annotations

from datetime import datetime

import pytest
from bs4 import BeautifulSoup

from microsite import search
from microsite.content.listings import ranked_related_ids
from microsite.content.models import CLEARED, DRAFT, MaskedWord
from microsite.extensions import db
from microsite.text import local_now
from tests.support.factories import add_article
from tests.support.search import hit_ids, marks, results, whoosh_only


@pytest.mark.parametrize("word", ["疫情防控", "网格员", "核酸检测", "栗艳萍", "张青梅"])
def test_seed_words_find_the_seed_first_with_the_hit_marked(reader, seed_id, word):
    page = results(reader, word)
    assert hit_ids(page)[0] == seed_id
    first = page.select_one(".search-hit")
    assert word in marks(first.select_one(".search-hit__snippet"))


def test_result_shows_title_date_category_and_count(reader, seed_id):
    page = results(reader, "网格员")
    hit = page.select_one(".search-hit")
    assert hit.select_one(".search-hit__title").get_text() == "拉紧基层疫情防控警戒线"
    assert hit.select_one("time").get_text() == "2022年09月02日"
    assert "人力资讯" in hit.select_one(".search-hit__meta").get_text()
    assert page.select_one(".search-summary strong").get_text() == "1"
    assert page.select_one("#site-search")["value"] == "网格员"


def test_title_words_are_marked_in_the_title(reader, seed_id):
    title = results(reader, "疫情防控").select_one(".search-hit__title")
    assert marks(title) == ["疫情防控"]


def test_snippet_is_a_short_fragment_around_the_hit(reader, seed_id):
    snippet = results(reader, "栗艳萍").select_one(".search-hit__snippet")
    text = snippet.get_text()
    assert len(text) < 160
    assert text.startswith("…") and text.endswith("…")


def test_part_of_a_word_does_not_light_up_alone(reader, seed_id):
    # 网格员 is 网格 + 员: the 网格 of 网格群 and 网格化 is not what the reader asked for.
    snippet = results(reader, "网格员").select_one(".search-hit__snippet")
    assert set(marks(snippet)) == {"网格员"}


def test_traditional_and_full_width_queries_fold(reader, seed_id):
    assert seed_id in hit_ids(results(reader, "社區", sort="date"))
    assert hit_ids(results(reader, "網格員"))[0] == seed_id
    page = results(reader, "核酸檢測")
    assert hit_ids(page) == [seed_id]
    # The mark shows the stored (simplified) characters.
    assert marks(page.select_one(".search-hit__snippet")) == ["核酸检测"]


def test_quoted_phrase_and_words_apart(reader, seed_id):
    assert hit_ids(results(reader, '"核酸检测"')) == [seed_id]
    assert hit_ids(results(reader, "“核酸检测”")) == [seed_id]
    # Both words are in the seed, but never side by side.
    assert hit_ids(results(reader, '"栗艳萍网格员"')) == []
    assert hit_ids(results(reader, "栗艳萍 网格员")) == [seed_id]


def test_or_finds_either(reader, seed_id):
    either = hit_ids(results(reader, "孟晓娟 OR 拔河"))
    assert seed_id in either and len(either) == 2
    assert hit_ids(results(reader, "孟晓娟 拔河")) == []


def test_masked_words_never_show_in_titles_or_snippets(client, indexed):
    db.session.add_all([MaskedWord(word="网格员"), MaskedWord(word="警戒线")])
    db.session.commit()
    page = results(client, "孟晓娟")
    hit = page.select_one(".search-hit")
    assert hit.select_one(".search-hit__title").get_text() == "拉紧基层疫情防控***"
    snippet = hit.select_one(".search-hit__snippet")
    assert "网格员" not in snippet.get_text() and "***孟晓娟" in snippet.get_text()
    assert marks(snippet) == ["孟晓娟"]


def test_no_results_suggest_what_to_try(reader, seed_id):
    page = results(reader, "社区拔河网格员")
    assert hit_ids(page) == []
    assert "没有找到" in page.select_one(".search-empty").get_text()
    tips = {a.get_text(): a["href"] for a in page.select(".search-tips a")}
    assert "社区 拔河 网格员" in tips
    # The suggestion is a working search.
    assert hit_ids(results(reader, "社区 网格员")) == [seed_id]


@pytest.mark.parametrize("q", ["", "   ", "\t"])
def test_empty_query_is_a_friendly_prompt(reader, seed_id, q):
    page = results(reader, q)
    assert "请输入要搜索的词" in page.select_one(".search-prompt").get_text()
    assert page.select_one(".search-results") is None


@pytest.mark.parametrize("q", ["的", "AND OR", "*:()[]{}", "！？。，", "\x01\x02\x1f"])
def test_nothing_searchable_says_so(reader, seed_id, q):
    page = results(reader, q)
    assert page.select_one(".search-prompt")


def test_words_only_in_cleared_or_draft_articles_find_nothing(client, indexed):
    add_article("蓝莓果酱的草稿", "<p>蓝莓果酱</p>", status=DRAFT)
    add_article(
        "蓝莓果酱已清空", "<p>蓝莓果酱</p>", status=CLEARED, cleared_at=datetime(2024, 1, 1)
    )
    assert hit_ids(results(client, "蓝莓果酱")) == []


def test_an_edit_is_searchable_right_after_the_commit(client, indexed):
    indexed.body += "<p>芒果布丁的新段落</p>"
    db.session.commit()
    assert hit_ids(results(client, "芒果布丁")) == [indexed.id]
    indexed.body = indexed.body.replace("栗艳萍", "某主任")
    db.session.commit()
    assert hit_ids(results(client, "栗艳萍")) == []


def test_clearing_removes_at_once_and_restoring_brings_back(client, indexed):
    indexed.status, indexed.cleared_at = CLEARED, local_now()
    db.session.commit()
    assert hit_ids(results(client, "网格员")) == []
    indexed.status, indexed.cleared_at = "published", None
    db.session.commit()
    assert hit_ids(results(client, "网格员")) == [indexed.id]


def test_deleting_removes_and_a_rollback_changes_nothing(client, indexed):
    article = add_article("樱桃番茄", "<p>樱桃番茄</p>")
    assert hit_ids(results(client, "樱桃番茄")) == [article.id]
    article.title = "火龙果"
    db.session.flush()
    db.session.rollback()
    assert hit_ids(results(client, "火龙果")) == []
    db.session.delete(db.session.get(type(article), article.id))
    db.session.commit()
    assert hit_ids(results(client, "樱桃番茄")) == []


def test_sort_by_date_and_click_to_load_pages(client, indexed):
    add_article("社区新闻一", "", published_at=datetime(2030, 1, 1))
    add_article("社区新闻二", "", published_at=datetime(2031, 1, 1))
    first = results(client, "社区", sort="date")
    titles = [a.get_text() for a in first.select(".search-hit__title")]
    assert titles[:2] == ["社区新闻二", "社区新闻一"]
    total = int(first.select_one(".search-summary strong").get_text())
    assert total == 35 and len(hit_ids(first)) == 10
    seen, url, pages = hit_ids(first), first.select_one("li.more a")["href"], 1
    while url:
        assert "sort=date" in url
        response = client.get(url, headers={"HX-Request": "true"})
        assert "HX-Request" in response.vary
        rows = BeautifulSoup(response.get_data(as_text=True), "html.parser")
        assert rows.select_one("html, h1") is None
        numbers = [int(li["value"]) for li in rows.select("li.search-hit")]
        assert numbers[0] == len(seen) + 1
        seen += hit_ids(rows)
        more = rows.select_one("li.more a")
        url, pages = (more["href"] if more else None), pages + 1
    assert pages == 4 and len(seen) == len(set(seen)) == total


def test_fragment_for_htmx_full_page_otherwise(reader, seed_id):
    fragment = reader.get("/search?q=网格员", headers={"HX-Request": "true"})
    assert "HX-Request" in fragment.vary
    page = BeautifulSoup(fragment.get_data(as_text=True), "html.parser")
    assert page.select_one("html") is None
    assert page.select_one("title").get_text().startswith("“网格员”的搜索结果")
    assert hit_ids(page) == [seed_id]
    full = reader.get("/search?q=网格员")
    assert "HX-Request" in full.vary
    assert BeautifulSoup(full.get_data(as_text=True), "html.parser").select_one("main .search")


def test_page_past_the_end_is_404_and_bad_page_400(reader, seed_id):
    assert reader.get("/search?q=网格员&page=2").status_code == 404
    assert reader.get("/search?q=社区&page=101").status_code == 404  # at most 100 pages
    assert reader.get("/search?q=网格员&page=x").status_code == 400
    assert reader.get("/search?q=网格员&sort=nonsense").status_code == 200


def test_search_form_works_without_javascript(reader, seed_id):
    page = BeautifulSoup(reader.get("/").get_data(as_text=True), "html.parser")
    form = page.select_one("header form[role=search]")
    assert form["action"] == "/search" and form["method"] == "get"
    assert form.select_one("input[name=q]") and form.select_one("button[type=submit]")
    assert form["hx-get"] == "/search" and "input changed delay:300ms" in form["hx-trigger"]
    assert form["hx-push-url"] == "true" and form["hx-sync"].endswith(":replace")
    assert page.select_one(form["hx-indicator"])


@whoosh_only
def test_without_an_index_search_says_so_and_the_site_still_serves(client, seeded):
    response = client.get("/search?q=网格员")
    assert response.status_code == 503
    page = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    assert "搜索暂不可用" in page.select_one(".search-unavailable").get_text()
    assert page.select_one("header .brand")  # the site's own page, not a bare error
    htmx = client.get("/search?q=网格员", headers={"HX-Request": "true"})
    assert htmx.status_code == 200 and "搜索暂不可用" in htmx.get_data(as_text=True)
    assert client.get(f"/articles/{seeded.id}").status_code == 200
    assert ranked_related_ids(seeded, 10) == []


@whoosh_only
def test_an_unreadable_index_is_unavailable_not_an_error(app, client, seeded, tmp_path):
    home = tmp_path / "index"
    (home / "gen-broken").mkdir(parents=True)
    (home / "gen-broken" / "_MAIN_1.toc").write_bytes(b"not an index")
    (home / "current").symlink_to("gen-broken")
    assert search.status()["status"] == "unreadable"
    assert client.get("/search?q=网格员").status_code == 503
    # Saving an article with a broken index still saves it.
    add_article("坏索引时保存", "<p>正文</p>")
    search.rebuild()
    assert hit_ids(results(client, "坏索引时保存"))


@whoosh_only
def test_related_ranking_is_more_like_this_kept_per_version_and_rebuild(indexed, monkeypatch):
    from microsite.search import related_store
    from microsite.search import results as search_results

    add_article("社区防控网格员走访", "<p>社区网格员排查疫情防控</p>")
    draft = add_article("社区网格员草稿", "<p>社区网格员</p>", status=DRAFT)
    calls = []
    real = search_results._similar
    monkeypatch.setattr(search_results, "_similar", lambda *a: calls.append(1) or real(*a))
    ids = ranked_related_ids(indexed, 10)
    assert ids and indexed.id not in ids and draft.id not in ids
    assert ranked_related_ids(indexed, 10) == ids and len(calls) == 1
    # Another article's change does not move this one's neighbours enough to pay ~100 ms
    # again: the answer stays (on disk, so every worker of the host shares it).
    add_article("another change", "<p>x</p>")
    assert ranked_related_ids(indexed, 10) == ids and len(calls) == 1
    indexed.body += "<p>社区网格员</p>"  # its own edit asks again
    db.session.commit()
    ranked_related_ids(indexed, 10)
    assert len(calls) == 2
    search.rebuild()  # so does a new index generation
    ranked_related_ids(indexed, 10)
    assert len(calls) == 3
    monkeypatch.setattr(related_store, "MAX_AGE", 0)  # and an answer past its age
    add_article("yet another change", "<p>y</p>")
    ranked_related_ids(indexed, 10)
    assert len(calls) == 4


@whoosh_only
def test_reindex_command_swaps_in_a_new_generation(runner, indexed, tmp_path):
    before = (tmp_path / "index" / "current").resolve()
    result = runner.invoke(args=["reindex"])
    assert result.exit_code == 0, result.output
    assert "搜索索引已重建：96 篇文章" in result.output
    after = (tmp_path / "index" / "current").resolve()
    assert after != before and after.parent == before.parent
    assert search.status() | {"generation": None} == {
        "status": "ok",
        "documents": 96,
        "generation": None,
    }


def test_search_keeps_answering_while_the_index_is_rebuilt(app, client, indexed):
    import threading

    failures = []

    def rebuild_three_times():
        with app.app_context():
            for _ in range(3):
                search.rebuild()
            db.session.remove()

    worker = threading.Thread(target=rebuild_three_times)
    worker.start()
    while worker.is_alive():
        response = client.get("/search?q=网格员")
        if response.status_code != 200:
            failures.append(response.status_code)
    worker.join()
    assert failures == []
    assert hit_ids(results(client, "网格员")) == [indexed.id]


def test_commits_during_a_rebuild_are_not_lost(app, client, indexed):
    import threading

    def rebuild_twice():
        with app.app_context():
            search.rebuild()
            search.rebuild()
            db.session.remove()

    worker = threading.Thread(target=rebuild_twice)
    worker.start()
    added = []
    while worker.is_alive() or len(added) < 3:
        added.append(add_article(f"重建期间 {len(added)}", f"<p>重建期间保存 rb{len(added)}</p>"))
    worker.join()
    for n, article in enumerate(added):
        assert hit_ids(results(client, f"rb{n}")) == [article.id]
    assert search.status()["documents"] == 96 + len(added)


def test_saving_a_draft_does_not_touch_the_index(indexed):
    before = search.status()["generation"]
    draft = add_article("草稿标题", "<p>草稿正文</p>", status=DRAFT)
    draft.body = "<p>改过的草稿</p>"
    db.session.commit()
    assert search.status()["generation"] == before


def test_renaming_a_category_or_tag_reindexes_its_articles(client, indexed):
    indexed.category.name = "蝴蝶兰栏目"
    indexed.tags[0].name = "郁金香标签"
    db.session.commit()
    page = results(client, "蝴蝶兰栏目")
    assert int(page.select_one(".search-summary strong").get_text()) == 96
    assert hit_ids(results(client, "郁金香标签")) == [indexed.id]


def test_rebuild_with_two_indexing_processes(client, seeded):
    assert search.rebuild(procs=2) == 96
    assert hit_ids(results(client, "网格员")) == [seeded.id]
    assert search.status()["documents"] == 96


def test_a_long_phrase_finds_only_articles_where_its_words_stand_together(client, indexed):
    # 学校老师学生 is three words: its pairs 学校老师 and 老师学生 both occur in the second
    # article, but apart; an AND of the pairs would count it too.
    together = add_article("学校老师学生座谈", "<p>学校老师学生一起座谈。</p>")
    apart = add_article("学校老师很好", "<p>学校老师很好，老师学生也好。</p>")
    page = results(client, "学校老师学生")
    assert hit_ids(page) == [together.id]
    assert page.select_one(".search-summary strong").get_text() == "1"
    assert apart.id in hit_ids(results(client, "学校老师"))
    assert apart.id in hit_ids(results(client, '"老师学生"'))


def test_a_phrase_of_two_words_needs_them_side_by_side(client, indexed):
    # Both words in one article but apart (飞走 and a stop word between them) is no match;
    # neither is the reverse order. A phrase is its pairs at consecutive positions.
    together = add_article("蝴蝶标本展", "<p>蝴蝶标本很美。</p>")
    apart = add_article("标本留下", "<p>蝴蝶飞走了，标本留下。</p>")
    reverse = add_article("标本蝴蝶", "<p>一只标本蝴蝶。</p>")
    page = results(client, '"蝴蝶标本"')
    assert hit_ids(page) == [together.id]
    assert page.select_one(".search-summary strong").get_text() == "1"
    assert set(hit_ids(results(client, "蝴蝶 标本"))) == {together.id, apart.id, reverse.id}


def test_a_two_word_phrase_skips_stop_words_as_before(client, indexed):
    found = add_article("社区走访", "<p>社区的工作很细。</p>")
    assert found.id in hit_ids(results(client, "社区工作", sort="date"))
    assert found.id not in hit_ids(results(client, "工作社区", sort="date"))


@whoosh_only
def test_an_index_built_with_an_older_schema_asks_for_reindex(app, client, indexed):
    # An index from before the pair fields answers every phrase with nothing: it must be
    # reported as needing a rebuild, not searched.
    from microsite.search import index

    where = index.live_dir(search.state().home)
    (where / index.VERSION_FILE).unlink()
    state = search.status()
    assert state["status"] == "outdated" and "reindex" in state["message"]
    assert client.get("/search?q=网格员").status_code == 503
    search.rebuild()
    assert search.status()["status"] == "ok"
    assert hit_ids(results(client, "网格员"))


@whoosh_only
def test_repeated_searches_are_answered_from_the_generation_cache(client, indexed, monkeypatch):
    from microsite.search.backends import whoosh as whoosh_backend

    calls = []
    real = whoosh_backend.search_page

    def counted(*args, **kwargs):
        calls.append(args[2:])
        return real(*args, **kwargs)

    monkeypatch.setattr(whoosh_backend, "search_page", counted)
    assert hit_ids(results(client, "网格员")) == [indexed.id]
    assert hit_ids(results(client, "网格员  ")) == [indexed.id]
    assert len(calls) == 1  # the same query, the same index generation: asked once
    results(client, "网格员", sort="date")
    assert len(calls) == 2
    other = add_article("网格员的一天", "<p>网格员走访</p>")  # a commit: a new generation
    assert set(hit_ids(results(client, "网格员"))) == {indexed.id, other.id}
    assert len(calls) == 3
