"""The stored list's plain rows: each movie's genres come on its own row, in the order the
movie's detail gives them."""

from __future__ import annotations

from flask import Flask

from app.extensions import db
from app.models import Movie
from app.services.recommendation.shown import movie_summaries
from tests.factories import make_genre, make_movie


def test_summaries_carry_each_movies_genres_in_the_details_order(app: Flask) -> None:
    western, drama, crime = (make_genre(app, name=name) for name in ("Western", "Drama", "Crime"))
    with_genres = make_movie(app, genres=[western, drama, crime])
    without = make_movie(app)
    with app.app_context():
        summaries = movie_summaries([with_genres.id, without.id, 999_999])
        detail_order = [genre.name for genre in db.session.get(Movie, with_genres.id).genres]
    assert set(summaries) == {with_genres.id, without.id}  # an unknown id is left out
    listed = summaries[with_genres.id].genres
    assert [genre.name for genre in listed] == detail_order == ["Crime", "Drama", "Western"]
    assert [(genre.id, genre.tmdb_id) for genre in listed] == [
        (crime.id, crime.tmdb_id),
        (drama.id, drama.tmdb_id),
        (western.id, western.tmdb_id),
    ]
    assert summaries[without.id].genres == []
