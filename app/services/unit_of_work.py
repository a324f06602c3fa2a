"""One transaction per unit of work: the only place that pairs a commit with its rollback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from app.extensions import db


@contextmanager
def unit_of_work() -> Iterator[None]:
    """Commit what the block wrote when it ends; roll all of it back if it raises.

    The error goes on to the caller, and the session is left usable: a failed batch never
    leaves half its rows behind, nor a broken transaction for the next one.
    """
    try:
        yield
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
