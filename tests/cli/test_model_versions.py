"""`flask recommender train | versions | activate`: model versions from the command line."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from app.models import ItemModelActivation, ItemModelVersion
from app.services.recommendation.model_versions import current_version_id
from tests.factories import add_favorites, make_movie, make_user
from tests.helpers import count_rows


def like_two_movies(app: Flask) -> None:
    add_favorites(app, make_user(app), make_movie(app), make_movie(app))


def train_twice(app: Flask, runner: Any) -> int:
    """Two versions from the command line; returns the id of the newest (current) one."""
    like_two_movies(app)
    runner.invoke(args=["recommender", "train"])
    runner.invoke(args=["recommender", "train"])
    with app.app_context():
        newest = current_version_id()
    assert newest is not None
    return newest


def test_train_stores_a_current_version_and_prints_its_figures(app: Flask, runner: Any) -> None:
    like_two_movies(app)
    result = runner.invoke(args=["recommender", "train"])
    assert result.exit_code == 0, result.output
    assert count_rows(app, ItemModelVersion) == 1
    with app.app_context():
        version_id = current_version_id()
    assert f"Trained model version {version_id}:" in result.output
    assert "2 items, 1 users, 2 interactions" in result.output
    assert "NDCG@10 n/a" in result.output  # too few interactions to hold any out


def test_train_if_due_trains_only_when_no_version_or_enough_new_interactions(
    app: Flask, runner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "RECOMMENDER_REBUILD_AFTER", 2)
    like_two_movies(app)
    assert runner.invoke(args=["recommender", "train", "--if-due"]).exit_code == 0
    assert count_rows(app, ItemModelVersion) == 1

    result = runner.invoke(args=["recommender", "train", "--if-due"])
    assert "No training due" in result.output
    assert count_rows(app, ItemModelVersion) == 1

    like_two_movies(app)
    assert runner.invoke(args=["recommender", "train", "--if-due"]).exit_code == 0
    assert count_rows(app, ItemModelVersion) == 2


def test_versions_lists_newest_first_and_marks_the_current_one(app: Flask, runner: Any) -> None:
    assert "No model version yet" in runner.invoke(args=["recommender", "versions"]).output
    newest = train_twice(app, runner)

    lines = runner.invoke(args=["recommender", "versions"]).output.splitlines()

    assert len(lines) == 2
    assert lines[0].split()[:2] == ["*", str(newest)]
    assert lines[1].split()[0] == str(newest - 1)  # no marker: not current
    assert "ease" in lines[1] and "interactions" in lines[1]


def test_activate_rolls_back_to_an_older_version(app: Flask, runner: Any) -> None:
    newest = train_twice(app, runner)

    result = runner.invoke(args=["recommender", "activate", str(newest - 1)])

    assert result.exit_code == 0, result.output
    assert f"Model version {newest - 1} is now current." in result.output
    with app.app_context():
        assert current_version_id() == newest - 1
    assert count_rows(app, ItemModelVersion) == 2


def test_activate_an_unknown_version_fails_and_changes_nothing(app: Flask, runner: Any) -> None:
    result = runner.invoke(args=["recommender", "activate", "404"])
    assert result.exit_code == 1
    assert "Model version 404 does not exist." in result.output
    assert count_rows(app, ItemModelActivation) == 0
