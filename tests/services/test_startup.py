"""What the gunicorn master does before forking: load the current model version for every
worker to inherit, and never train one."""

from __future__ import annotations

import gc
import weakref

from flask import Flask

from app.models import ItemModelVersion
from app.services.recommendation.state import model_holder
from app.services.startup import malloc_trim, prepare_for_workers, settle_memory_for_fork
from tests.helpers import count_rows, train_model


def test_the_master_loads_the_current_version_for_the_workers_to_inherit(app: Flask) -> None:
    version = train_model(app)

    prepare_for_workers(app)

    with app.app_context():
        served = model_holder().served
    assert served is not None and served.version_id == version


def test_without_a_version_the_master_requests_training_and_trains_nothing(
    app: Flask, training_requests: list[str]
) -> None:
    prepare_for_workers(app)

    with app.app_context():
        assert model_holder().served is None
    assert count_rows(app, ItemModelVersion) == 0
    assert len(training_requests) == 1


class Node:
    link: Node | None = None


def test_before_forking_garbage_is_collected_and_the_survivors_frozen() -> None:
    """What the workers inherit is only what is alive, out of the collector's reach."""
    gc.disable()  # no automatic collection in between: only settling may free the cycle
    try:
        cycle = Node()
        cycle.link = cycle
        collected = weakref.ref(cycle)
        del cycle
        settle_memory_for_fork()
        assert collected() is None
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.enable()


def test_malloc_trim_is_glibcs_on_linux() -> None:
    trim = malloc_trim()
    assert trim is not None and trim(0) in (0, 1)
