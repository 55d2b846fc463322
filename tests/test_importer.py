"""The seed importer: fields, order, cleared timestamps, idempotence, malformed input."""

from datetime import datetime

import pytest
from sqlalchemy import func, select

from microsite.content.importer import PageFormatError, parse_page, store_page
from microsite.content.models import CLEARED, PUBLISHED, Article, RelatedLink, Setting, Tag, User
from microsite.content.site import site_settings
from microsite.extensions import db
from tests.support.app import CLEARED_IN_SEED, SEED_TEXT, SEED_TITLE


def related_targets(article):
    query = (
        select(Article)
        .join(RelatedLink, RelatedLink.target_id == Article.id)
        .where(RelatedLink.article_id == article.id)
        .order_by(RelatedLink.position)
    )
    return list(db.session.scalars(query))


def test_parse_reads_every_element_of_the_seed():
    page = parse_page(SEED_TEXT)
    assert page.hotline == "0755-8882 8155"
    assert page.title == SEED_TITLE
    assert (page.display_name, page.username) == ("Admin", "admin")
    assert page.published_at == datetime(2022, 9, 2)
    assert page.footer_links == [
        "关于我们",
        "加入我们",
        "人力资讯TOP500",
        "网站地图",
        "临时工招聘信息",
        "兼职招聘信息",
    ]
    assert page.keywords == [
        "劳务派遣",
        "深圳劳务派遣公司",
        "劳务派遣公司",
        "深圳临时工派遣公司",
        "深圳临时工派遣中介",
    ]
    assert page.disclaimer.startswith("本文章内容来源于网络公开内容")
    assert len(page.headlines) == 100
    assert page.reporters == "(张谦 李家鸣 郑娜)"
    assert page.paragraphs[-1].endswith("是母女俩主动发来的微信语音:已到,挺好,感谢。")


def test_store_keeps_article_settings_and_headlines(app, seeded):
    article = seeded
    assert article.title == SEED_TITLE
    assert article.author.byline == "Admin - admin"
    assert article.published_at == datetime(2022, 9, 2)
    assert article.body.count("<h2>") == 3
    assert "<h2>严排严查 疫情防控有“术”</h2>" in article.body
    assert "<h2>群策群力 摸排宣传得力</h2>" in article.body
    assert "<h2>真心诚意 换来温暖回应</h2>" in article.body
    assert "(张谦 李家鸣 郑娜)" in article.body
    assert (
        article.source_note == "本文章内容来源于网络公开内容,仅供参考!不对文章内容时效、真实性负责"
    )
    assert [t.name for t in article.tags] == sorted(parse_page(SEED_TEXT).keywords)

    settings = site_settings()
    assert settings["hotline"] == "0755-8882 8155"
    labels = [link["label"] for link in settings["footer_links"]]
    assert labels[:4] == ["关于我们", "加入我们", "人力资讯TOP500", "网站地图"]
    assert settings["keyword_links"][0] == "劳务派遣"


def test_headlines_keep_order_and_exact_cleared_timestamps(app, seeded):
    targets = related_targets(seeded)
    assert len(targets) == 100
    assert targets[0].title == "中国少年先锋队烟台市芝罘区第五次代表大会召开图"
    assert targets[99].title.startswith("东山街道海岸路社区烟台银行社工筑情")
    cleared = {
        n: t.cleared_at.strftime("%Y-%m-%d %H:%M:%S")
        for n, t in enumerate(targets, 1)
        if t.status == CLEARED
    }
    assert cleared == CLEARED_IN_SEED
    live = [t for t in targets if t.status == PUBLISHED]
    assert len(live) == 95
    assert all(t.body == "" for t in live)


def test_reimport_adds_nothing(app, seeded):
    def counts():
        return [
            db.session.scalar(select(func.count()).select_from(model))
            for model in (Article, RelatedLink, Tag, User, Setting)
        ]

    before = counts()
    again = store_page(parse_page(SEED_TEXT))
    assert again.id == seeded.id
    assert counts() == before


@pytest.mark.parametrize(
    ("mutate", "line", "message"),
    [
        (lambda t: t.replace("客服热线", "热线电话", 1), 1, "客服热线"),
        (lambda t: t.replace("于2022年09月02日发表", "2022-09-02", 1), 5, "byline"),
        (lambda t: t.replace("于2022年09月02日发表", "于2022年13月40日发表", 1), 5, "date"),
        (lambda t: t.replace("  3. 春耕", "  4. 春耕", 1), None, "numbered 4, not 3"),
        (lambda t: t + "\n这一行不是标题\n", None, "expected a numbered headline"),
        (lambda t: t.split("  连日来")[0], None, "ends before"),
    ],
)
def test_malformed_page_is_rejected_naming_the_line(app, mutate, line, message):
    with pytest.raises(PageFormatError) as caught:
        parse_page(mutate(SEED_TEXT))
    assert message in str(caught.value)
    if line is not None:
        assert caught.value.line_no == line


def test_malformed_file_stores_nothing(app, runner, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text(SEED_TEXT.replace("  7. ", "  70. "), encoding="utf-8")
    result = runner.invoke(args=["import-page", str(bad)])
    assert result.exit_code != 0
    assert "line " in result.output and "numbered 70, not 7" in result.output
    assert db.session.scalar(select(func.count(Article.id))) == 0
    assert db.session.scalar(select(func.count()).select_from(Setting)) == 0


def test_non_utf8_file_is_rejected_clearly(app, runner, tmp_path):
    bad = tmp_path / "gbk.txt"
    bad.write_bytes(SEED_TEXT.encode("gbk", errors="replace"))
    result = runner.invoke(args=["import-page", str(bad)])
    assert result.exit_code != 0
    assert "not UTF-8" in result.output


def test_import_command_reports_the_article(app, runner, tmp_path):
    page = tmp_path / "page.txt"
    page.write_text(SEED_TEXT, encoding="utf-8")
    result = runner.invoke(args=["import-page", str(page)])
    assert result.exit_code == 0, result.output
    assert SEED_TITLE in result.output
    assert db.session.scalar(select(func.count(Article.id))) == 101
