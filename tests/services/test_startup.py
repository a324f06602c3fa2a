"""What the gunicorn master does before forking: load the current model version for every
worker to inherit, and never train one."""

from __future__ import annotations

from flask import Flask

from app.models import ItemModelVersion
from app.services.recommendation.state import model_holder
from app.services.startup import prepare_for_workers
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
