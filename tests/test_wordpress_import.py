"""flask import-wxr: a WordPress export moves in, its old links keep working, hostile files
store nothing."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from microsite.content.models import Article, Category, Page, Redirect, User
from microsite.content.models import Image as ImageRecord
from microsite.content.transfer import wordpress
from microsite.extensions import db
from tests.support.app import soup

FIXTURE = Path(__file__).parent / "fixtures" / "wordpress" / "export.xml"


@pytest.fixture
def media_dir(tmp_path) -> Path:
    """A copy of wp-content/uploads holding the attachment's full-size original only."""
    folder = tmp_path / "uploads"
    (folder / "2022" / "09").mkdir(parents=True)
    picture = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(picture, "JPEG")
    (folder / "2022" / "09" / "photo.jpg").write_bytes(picture.getvalue())
    return folder


@pytest.fixture
def imported(runner, media_dir):
    result = runner.invoke(
        args=["import-wxr", str(FIXTURE), "--media-dir", str(media_dir)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return result


def article_by_title(title: str) -> Article:
    return db.session.scalar(select(Article).filter_by(title=title))


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def summary_line(output: str, label: str) -> int:
    line = next(line for line in output.splitlines() if line.startswith(label))
    return int(line.split()[-1])


def test_posts_become_articles_with_paragraphs_caption_and_local_picture(client, imported):
    article = article_by_title("社保新政九月起实施")
    page = soup(client.get(f"/articles/{article.id}"))
    body = page.select_one(".article__body")
    paragraphs = [p.get_text(strip=True) for p in body.find_all("p")]
    assert "九月一日起，社保缴费基数调整，灵活就业人员也可以参加。" in paragraphs
    assert "社保服务大厅" in paragraphs  # the [caption]'s text, as its own paragraph
    assert "第一步，携带身份证到服务大厅。第二步，填写申请表。" in paragraphs  # wpautop <br>
    assert body.find("h2").get_text() == "办理流程"
    picture = body.find("img")
    assert picture["src"].startswith("/media/")
    assert picture["alt"] == "社保服务大厅里排队的市民"  # the attachment's alt text
    with client.get(picture["src"]) as served:
        assert served.status_code == 200 and served.mimetype == "image/jpeg"
    text = body.get_text()
    assert "[caption" not in text and "[gallery" not in text and "alert(1)" not in text
    assert body.find(style=True) is None and body.find(class_="mso-normal") is None
    assert "于2022年09月02日发表" in page.get_text()  # 20:00 GMT is 04:00 the next day here


def test_picture_alt_text_comes_from_the_attachment_when_the_body_has_none(imported):
    record = db.session.scalar(select(ImageRecord))
    assert record.alt == "社保服务大厅里排队的市民"
    article = article_by_title("社保新政九月起实施")
    assert 'alt="社保服务大厅里排队的市民"' in article.body


def test_categories_are_flattened_with_their_path_and_extra_ones_become_keywords(client, imported):
    article = article_by_title("社保新政九月起实施")
    assert article.category.name == "新闻 / 国内"
    assert article.category.slug == "domestic"
    assert [tag.name for tag in article.tags] == sorted(["社保", "新政", "招聘"])
    assert db.session.scalar(select(Category).filter_by(slug="招聘")).name == "招聘"
    assert client.get("/categories/domestic").status_code == 200


def test_block_editor_posts_lose_their_comments_and_keep_their_structure(client, imported):
    article = article_by_title("Job fair opens downtown")
    assert "wp:" not in article.body
    body = soup(client.get(f"/articles/{article.id}")).select_one(".article__body")
    assert body.find("strong").get_text() == "200 employers"
    assert [li.get_text() for li in body.find_all("li")] == ["免费入场", "现场面试"]
    assert body.find("img") is None  # its file was not in --media-dir


def test_missing_pictures_are_listed_and_counts_are_reported(imported):
    output = imported.output
    assert "缺失的图片：《Job fair opens downtown》: " in output
    assert "wp-content/uploads/2022/09/missing.jpg" in output
    assert summary_line(output, "新导入的文章") == 3
    assert summary_line(output, "其中草稿") == 1
    assert summary_line(output, "跳过：私密文章") == 1
    assert summary_line(output, "跳过：回收站") == 1
    assert summary_line(output, "页面") == 1
    assert summary_line(output, "导入的图片") == 1
    assert summary_line(output, "缺失的图片") == 1


def test_authors_become_bylines_that_cannot_sign_in(client, imported):
    article = article_by_title("Job fair opens downtown")
    assert article.author.byline == "小李 - xiaoli"
    for login in ("laowang", "xiaoli"):
        user = db.session.scalar(select(User).filter_by(username=login))
        assert user.role == "editor" and not user.check_password("")
    assert "小李 - xiaoli" in client.get(f"/articles/{article.id}").get_data(as_text=True)


def test_drafts_stay_drafts_and_private_or_trashed_posts_are_not_imported(client, imported):
    draft = article_by_title("草稿：下周的招聘计划")
    assert draft.status == "draft" and draft.published_at is None
    assert client.get(f"/articles/{draft.id}").status_code == 404
    assert article_by_title("私密：工资表") is None
    assert article_by_title("已删除的旧闻") is None


def test_pages_become_site_pages(client, imported):
    response = client.get("/pages/about-site")
    assert response.status_code == 200
    paragraphs = [p.get_text() for p in soup(response).select("main p")]
    assert "我们报道人力资源新闻。" in paragraphs and "欢迎投稿。" in paragraphs


@pytest.mark.parametrize(
    ("old", "title"),
    [
        ("/2022/09/02/%E7%A4%BE%E4%BF%9D%E6%96%B0%E6%94%BF/", "社保新政九月起实施"),
        ("/2022/09/02/社保新政", "社保新政九月起实施"),
        ("/2022/09/05/job-fair/", "Job fair opens downtown"),
        ("/?p=101", "社保新政九月起实施"),
        ("/?p=102&utm_source=feed", "Job fair opens downtown"),
    ],
)
def test_old_permalinks_answer_301_to_the_new_article(client, imported, old, title):
    response = client.get(old)
    assert response.status_code == 301
    assert response.headers["Location"].endswith(f"/articles/{article_by_title(title).id}")
    assert client.get(response.headers["Location"]).status_code == 200


@pytest.mark.parametrize("old", ["/about-site/", "/?page_id=106"])
def test_old_page_links_answer_301_to_the_new_page(client, imported, old):
    response = client.get(old)
    assert response.status_code == 301
    assert response.headers["Location"].endswith("/pages/about-site")


def test_unknown_old_paths_are_still_a_styled_404(client, imported):
    response = client.get("/2022/09/07/salaries/")
    assert response.status_code == 404
    assert "页面不存在" in response.get_data(as_text=True)
    assert client.get("/?p=999").status_code == 200  # just the home page


def test_reimporting_updates_and_never_duplicates(runner, media_dir, imported):
    before = {model: count(model) for model in (Article, Page, ImageRecord, Redirect, User)}
    again = runner.invoke(args=["import-wxr", str(FIXTURE), "--media-dir", str(media_dir)])
    assert again.exit_code == 0, again.output
    assert {model: count(model) for model in before} == before
    assert summary_line(again.output, "新导入的文章") == 0
    assert summary_line(again.output, "更新的文章") == 3
    assert summary_line(again.output, "导入的图片") == 0


def test_author_map_puts_posts_under_an_existing_user(runner, admin_user, media_dir):
    result = runner.invoke(
        args=["import-wxr", str(FIXTURE), "--author-map", "laowang=editor"],
    )
    assert result.exit_code == 0, result.output
    assert article_by_title("社保新政九月起实施").author.username == "editor"
    assert db.session.scalar(select(User).filter_by(username="laowang")) is None


HOSTILE = {
    "external entity": (
        '<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
        '<rss><channel><wp:wxr_version xmlns:wp="http://wordpress.org/export/1.2/">1.2'
        "</wp:wxr_version><item><title>&x;</title></item></channel></rss>"
    ),
    "billion laughs": (
        '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
        + "".join(
            f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10 if n > 1 else "&lol;" * 10}">'
            for n in range(1, 10)
        )
        + "]>\n<rss><channel><title>&lol9;</title></channel></rss>"
    ),
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_xml_is_refused_and_nothing_is_stored(runner, tmp_path, kind):
    path = tmp_path / "hostile.xml"
    path.write_text(HOSTILE[kind], encoding="utf-8")
    result = runner.invoke(args=["import-wxr", str(path)])
    assert result.exit_code != 0
    assert "DTD" in result.output and "未导入任何内容" in result.output
    assert count(Article) == 0 and count(User) == 0


def test_fifty_megabytes_of_junk_is_refused_naming_the_line(runner, tmp_path):
    path = tmp_path / "junk.xml"
    with path.open("wb") as handle:
        handle.write(b'<?xml version="1.0"?>\n<rss><channel>\n')
        handle.write(b"\x00junk" * (10 * 1024 * 1024))
    result = runner.invoke(args=["import-wxr", str(path)])
    assert result.exit_code != 0
    assert "第 3 行" in result.output and "未导入任何内容" in result.output
    assert count(Article) == 0


def test_a_malformed_item_is_refused_naming_its_line(runner, tmp_path, media_dir):
    text = FIXTURE.read_text(encoding="utf-8")
    broken = text.replace("<wp:post_id>106</wp:post_id>", "<wp:post_id>x</wp:post_id>")
    path = tmp_path / "broken.xml"
    path.write_text(broken, encoding="utf-8")
    result = runner.invoke(args=["import-wxr", str(path), "--media-dir", str(media_dir)])
    assert result.exit_code != 0
    line = text[: text.index("<wp:post_id>106</wp:post_id>")].count("\n") + 1
    assert f"第 {line} 行" in result.output
    assert count(Article) == 0 and count(ImageRecord) == 0


def test_a_failure_half_way_through_storing_leaves_no_rows_and_no_files(
    app, runner, media_dir, monkeypatch
):
    def fail(self, item):
        raise RuntimeError("disk full")

    # Pages come after the first post (and its picture) in the file.
    monkeypatch.setattr(wordpress._Importer, "page", fail)
    result = runner.invoke(args=["import-wxr", str(FIXTURE), "--media-dir", str(media_dir)])
    assert isinstance(result.exception, RuntimeError)
    assert count(Article) == 0 and count(ImageRecord) == 0 and count(Redirect) == 0
    uploads = Path(app.config["UPLOAD_DIR"])
    assert not uploads.exists() or not any(uploads.iterdir())


def test_a_file_that_is_not_a_wordpress_export_is_refused(runner, tmp_path):
    path = tmp_path / "feed.xml"
    path.write_text('<?xml version="1.0"?><rss><channel><title>x</title></channel></rss>')
    result = runner.invoke(args=["import-wxr", str(path)])
    assert result.exit_code != 0 and "wxr_version" in result.output
