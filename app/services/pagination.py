"""Run a select() one page at a time (one count query and one page query), or page a
short list already read whole."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import ceil
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select

from app.errors import NotFound
from app.extensions import db

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    count: int
    page: int
    page_size: int

    @property
    def page_count(self) -> int:
        return max(1, ceil(self.count / self.page_size))

    @property
    def has_next(self) -> bool:
        return self.page < self.page_count

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def paginate(statement: Select[Any], page: int, page_size: int) -> Page[Any]:
    """The requested page of `statement`'s rows; NotFound past the last page."""
    count_statement = select(func.count()).select_from(statement.order_by(None).subquery())
    count = db.session.scalar(count_statement) or 0
    check_page_exists(count, page, page_size)
    rows = db.session.scalars(statement.limit(page_size).offset((page - 1) * page_size))
    return Page(items=list(rows.unique()), count=count, page=page, page_size=page_size)


def paginate_items(items: Sequence[T], page: int, page_size: int) -> Page[T]:
    """The requested page of `items` already read whole (a short list: no count query);
    NotFound past the last page."""
    check_page_exists(len(items), page, page_size)
    start = (page - 1) * page_size
    return Page(
        items=list(items[start : start + page_size]),
        count=len(items),
        page=page,
        page_size=page_size,
    )


def check_page_exists(count: int, page: int, page_size: int) -> None:
    """NotFound when `page` is past the last page of `count` items (page 1 always exists)."""
    last_page = max(1, ceil(count / page_size))
    if page > last_page:
        raise NotFound(
            f"Page {page} does not exist: there are {last_page} page(s) of {page_size}.",
            code="page_not_found",
        )
