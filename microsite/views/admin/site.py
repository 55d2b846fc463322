"""Site-wide things only admins change: masked words, settings, the 关于我们/加入我们 pages."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ...content.models import MaskedWord, Page
from ...content.site import save_settings, site_settings
from ...extensions import db
from ...forms import PageForm, SettingsForm, WordForm, parse_links, split_keywords
from ...sanitize import clean_html, strips_markup
from . import bp

# Pages the site links to; they can be written even before they exist.
KNOWN_PAGES = {"about": "关于我们", "join": "加入我们"}


def _words_page(form: WordForm, status: int = 200):
    words = db.session.scalars(select(MaskedWord).order_by(MaskedWord.word)).all()
    return render_template("admin/words.html", form=form, words=words), status


@bp.get("/words")
def words():
    """The masked words, with a form to add one."""
    return _words_page(WordForm())


@bp.post("/words")
def add_word():
    """Mask one more word; stored text is never rewritten, only its rendering."""
    form = WordForm()
    if not form.validate_on_submit():
        return _words_page(form, 422)
    if db.session.scalar(select(MaskedWord).filter_by(word=form.word.data)):
        form.word.errors.append("这个词已经在列表中。")
        return _words_page(form, 422)
    db.session.add(MaskedWord(word=form.word.data))
    try:
        db.session.commit()
    except IntegrityError:  # added by someone else a moment ago: the list already has it
        db.session.rollback()
    g.pop("masked_words", None)
    flash(f"已添加屏蔽词“{form.word.data}”。")
    return redirect(url_for("admin.words"))


@bp.post("/words/<int:word_id>/delete")
def delete_word(word_id: int):
    """Stop masking a word."""
    word = db.session.get(MaskedWord, word_id) or abort(404, "没有这个屏蔽词。")
    db.session.delete(word)
    db.session.commit()
    g.pop("masked_words", None)
    flash(f"已移除屏蔽词“{word.word}”。")
    return redirect(url_for("admin.words"))


def _settings_data() -> dict:
    current = dict(site_settings())
    links = current.get("footer_links") or []
    current["footer_links"] = "\n".join(f"{link['label']} | {link['href']}" for link in links)
    current["keyword_links"] = " ".join(current.get("keyword_links") or [])
    return current


def _pages() -> list[dict]:
    stored = {page.slug: page for page in db.session.scalars(select(Page).order_by(Page.slug))}
    slugs = list(KNOWN_PAGES) + [slug for slug in stored if slug not in KNOWN_PAGES]
    return [
        {
            "slug": slug,
            "title": stored[slug].title if slug in stored else KNOWN_PAGES[slug],
            "exists": slug in stored,
        }
        for slug in slugs
    ]


@bp.route("/settings", methods=["GET", "POST"])
def settings():
    """Site name, hotline, disclaimer, footer and keyword links, ICP number."""
    form = SettingsForm(data=_settings_data())
    if not form.validate_on_submit():
        status = 422 if request.method == "POST" else 200
        return render_template("admin/settings.html", form=form, pages=_pages()), status
    save_settings(
        site_name=form.site_name.data,
        hotline=form.hotline.data,
        disclaimer=form.disclaimer.data,
        footer_links=parse_links(form.footer_links.data),
        keyword_links=split_keywords(form.keyword_links.data),
        icp=form.icp.data,
    )
    db.session.commit()
    flash("网站设置已保存。")
    return redirect(url_for("admin.settings"))


@bp.route("/pages/<slug>", methods=["GET", "POST"])
def edit_page(slug: str):
    """Edit one of the site's pages (关于我们, 加入我们 …); the body is sanitized on save."""
    page = db.session.scalar(select(Page).filter_by(slug=slug))
    if page is None and slug not in KNOWN_PAGES:
        abort(404, "没有这个页面。")
    page = page or Page(slug=slug, title=KNOWN_PAGES[slug], body="")
    form = PageForm(obj=page)
    if not form.validate_on_submit():
        status = 422 if request.method == "POST" else 200
        return render_template("admin/page.html", form=form, page=page), status
    page.title, page.body = form.title.data, clean_html(form.body.data)
    db.session.add(page)
    db.session.commit()
    if strips_markup(form.body.data):
        flash("内容中不允许的标签或属性已被移除。", "warning")
    flash(f"页面“{page.title}”已保存。")
    return redirect(url_for("admin.edit_page", slug=slug))
