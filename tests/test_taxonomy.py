"""Tags and categories come from one get-or-create (microsite/content/taxonomy.py)."""

from sqlalchemy import func, select

from microsite.content import taxonomy
from microsite.content.models import Category, Tag
from microsite.extensions import db
from tests.support.sql import statements


def test_tags_keep_their_order_drop_repeats_and_reuse_existing_ones(app):
    old = Tag(name="防控")
    db.session.add(old)
    db.session.commit()

    found = taxonomy.tags(["疫情", "防控", "疫情", "基层"])

    assert [t.name for t in found] == ["疫情", "防控", "基层"]
    assert found[1] is old
    assert [taxonomy.is_new(t) for t in found] == [True, False, True]
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Tag)) == 3


def test_tags_look_up_every_name_in_one_query(app):
    db.session.add_all([Tag(name="甲"), Tag(name="乙")])
    db.session.commit()
    selects = [s for s, _ in statements(app, lambda: taxonomy.tags(["甲", "乙", "丙"]))]
    assert len([s for s in selects if s.lstrip().upper().startswith("SELECT")]) == 1
    assert taxonomy.tags([]) == []


def test_a_category_is_found_by_slug_then_by_name_or_made_with_its_name_as_slug(app):
    news = Category(name="新闻", slug="news")
    db.session.add(news)
    db.session.commit()

    assert taxonomy.category("别的名字", slug="news") is news
    assert taxonomy.category("新闻") is news
    made = taxonomy.category("评论")
    assert taxonomy.is_new(made) and made.slug == "评论"
    assert taxonomy.category("评论") is made
    db.session.commit()
    assert not taxonomy.is_new(made)
