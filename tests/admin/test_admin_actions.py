"""The admin's actions: TMDb genre sync, movie details refresh and recommendation
regeneration, through the same services as the CLI and the API (the fake TMDb answers)."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.extensions import db
from app.models import Genre, Movie, Recommendation, User, UserProfile
from tests.factories import make_genre, make_movie, make_user
from tests.fake_tmdb import GENRES, FakeTMDb
from tests.helpers import assert_form_refused, csrf_token_in, post_form, stored


def genre_count(app: Flask) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(Genre)) or 0)


def sync_genres(client: FlaskClient):  # type: ignore[no-untyped-def]
    return post_form(client, "/admin/genres/", "/admin/genres/sync/", {})


def run_action(client: FlaskClient, view: str, action: str, ids: list[int]):  # type: ignore[no-untyped-def]
    return post_form(
        client,
        f"/admin/{view}/",
        f"/admin/{view}/action/",
        {"action": action, "rowid": [str(row_id) for row_id in ids]},
    )


# --- genre sync ----------------------------------------------------------------------------


def test_genre_sync_stores_tmdbs_genres_and_says_how_many(
    app: Flask, staff_client: FlaskClient, fake_tmdb: FakeTMDb
) -> None:
    response = sync_genres(staff_client)

    assert response.status_code == 302
    assert genre_count(app) == len(GENRES)
    page = staff_client.get("/admin/genres/").text
    assert f"Genres synced from TMDb: TMDb lists {len(GENRES)}." in page
    assert "Science Fiction" in page
    assert fake_tmdb.count("/genre/movie/list") == 1


def test_genre_sync_renames_a_known_genre_without_duplicating_it(
    app: Flask, staff_client: FlaskClient
) -> None:
    make_genre(app, tmdb_id=28, name="Old action name")

    sync_genres(staff_client)

    with app.app_context():
        names = db.session.scalars(select(Genre.name).where(Genre.tmdb_id == 28)).all()
    assert names == ["Action"]


def test_genre_sync_with_tmdb_down_shows_the_failure_and_changes_nothing(
    app: Flask, staff_client: FlaskClient, fake_tmdb: FakeTMDb
) -> None:
    fake_tmdb.failure = "503"

    response = sync_genres(staff_client)

    assert response.status_code == 302
    page = staff_client.get("/admin/genres/")
    assert page.status_code == 200
    assert "The genre sync failed:" in page.text
    assert genre_count(app) == 0


def test_genre_sync_with_a_malformed_answer_shows_the_failure(
    app: Flask, staff_client: FlaskClient, fake_tmdb: FakeTMDb
) -> None:
    fake_tmdb.failure = "bad_shape"

    sync_genres(staff_client)

    assert "The genre sync failed:" in staff_client.get("/admin/genres/").text
    assert genre_count(app) == 0


def test_genre_sync_needs_the_csrf_token(app: Flask, staff_client: FlaskClient) -> None:
    response = staff_client.post("/admin/genres/sync/")

    assert_form_refused(response)
    assert genre_count(app) == 0


def test_genre_sync_needs_a_signed_in_staff_member(app: Flask, client: FlaskClient) -> None:
    # The login form's token is session-free: it opens no other form of the admin.
    page = client.get("/admin/login/")

    response = client.post("/admin/genres/sync/", data={"csrf_token": csrf_token_in(page.text)})

    assert_form_refused(response)
    assert genre_count(app) == 0


# --- movie details -------------------------------------------------------------------------


def test_refresh_details_fetches_the_selected_movies_from_tmdb(
    app: Flask, staff_client: FlaskClient, fake_tmdb: FakeTMDb
) -> None:
    first = make_movie(app, tmdb_id=7, title="Placeholder seven")
    second = make_movie(app, tmdb_id=8, title="Placeholder eight")
    untouched = make_movie(app, tmdb_id=9, title="Placeholder nine")

    response = run_action(staff_client, "movies", "refresh_details", [first.id, second.id])

    assert response.status_code == 302
    for movie in (first, second):
        after = stored(app, Movie, movie.id)
        assert after.title == f"Movie {movie.tmdb_id}"
        assert after.runtime == 100 + movie.tmdb_id
        assert after.details_fetched_at is not None
    assert stored(app, Movie, untouched.id).details_fetched_at is None
    assert "Details refreshed from TMDb for 2 movie(s)." in staff_client.get("/admin/movies/").text


def test_refresh_details_reports_a_movie_tmdb_does_not_know_and_refreshes_the_others(
    app: Flask, staff_client: FlaskClient
) -> None:
    known = make_movie(app, tmdb_id=11, title="Known to TMDb")
    unknown = make_movie(app, tmdb_id=987_654, title="Lost to TMDb")

    run_action(staff_client, "movies", "refresh_details", [unknown.id, known.id])

    assert stored(app, Movie, known.id).details_fetched_at is not None
    assert stored(app, Movie, unknown.id).details_fetched_at is None
    page = staff_client.get("/admin/movies/").text
    assert "Lost to TMDb:" in page
    assert "Details refreshed from TMDb for 1 movie(s)." in page


def test_refresh_details_with_tmdb_down_shows_the_failure_not_an_error_page(
    app: Flask, staff_client: FlaskClient, fake_tmdb: FakeTMDb
) -> None:
    first = make_movie(app, tmdb_id=12, title="Waiting one")
    second = make_movie(app, tmdb_id=13, title="Waiting two")
    fake_tmdb.failure = "503"

    response = run_action(staff_client, "movies", "refresh_details", [first.id, second.id])

    assert response.status_code == 302
    page = staff_client.get("/admin/movies/")
    assert page.status_code == 200
    assert "The other movies were not tried." in page.text
    assert stored(app, Movie, first.id).details_fetched_at is None
    assert stored(app, Movie, second.id).details_fetched_at is None


def test_hide_and_restore_take_movies_out_of_and_back_into_the_catalogue(
    app: Flask, client: FlaskClient, staff_client: FlaskClient
) -> None:
    movie = make_movie(app, title="Hidden gem")
    assert client.get(f"/api/v1/movies/movies/{movie.id}/").status_code == 200

    run_action(staff_client, "movies", "hide", [movie.id])

    assert stored(app, Movie, movie.id).deleted_at is not None
    assert client.get(f"/api/v1/movies/movies/{movie.id}/").status_code == 404

    run_action(staff_client, "movies", "restore", [movie.id])

    assert stored(app, Movie, movie.id).deleted_at is None
    assert client.get(f"/api/v1/movies/movies/{movie.id}/").status_code == 200


# --- recommendations ------------------------------------------------------------------------


def test_regenerate_recommendations_stores_a_fresh_batch_for_each_selected_user(
    app: Flask, staff_client: FlaskClient
) -> None:
    genre = make_genre(app, name="Drama")
    for n in range(5):
        make_movie(app, title=f"Candidate {n}", genres=[genre], popularity=50.0 + n)
    first, second = make_user(app), make_user(app)
    bystander = make_user(app)

    response = run_action(
        staff_client, "users", "regenerate_recommendations", [first.id, second.id]
    )

    assert response.status_code == 302
    with app.app_context():
        counts = {
            user.id: db.session.scalar(
                select(func.count()).where(Recommendation.user_id == user.id)
            )
            for user in (first, second, bystander)
        }
        generated_at = db.session.scalar(
            select(UserProfile.recommendations_generated_at).where(UserProfile.user_id == first.id)
        )
    assert counts[first.id] and counts[first.id] > 0
    assert counts[second.id] and counts[second.id] > 0
    assert counts[bystander.id] == 0
    assert generated_at is not None
    page = staff_client.get("/admin/users/").text
    assert "Recommendations regenerated for 2 user(s)." in page


def test_regenerate_recommendations_reports_a_user_removed_since_the_page_was_shown(
    app: Flask, staff_client: FlaskClient
) -> None:
    make_movie(app, title="Lonely candidate")
    removed = make_user(app)
    with app.app_context():
        db.session.delete(db.session.get(User, removed.id))
        db.session.commit()

    response = run_action(staff_client, "users", "regenerate_recommendations", [removed.id])

    assert response.status_code == 302
    page = staff_client.get("/admin/users/")
    assert page.status_code == 200
    assert f"User {removed.id}:" in page.text
