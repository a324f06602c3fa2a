"""`flask recommender tune [DIR] --budget SECONDS` and `flask recommender tuned`; and
`evaluate` reporting the tuned engine beside the default one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from app.extensions import db
from app.models import TunedConfiguration
from tests.helpers import two_taste_clusters


def larger_clusters(directory: Path) -> Path:
    """Two taste clusters of 16 films each; every user rates 15 of their cluster's films, so
    after the evaluation's split (3 held out) 12 remain, enough for the tuner's own split."""
    return two_taste_clusters(
        directory, films_per_cluster=16, users=30, ratings_per_user=15, seconds_between_ratings=1
    )


def test_tune_on_a_movielens_folder_records_a_configuration_and_prints_it(
    app: Flask, runner: Any, tmp_path: Path
) -> None:
    folder = larger_clusters(tmp_path / "ml")
    result = runner.invoke(args=["recommender", "tune", str(folder), "--budget", "10"])
    assert result.exit_code == 0, result.output
    assert "Chosen: " in result.output and "defaults    | " in result.output
    with app.app_context():
        rows = db.session.query(TunedConfiguration).all()
        assert len(rows) == 1
        assert rows[0].source == "movielens:ml"
        assert rows[0].validation_ndcg >= rows[0].default_ndcg
        assert rows[0].budget_seconds == 10
    shown = runner.invoke(args=["recommender", "tuned"])
    assert shown.exit_code == 0
    assert f"Tuned configuration #{rows[0].id} (movielens:ml" in shown.output
    # evaluate now reports the tuned engine beside the default one.
    evaluated = runner.invoke(args=["recommender", "evaluate", str(folder)])
    assert evaluated.exit_code == 0, evaluated.output
    assert "Tuned: " in evaluated.output
    methods = [line.split("|")[0].strip() for line in evaluated.output.splitlines()]
    assert {"engine", "tuned", "popularity", "original"} <= set(methods)


def test_without_a_tuned_configuration_tuned_says_the_defaults_apply(runner: Any) -> None:
    result = runner.invoke(args=["recommender", "tuned"])
    assert result.exit_code == 0
    assert "No tuned configuration" in result.output


def test_too_little_data_is_a_clear_error_and_records_nothing(
    app: Flask, runner: Any, tmp_path: Path
) -> None:
    result = runner.invoke(args=["recommender", "tune", "--budget", "5"])
    assert result.exit_code == 1
    assert "Nothing to validate on" in result.output
    with app.app_context():
        assert db.session.query(TunedConfiguration).count() == 0


def test_a_budget_below_one_second_is_a_usage_error(runner: Any) -> None:
    result = runner.invoke(args=["recommender", "tune", "--budget", "0"])
    assert result.exit_code == 2
    assert "--budget" in result.output
