"""`flask recommend` computes and stores recommendations for one user or all of them."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from flask import Flask

from app.extensions import db
from app.models import ItemModelVersion, Movie, User
from tests.factories import make_movie, make_user
from tests.helpers import count_rows, stored_movie_ids


def catalogue(app: Flask, count: int) -> list[Movie]:
    return [
        make_movie(
            app,
            title=f"Command film {n}",
            popularity=400.0 - n,
            vote_count=1200,
            release_date=date(2011, 3, 1),
        )
        for n in range(count)
    ]


def test_recommend_one_user_stores_and_prints_a_table(app: Flask, runner: Any) -> None:
    movies = catalogue(app, 25)
    user = make_user(app, username="cinephile")
    result = runner.invoke(args=["recommend", "--user", str(user.id), "--limit", "5"])
    assert result.exit_code == 0, result.output
    assert f"User {user.id} (cinephile): 5 recommendation(s)" in result.output
    stored = stored_movie_ids(app, user)
    assert len(stored) == 5
    titles = {movie.id: movie.title for movie in movies}
    for movie_id in stored:
        assert titles[movie_id] in result.output
    assert "Stored 5 recommendations for 1 user(s)." in result.output


def test_recommend_all_prints_one_json_line_per_active_user(app: Flask, runner: Any) -> None:
    movies = catalogue(app, 25)
    users = [make_user(app), make_user(app)]
    inactive = make_user(app)
    with app.app_context():
        row = db.session.get(User, inactive.id)
        assert row is not None
        row.is_active = False
        db.session.commit()

    result = runner.invoke(args=["recommend", "--all", "--format", "jsonl", "--limit", "4"])

    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["user_id"] for line in lines] == [user.id for user in users]
    tmdb_ids = {movie.id: movie.tmdb_id for movie in movies}
    for line, user in zip(lines, users, strict=True):
        assert set(line) == {"user_id", "username", "recommendations"}
        assert line["username"] == user.username
        assert len(line["recommendations"]) == 4
        for item in line["recommendations"]:
            assert set(item) == {"movie_id", "tmdb_id", "score"}
            assert item["tmdb_id"] == tmdb_ids[item["movie_id"]]
            assert isinstance(item["score"], float)
        assert [item["movie_id"] for item in line["recommendations"]] == stored_movie_ids(app, user)
    assert stored_movie_ids(app, inactive) == []


def test_recommend_replaces_the_previous_batch(app: Flask, runner: Any) -> None:
    catalogue(app, 10)
    user = make_user(app)
    for _ in range(2):
        result = runner.invoke(args=["recommend", "--user", str(user.id), "--limit", "3"])
        assert result.exit_code == 0, result.output
    assert len(stored_movie_ids(app, user)) == 3


def test_unknown_user_is_a_clear_error(runner: Any) -> None:
    result = runner.invoke(args=["recommend", "--user", "424242"])
    assert result.exit_code != 0
    assert "User 424242 does not exist." in result.output


def test_no_option_is_a_usage_error(runner: Any) -> None:
    result = runner.invoke(args=["recommend"])
    assert result.exit_code == 2
    assert "Give --user ID, --all or --rebuild." in result.output


def test_user_and_all_together_is_a_usage_error(runner: Any) -> None:
    result = runner.invoke(args=["recommend", "--user", "1", "--all"])
    assert result.exit_code == 2
    assert "not both" in result.output


def test_limit_out_of_range_is_refused(runner: Any) -> None:
    result = runner.invoke(args=["recommend", "--all", "--limit", "51"])
    assert result.exit_code == 2


def test_rebuild_trains_a_new_model_version_and_prints_its_stats(app: Flask, runner: Any) -> None:
    catalogue(app, 3)
    result = runner.invoke(args=["recommend", "--rebuild"])
    assert result.exit_code == 0, result.output
    assert count_rows(app, ItemModelVersion) == 1
    assert "Item model version" in result.output and "trained:" in result.output
    assert "items" in result.output and "interactions" in result.output
