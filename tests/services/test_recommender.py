"""The engine on the database (app.services.recommender): exclusions, diversity, padding, cold
start, explanations, similar movies and a query count that does not grow with the catalogue."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, insert, select, update

from app.errors import NotFound
from app.extensions import db
from app.models import (
    Genre,
    Movie,
    RecommendationFeedback,
    User,
    UserProfile,
    WatchHistory,
    movie_genres,
    utcnow,
)
from app.models.recommendations import RECOMMENDATION_TYPES
from app.services.recommendation.ranking import MAX_SAME_GENRE_RUN, RecommendedMovie
from app.services.recommender import (
    recommend_for_user,
    reset_caches,
    similar_movies,
    train_model_version,
    warm_caches,
)
from tests.factories import add_favorites, add_rating, make_genre, make_movie, make_user
from tests.helpers import check_for_news_every, train_model


@pytest.fixture
def genres(app: Flask) -> dict[str, Genre]:
    names = {
        "Action": 28,
        "Comedy": 35,
        "Drama": 18,
        "Horror": 27,
        "Science Fiction": 878,
        "Western": 37,
    }
    return {name: make_genre(app, tmdb_id=tmdb_id, name=name) for name, tmdb_id in names.items()}


def add(app: Flask, *rows: Any) -> None:
    with app.app_context():
        db.session.add_all(rows)
        db.session.commit()


def recommend(app: Flask, user: User, limit: int = 20) -> list[RecommendedMovie]:
    with app.app_context():
        return recommend_for_user(user.id, limit)


def ids(results: list[RecommendedMovie]) -> list[int]:
    return [result.movie_id for result in results]


def set_profile(app: Flask, user: User, **values: Any) -> None:
    with app.app_context():
        db.session.execute(update(UserProfile).where(UserProfile.user_id == user.id).values(values))
        db.session.commit()


# ---- the engine on the database --------------------------------------------------------------


def space_and_laughs(app: Flask, genres: dict[str, Genre]) -> tuple[list[Movie], list[Movie]]:
    """Three science-fiction films (the liked genre) and three comedies."""
    space = [
        make_movie(app, title=f"Space {n}", genres=[genres["Science Fiction"]]) for n in range(3)
    ]
    laughs = [make_movie(app, title=f"Laugh {n}", genres=[genres["Comedy"]]) for n in range(3)]
    return space, laughs


def assert_liked_genre_first(
    results: list[Any], liked_genre: list[Movie], others: list[Movie]
) -> None:
    assert set(ids(results[:3])) == {movie.id for movie in liked_genre}
    assert set(ids(results[3:])) == {movie.id for movie in others}


def test_liked_genres_rank_first_and_explanations_name_the_liked_movies(
    app: Flask, genres: dict[str, Genre]
) -> None:
    scifi = genres["Science Fiction"]
    alien = make_movie(app, title="Alien", genres=[scifi])
    blade_runner = make_movie(app, title="Blade Runner", genres=[scifi])
    liked_genre, others = space_and_laughs(app, genres)
    user = make_user(app)
    add_favorites(app, user, alien)
    add_rating(app, user, blade_runner, 9)

    results = recommend(app, user, limit=6)

    assert_liked_genre_first(results, liked_genre, others)
    for result in results[:3]:
        assert result.recommendation_type == "content_based"
        assert "Science Fiction" in result.explanation
        assert "Alien" in result.explanation and "Blade Runner" in result.explanation


def test_a_half_step_of_7_or_more_is_liked_and_one_below_7_is_not(
    app: Flask, genres: dict[str, Genre]
) -> None:
    arrival = make_movie(app, title="Arrival", genres=[genres["Science Fiction"]])
    mamma_mia = make_movie(app, title="Mamma Mia", genres=[genres["Comedy"]])
    liked_genre, others = space_and_laughs(app, genres)
    user = make_user(app)
    add_rating(app, user, arrival, Decimal("7.5"))
    add_rating(app, user, mamma_mia, Decimal("6.5"))

    results = recommend(app, user, limit=6)

    assert_liked_genre_first(results, liked_genre, others)
    assert all("Arrival" in result.explanation for result in results[:3])
    assert not any("Mamma Mia" in result.explanation for result in results)


def test_every_result_has_a_known_type_a_confidence_in_0_1_and_an_explanation(
    app: Flask, genres: dict[str, Genre]
) -> None:
    for n in range(12):
        make_movie(app, genres=[list(genres.values())[n % len(genres)]], popularity=n)
    user = make_user(app)
    add_favorites(app, user, make_movie(app, genres=[genres["Drama"]]))
    results = recommend(app, user)
    assert len(results) == 12
    for result in results:
        assert result.recommendation_type in RECOMMENDATION_TYPES
        assert 0 <= result.confidence <= 1
        assert result.explanation


def test_liked_rated_and_watched_movies_are_never_recommended(
    app: Flask, genres: dict[str, Genre]
) -> None:
    drama = genres["Drama"]
    movies = [make_movie(app, genres=[drama]) for _ in range(8)]
    user = make_user(app)
    add_favorites(app, user, movies[0])
    add_rating(app, user, movies[1], 9)  # liked
    add_rating(app, user, movies[2], 5)  # rated in the middle: the original recommended these
    add_rating(app, user, movies[3], 2)  # dismissed
    add(app, WatchHistory(user_id=user.id, movie_id=movies[4].id))

    assert set(ids(recommend(app, user))) == {m.id for m in movies[5:]}


def test_disliked_and_not_interested_movies_never_return_even_without_their_recommendation(
    app: Flask, genres: dict[str, Genre]
) -> None:
    action = genres["Action"]
    movies = [make_movie(app, genres=[action], popularity=100 - n) for n in range(6)]
    user = make_user(app)
    add_favorites(app, user, movies[0])
    # Feedback outlives a refreshed batch: its recommendation_id is NULL by then.
    add(
        app,
        RecommendationFeedback(user_id=user.id, movie_id=movies[1].id, feedback_type="dislike"),
        RecommendationFeedback(
            user_id=user.id, movie_id=movies[2].id, feedback_type="not_interested"
        ),
        RecommendationFeedback(user_id=user.id, movie_id=movies[3].id, feedback_type="like"),
    )
    assert set(ids(recommend(app, user))) == {movies[3].id, movies[4].id, movies[5].id}


def test_removed_movies_are_never_recommended(app: Flask, genres: dict[str, Genre]) -> None:
    comedy = genres["Comedy"]
    kept = make_movie(app, genres=[comedy])
    removed = make_movie(app, genres=[comedy], deleted_at=utcnow())
    user = make_user(app)
    assert ids(recommend(app, user)) == [kept.id]
    assert removed.id not in ids(recommend(app, user))


def test_adult_movies_only_for_users_who_turned_mature_content_on(
    app: Flask, genres: dict[str, Genre]
) -> None:
    drama = genres["Drama"]
    ordinary = make_movie(app, genres=[drama])
    adult = make_movie(app, genres=[drama], adult=True)
    user = make_user(app)
    assert ids(recommend(app, user)) == [ordinary.id]
    set_profile(app, user, mature_content=True)
    assert set(ids(recommend(app, user))) == {ordinary.id, adult.id}


def test_a_perfect_score_from_three_votes_ranks_below_a_well_voted_good_film(
    app: Flask, genres: dict[str, Genre]
) -> None:
    horror = genres["Horror"]
    lucky = make_movie(app, genres=[horror], vote_average=10.0, vote_count=3)
    solid = make_movie(app, genres=[horror], vote_average=8.0, vote_count=5000)
    make_movie(app, genres=[horror], vote_average=6.0, vote_count=4000)
    user = make_user(app)
    add_favorites(app, user, make_movie(app, genres=[horror]))
    order = ids(recommend(app, user))
    assert order.index(solid.id) < order.index(lucky.id)


def test_among_equal_films_the_recent_and_the_popular_rank_higher(
    app: Flask, genres: dict[str, Genre]
) -> None:
    western = genres["Western"]
    old = make_movie(app, genres=[western], release_date=date(1990, 1, 1))
    new = make_movie(app, genres=[western], release_date=date.today() - timedelta(days=30))
    obscure = make_movie(app, genres=[western], release_date=date(1990, 1, 1), popularity=1.0)
    user = make_user(app)
    add_favorites(app, user, make_movie(app, genres=[western]))
    assert ids(recommend(app, user)) == [new.id, old.id, obscure.id]


def test_users_who_liked_the_same_movie_teach_the_collaborative_signal(
    app: Flask, genres: dict[str, Genre], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "RECOMMENDER_WEIGHT_GENRE", 0.1)
    monkeypatch.setitem(app.config, "RECOMMENDER_WEIGHT_COLLABORATIVE", 0.6)
    drama = genres["Drama"]
    alien = make_movie(app, title="Alien", genres=[drama])
    companion = make_movie(app, title="The Thing", genres=[drama])
    strangers = [make_movie(app, genres=[drama]) for _ in range(4)]
    for _ in range(4):
        fan = make_user(app)
        add_favorites(app, fan, alien, companion)
    loner = make_user(app)
    add_favorites(app, loner, *strangers[:1])
    user = make_user(app)
    add_favorites(app, user, alien)
    with app.app_context():
        stats = train_model_version()
    assert stats.users == 6 and stats.interactions == 10

    first = recommend(app, user)[0]

    assert first.movie_id == companion.id
    assert first.recommendation_type in {"collaborative", "hybrid"}
    assert "Because you liked Alien" in first.explanation


def test_no_more_than_three_consecutive_results_share_their_top_genre(
    app: Flask, genres: dict[str, Genre]
) -> None:
    action, comedy = genres["Action"], genres["Comedy"]
    for n in range(10):
        make_movie(app, genres=[action], popularity=500 - n)
    for n in range(4):
        make_movie(app, genres=[comedy], popularity=10 - n)
    user = make_user(app)
    add_favorites(app, user, make_movie(app, genres=[action]))
    results = recommend(app, user, limit=14)
    with app.app_context():
        rows = db.session.execute(select(movie_genres.c.movie_id, Genre.name).join(Genre))
        top = dict(rows.tuples().all())
    sequence = [top[movie_id] for movie_id in ids(results)]
    runs = [len(set(sequence[i : i + MAX_SAME_GENRE_RUN + 1])) for i in range(len(sequence) - 3)]
    assert min(runs) > 1
    assert sequence[:3] == ["Action"] * 3 and sequence[3] == "Comedy"


def test_too_few_movies_matching_the_user_are_padded_with_popular_well_rated_ones(
    app: Flask, genres: dict[str, Genre]
) -> None:
    western = genres["Western"]
    matching = [make_movie(app, genres=[western]) for _ in range(2)]
    fillers = [genres["Comedy"], genres["Drama"], genres["Horror"]]
    padding = [
        make_movie(app, genres=[fillers[n % 3]], popularity=100 - n, vote_average=7.5)
        for n in range(25)
    ]
    user = make_user(app)
    add_favorites(app, user, make_movie(app, genres=[western]))

    results = recommend(app, user, limit=20)

    assert len(results) == 20
    assert set(ids(results[:2])) == {movie.id for movie in matching}
    assert ids(results[2:]) == [movie.id for movie in padding[:18]]
    assert {result.recommendation_type for result in results[2:]} == {"trending"}
    assert all(result.explanation for result in results[2:])


def test_cold_start_uses_the_profile_favorite_genres_then_popular_films(
    app: Flask, genres: dict[str, Genre]
) -> None:
    scifi = [make_movie(app, genres=[genres["Science Fiction"]], popularity=5) for _ in range(2)]
    popular = make_movie(app, genres=[genres["Comedy"]], popularity=900, vote_average=8.5)
    user = make_user(app)
    set_profile(app, user, favorite_genres=[878])

    results = recommend(app, user)

    assert set(ids(results[:2])) == {movie.id for movie in scifi}
    assert {r.explanation for r in results[:2]} == {"Popular in Science Fiction"}
    assert results[2].movie_id == popular.id
    assert results[2].recommendation_type == "trending"


def test_cold_start_without_favorite_genres_is_popular_and_well_rated_first(
    app: Flask, genres: dict[str, Genre]
) -> None:
    drama = genres["Drama"]
    quiet = make_movie(app, genres=[drama], popularity=2, vote_average=5.0, vote_count=100)
    hit = make_movie(app, genres=[drama], popularity=800, vote_average=8.4, vote_count=9000)
    user = make_user(app)
    results = recommend(app, user)
    assert ids(results) == [hit.id, quiet.id]
    assert {result.recommendation_type for result in results} == {"trending"}


def test_weights_come_from_the_configuration(
    app: Flask, genres: dict[str, Genre], monkeypatch: pytest.MonkeyPatch
) -> None:
    drama, comedy = genres["Drama"], genres["Comedy"]
    same_genre = make_movie(app, genres=[drama], popularity=1)
    famous = make_movie(app, genres=[comedy], popularity=5000)
    user = make_user(app)
    add_favorites(app, user, make_movie(app, genres=[drama]))
    assert ids(recommend(app, user)) == [same_genre.id, famous.id]
    for name in ("GENRE", "QUALITY", "RECENCY", "COLLABORATIVE"):
        monkeypatch.setitem(app.config, f"RECOMMENDER_WEIGHT_{name}", 0.0)
    monkeypatch.setitem(app.config, "RECOMMENDER_WEIGHT_POPULARITY", 1.0)
    assert ids(recommend(app, user))[0] == famous.id


def test_an_unknown_user_is_not_found(app: Flask) -> None:
    with app.app_context(), pytest.raises(NotFound):
        recommend_for_user(999_999)


def test_the_cached_catalogue_follows_new_changed_and_removed_movies(
    app: Flask, genres: dict[str, Genre]
) -> None:
    western = genres["Western"]
    user = make_user(app)
    add_favorites(app, user, make_movie(app, genres=[western]))
    first = make_movie(app, genres=[western])
    assert ids(recommend(app, user)) == [first.id]

    second = make_movie(app, genres=[genres["Comedy"]])
    assert ids(recommend(app, user)) == [first.id, second.id]

    with app.app_context():  # relinked to the liked genre: now ranks first
        db.session.execute(insert(movie_genres).values(movie_id=second.id, genre_id=western.id))
        db.session.execute(
            movie_genres.delete().where(
                movie_genres.c.movie_id == second.id,
                movie_genres.c.genre_id == genres["Comedy"].id,
            )
        )
        db.session.execute(update(Movie).where(Movie.id == second.id).values(popularity=999))
        db.session.commit()
    assert ids(recommend(app, user)) == [second.id, first.id]

    with app.app_context():
        movie = db.session.get(Movie, first.id)
        assert movie is not None
        movie.soft_delete()
        db.session.commit()
    assert ids(recommend(app, user)) == [second.id]


def _statements_for_one_user(app: Flask, user: User) -> tuple[int, int]:
    """(statements with cold caches, statements with warm caches) for one recommendation."""
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    with app.app_context():
        reset_caches()
        engine = db.engine
        event.listen(engine, "before_cursor_execute", record)
        try:
            recommend_for_user(user.id)
            cold = len(statements)
            statements.clear()
            recommend_for_user(user.id)
            warm = len(statements)
        finally:
            event.remove(engine, "before_cursor_execute", record)
    return cold, warm


def _add_movies(app: Flask, count: int, genre_ids: list[int], start: int) -> None:
    with app.app_context():
        rows = [
            {
                "tmdb_id": 900_000 + start + n,
                "title": f"Catalogue film {start + n}",
                "popularity": float(n % 97),
                "vote_average": 5 + (n % 5),
                "vote_count": 10 + n,
                "release_date": date(2000 + n % 25, 1, 1),
            }
            for n in range(count)
        ]
        db.session.execute(insert(Movie), rows)
        new_ids = db.session.scalars(
            select(Movie.id).where(Movie.tmdb_id >= 900_000 + start).order_by(Movie.id)
        ).all()
        db.session.execute(
            insert(movie_genres),
            [{"movie_id": m, "genre_id": genre_ids[m % len(genre_ids)]} for m in new_ids],
        )
        db.session.commit()


def test_the_number_of_sql_statements_is_the_same_for_50_and_500_movies(
    app: Flask, genres: dict[str, Genre]
) -> None:
    genre_ids = [genre.id for genre in genres.values()]
    _add_movies(app, 50, genre_ids, start=0)
    user = make_user(app)
    other = make_user(app)
    with app.app_context():
        movie_ids = db.session.scalars(select(Movie.id).limit(6)).all()
    add_favorites(app, user, *(db_movie(app, m) for m in movie_ids[:3]))
    add_favorites(app, other, *(db_movie(app, m) for m in movie_ids[2:6]))
    add_rating(app, user, db_movie(app, movie_ids[4]), 2)
    add(
        app,
        RecommendationFeedback(
            user_id=user.id, movie_id=movie_ids[5], feedback_type="not_interested"
        ),
    )
    train_model(app)
    small = _statements_for_one_user(app, user)

    _add_movies(app, 450, genre_ids, start=50)
    large = _statements_for_one_user(app, user)

    assert small == large
    # Fingerprint, current model version, profile and signals when warm; plus the catalogue
    # and the version's weights when cold.
    assert large[1] == 4


def db_movie(app: Flask, movie_id: int) -> Movie:
    with app.app_context():
        movie = db.session.get(Movie, movie_id)
        assert movie is not None
        db.session.expunge(movie)
        return movie


# ---- similar movies --------------------------------------------------------------------------


def test_similar_movies_of_an_unknown_or_removed_movie_is_not_found(
    app: Flask, genres: dict[str, Genre]
) -> None:
    removed = make_movie(app, genres=[genres["Drama"]], deleted_at=utcnow())
    with app.app_context():
        with pytest.raises(NotFound):
            similar_movies(999_999)
        with pytest.raises(NotFound):
            similar_movies(removed.id)


def test_similar_movies_share_genres_and_never_include_the_movie_itself(
    app: Flask, genres: dict[str, Genre]
) -> None:
    action, scifi, comedy = genres["Action"], genres["Science Fiction"], genres["Comedy"]
    matrix = make_movie(app, title="The Matrix", genres=[action, scifi])
    both = make_movie(app, genres=[action, scifi])
    one = make_movie(app, genres=[scifi])
    unrelated = make_movie(app, genres=[comedy])
    with app.app_context():
        results = similar_movies(matrix.id, limit=5)
    assert ids(results) == [both.id, one.id]
    assert unrelated.id not in ids(results) and matrix.id not in ids(results)
    assert results[0].explanation == "Action and Science Fiction, like The Matrix"
    assert results[0].recommendation_type == "content_based"


def test_similar_movies_use_the_overview_when_there_is_text(
    app: Flask, genres: dict[str, Genre]
) -> None:
    # Same genre for all, so only the overview can put the twin first: it is the least popular
    # and the worst rated, and the newest (highest id), so every tie-break is against it.
    drama = genres["Drama"]
    heist = make_movie(
        app,
        title="The Vault",
        genres=[drama],
        overview="A retired safecracker plans one last bank heist with his estranged daughter.",
    )
    plain, sea, twin = (
        make_movie(app, genres=[drama], overview=overview, popularity=popularity, vote_average=vote)
        for overview, popularity, vote in [
            ("Two sisters run a bakery by the sea.", 90.0, 8.5),
            ("A sea captain hunts a whale across the ocean.", 80.0, 8.0),
            ("An aging safecracker is pulled into a bank heist by his daughter.", 1.0, 5.0),
        ]
    )
    with app.app_context():
        results = similar_movies(heist.id)
    assert ids(results) == [twin.id, plain.id, sea.id]
    assert results[0].score > results[1].score


def test_similar_movies_learn_from_users_who_liked_both(
    app: Flask, genres: dict[str, Genre]
) -> None:
    drama, western = genres["Drama"], genres["Western"]
    source = make_movie(app, title="Heat", genres=[drama])
    companion = make_movie(app, genres=[western])
    make_movie(app, genres=[western])
    for _ in range(3):
        add_favorites(app, make_user(app), source, companion)
    with app.app_context():
        train_model_version()
        results = similar_movies(source.id)
    assert results[0].movie_id == companion.id
    assert results[0].recommendation_type == "collaborative"
    assert results[0].explanation == "Often liked by people who liked Heat"


def test_between_catalogue_checks_the_cached_arrays_serve_without_a_query(
    app: Flask, genres: dict[str, Genre], monkeypatch: pytest.MonkeyPatch
) -> None:
    check_for_news_every(app, monkeypatch, 3600)
    drama = genres["Drama"]
    first = make_movie(app, genres=[drama])
    user = make_user(app)
    cold, warm = _statements_for_one_user(app, user)
    # No fingerprint or model-version query: only the profile and the signals.
    assert warm == 2 < cold

    make_movie(app, genres=[drama])  # not seen until the next check
    assert ids(recommend(app, user)) == [first.id]


def test_similar_movies_of_a_film_newer_than_the_cached_catalogue_are_found(
    app: Flask, genres: dict[str, Genre], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "RECOMMENDER_CATALOGUE_CHECK_SECONDS", 3600)
    drama = genres["Drama"]
    older = make_movie(app, genres=[drama])
    with app.app_context():
        assert similar_movies(older.id) == []
    newer = make_movie(app, genres=[drama])
    with app.app_context():
        assert ids(similar_movies(newer.id)) == [older.id]


def test_warmed_caches_leave_nothing_for_the_first_similar_movies_request_to_load(
    app: Flask, genres: dict[str, Genre], monkeypatch: pytest.MonkeyPatch
) -> None:
    check_for_news_every(app, monkeypatch, 3600)
    movies = [make_movie(app, title=f"Film {n}", genres=[genres["Drama"]]) for n in range(5)]
    add_favorites(app, make_user(app), movies[0], movies[1])
    train_model(app)
    with app.app_context():
        warm_caches()  # what the gunicorn master does before it forks the workers
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    with app.app_context():
        engine = db.engine
        event.listen(engine, "before_cursor_execute", record)
        try:
            assert similar_movies(movies[0].id, limit=3)
        finally:
            event.remove(engine, "before_cursor_execute", record)
    # The movie's own lookup only: no catalogue fingerprint or arrays, overviews, model
    # version lookup or weights.
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 1 and "WHERE movies.id = " in selects[0], selects
