"""Tags and categories: the one get-or-create, used by the desk, revisions and every importer."""

from collections.abc import Iterable

from sqlalchemy import select

from ..extensions import db
from .models import Category, Tag


def category(name: str, slug: str | None = None) -> Category:
    """The category with this slug (when one is given) or else this name, added to the session
    when there is none; a new category's slug is its name unless one is given."""
    found = None
    if slug is not None:
        found = db.session.scalar(select(Category).filter_by(slug=slug))
    if found is None:
        found = db.session.scalar(select(Category).filter_by(name=name))
    if found is None:
        found = Category(name=name, slug=slug if slug is not None else name)
        db.session.add(found)
    return found


def tags(names: Iterable[str]) -> list[Tag]:
    """The tags with these names in their order (repeats dropped), one query for those that
    exist, the rest added to the session."""
    wanted = list(dict.fromkeys(names))
    if not wanted:
        return []
    found = {t.name: t for t in db.session.scalars(select(Tag).where(Tag.name.in_(wanted)))}
    for name in wanted:
        if name not in found:
            found[name] = Tag(name=name)
            db.session.add(found[name])
    return [found[name] for name in wanted]


def is_new(row: Category | Tag) -> bool:
    """Whether `row` was added by this transaction and is not yet written (importers count
    what they created)."""
    return row.id is None
