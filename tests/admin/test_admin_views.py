"""The admin's pages for each table: lists with data, search, filters, pagination, and the
user management rules (password hash never shown, staff status only from superusers)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from html import unescape

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import (
    Favorite,
    Genre,
    Movie,
    Rating,
    RecommendationFeedback,
    TokenBlocklist,
    User,
    UserProfile,
    WatchHistory,
    WatchlistEntry,
)
from tests.factories import auth_headers, make_genre, make_movie, make_recommendation, make_user
from tests.helpers import csrf_token_in, post_form, stored
from tests.query_count import recorded_statements


@dataclass
class Library:
    member: User
    movie: Movie


@pytest.fixture
def library(app: Flask) -> Library:
    """One member with a row in every table the admin lists."""
    genre = make_genre(app, name="Space Opera")
    member = make_user(app, email="marlowe@example.com", username="marlowe")
    movie = make_movie(app, title="Nebula Drift", genres=[genre])
    rec = make_recommendation(
        app, member, movie, confidence_score=0.87, explanation="Because you like space"
    )
    with app.app_context():
        profile = db.session.scalar(select(UserProfile).where(UserProfile.user_id == member.id))
        assert profile is not None
        profile.preferred_language = "fr"
        db.session.add_all(
            [
                Favorite(user_id=member.id, movie_id=movie.id),
                Rating(user_id=member.id, movie_id=movie.id, rating=9, review="Glorious nebulae"),
                WatchlistEntry(user_id=member.id, movie_id=movie.id),
                WatchHistory(user_id=member.id, movie_id=movie.id),
                TokenBlocklist(
                    jti="jti-of-a-revoked-token",
                    token_type="refresh",
                    user_id=member.id,
                    expires_at=datetime.now(UTC) + timedelta(days=1),
                    reason="logout",
                ),
                RecommendationFeedback(
                    user_id=member.id,
                    movie_id=movie.id,
                    recommendation_id=rec.id,
                    feedback_type="like",
                    comment="Spot on",
                ),
            ]
        )
        db.session.commit()
    return Library(member=member, movie=movie)


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        ("/admin/users/", ["marlowe@example.com", "marlowe"]),
        ("/admin/profiles/", ["marlowe@example.com", "fr"]),
        ("/admin/movies/", ["Nebula Drift"]),
        ("/admin/genres/", ["Space Opera"]),
        ("/admin/favorites/", ["marlowe@example.com", "Nebula Drift"]),
        ("/admin/ratings/", ["marlowe@example.com", "Nebula Drift", "Glorious nebulae"]),
        ("/admin/watchlist/", ["marlowe@example.com", "Nebula Drift"]),
        ("/admin/history/", ["marlowe@example.com", "Nebula Drift"]),
        ("/admin/recommendations/", ["marlowe@example.com", "Nebula Drift", "hybrid"]),
        ("/admin/feedback/", ["marlowe@example.com", "Nebula Drift", "Spot on"]),
        ("/admin/token-blocklist/", ["jti-of-a-revoked-token", "logout"]),
    ],
)
def test_each_list_page_shows_its_rows(
    staff_client: FlaskClient, library: Library, page: str, expected: list[str]
) -> None:
    response = staff_client.get(page)

    assert response.status_code == 200
    for text in expected:
        assert text in response.text


def test_home_page_counts_the_rows_of_the_main_tables(
    staff_client: FlaskClient, library: Library
) -> None:
    response = staff_client.get("/admin/")

    assert response.status_code == 200
    assert re.search(r"Ratings</th><td[^>]*>1<", response.text)
    assert re.search(r"Movies</th><td[^>]*>1<", response.text)


def test_admin_pages_load_their_assets_locally(staff_client: FlaskClient) -> None:
    response = staff_client.get("/admin/movies/")

    sources = re.findall(r'(?:src|href)="([^"]+)"', response.text)
    assert sources
    assert not [url for url in sources if url.startswith(("http:", "https:", "//"))]
    stylesheet = next(url for url in sources if url.endswith(".css") or ".css?" in url)
    assert staff_client.get(stylesheet).status_code == 200


def test_admin_pages_are_pages_with_their_own_content_security_policy(
    staff_client: FlaskClient,
) -> None:
    response = staff_client.get("/admin/users/")

    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy


# --- users ------------------------------------------------------------------------------


def every_user_page(client: FlaskClient, user_id: int) -> list[str]:
    pages = [
        "/admin/users/",
        f"/admin/users/details/?id={user_id}",
        f"/admin/users/edit/?id={user_id}",
        f"/admin/users/password/?id={user_id}",
        "/admin/users/?search=marlowe",
        "/admin/profiles/",
        f"/admin/profiles/details/?id={user_id}",
        "/admin/",
    ]
    texts = []
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        texts.append(response.text)
    return texts


def test_the_password_hash_never_appears_in_any_admin_page(
    app: Flask, superuser_client: FlaskClient, library: Library
) -> None:
    with app.app_context():
        password_hash = db.session.get(User, library.member.id).password_hash  # type: ignore[union-attr]
    assert password_hash.startswith("$argon2")

    for text in every_user_page(superuser_client, library.member.id):
        assert password_hash not in text
        assert "$argon2" not in text
        assert "password_hash" not in text


def test_user_search_finds_by_email_or_username(
    app: Flask, staff_client: FlaskClient, library: Library
) -> None:
    make_user(app, email="someone.else@example.com", username="someone_else")

    by_username = staff_client.get("/admin/users/?search=marlow").text
    by_email = staff_client.get("/admin/users/?search=someone.else@").text

    assert "marlowe@example.com" in by_username and "someone.else@example.com" not in by_username
    assert "someone.else@example.com" in by_email and "marlowe@example.com" not in by_email


def edit_user(client: FlaskClient, user: User, **changes: object) -> object:
    page = f"/admin/users/edit/?id={user.id}"
    fields: dict[str, object] = {
        "email": user.email,
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email_verified": "y" if user.email_verified else "",
    }
    if user.is_active:
        fields["is_active"] = "y"
    fields.update(changes)
    return post_form(client, page, page, {k: v for k, v in fields.items() if v != ""})


def test_staff_edit_a_users_names_and_the_email_is_stored_lower_cased(
    app: Flask, staff_client: FlaskClient, member: User
) -> None:
    edit_user(staff_client, member, first_name="Renamed", email="NEW.Address@Example.com")

    after = stored(app, User, member.id)
    assert after.first_name == "Renamed"
    assert after.email == "new.address@example.com"


def test_staff_deactivate_a_user_from_the_edit_form(
    app: Flask, staff_client: FlaskClient, member: User
) -> None:
    edit_user(staff_client, member, is_active="")

    assert stored(app, User, member.id).is_active is False


def test_a_taken_email_is_refused_with_a_message_and_nothing_changes(
    app: Flask, staff_client: FlaskClient
) -> None:
    taken = make_user(app)
    member = make_user(app, first_name="Before")

    response = edit_user(staff_client, member, email=taken.email, first_name="After")

    after = stored(app, User, member.id)
    assert (after.email, after.first_name) == (member.email, "Before")
    assert response.status_code == 200  # the form again, with the reason
    assert "Already exists." in response.text  # type: ignore[attr-defined]


def test_a_username_differing_only_in_case_from_a_taken_one_is_refused(
    app: Flask, staff_client: FlaskClient
) -> None:
    make_user(app, username="Captain")
    member = make_user(app)

    response = edit_user(staff_client, member, username="captain")

    assert stored(app, User, member.id).username == member.username
    assert "A user with this username already exists." in response.text  # type: ignore[attr-defined]


def test_the_edit_form_offers_staff_status_only_to_superusers(
    staff_client: FlaskClient, superuser_client: FlaskClient, member: User
) -> None:
    page = f"/admin/users/edit/?id={member.id}"

    assert 'name="is_staff"' not in staff_client.get(page).text
    assert 'name="is_staff"' in superuser_client.get(page).text


def test_a_staff_member_who_is_not_superuser_cannot_grant_staff_status(
    app: Flask, staff_client: FlaskClient, member: User
) -> None:
    edit_user(staff_client, member, is_staff="y", first_name="Edited")

    after = stored(app, User, member.id)
    assert after.first_name == "Edited"  # the form was accepted...
    assert after.is_staff is False  # ...but staff status is not theirs to give


def test_a_staff_member_who_is_not_superuser_cannot_withdraw_staff_status(
    app: Flask, staff_client: FlaskClient
) -> None:
    colleague = make_user(app, is_staff=True)

    edit_user(staff_client, colleague)  # no is_staff in the form: it must not mean "off"

    assert stored(app, User, colleague.id).is_staff is True


def test_a_superuser_grants_and_withdraws_staff_status(
    app: Flask, superuser_client: FlaskClient, member: User
) -> None:
    edit_user(superuser_client, member, is_staff="y")
    assert stored(app, User, member.id).is_staff is True

    edit_user(superuser_client, stored(app, User, member.id))
    assert stored(app, User, member.id).is_staff is False


def test_no_one_can_lock_themselves_out(
    app: Flask, superuser_client: FlaskClient, superuser: User
) -> None:
    response = edit_user(superuser_client, superuser, is_active="")

    assert "You cannot deactivate your own account" in response.text  # type: ignore[attr-defined]
    after = stored(app, User, superuser.id)
    assert after.is_active is True and after.is_staff is True
    assert superuser_client.get("/admin/users/").status_code == 200


def test_deactivate_action_deactivates_the_selected_users_but_never_oneself(
    app: Flask, staff_client: FlaskClient, staff: User
) -> None:
    first, second = make_user(app), make_user(app)

    response = post_form(
        staff_client,
        "/admin/users/",
        "/admin/users/action/",
        {"action": "deactivate", "rowid": [str(first.id), str(second.id), str(staff.id)]},
    )

    assert response.status_code == 302
    assert stored(app, User, first.id).is_active is False
    assert stored(app, User, second.id).is_active is False
    assert stored(app, User, staff.id).is_active is True
    page = staff_client.get("/admin/users/").text
    assert "2 user(s) deactivated." in page
    assert "You cannot deactivate your own account." in page


def test_activate_action_reactivates_users(app: Flask, staff_client: FlaskClient) -> None:
    member = make_user(app)
    with app.app_context():
        db.session.get(User, member.id).is_active = False  # type: ignore[union-attr]
        db.session.commit()

    post_form(
        staff_client,
        "/admin/users/",
        "/admin/users/action/",
        {"action": "activate", "rowid": [str(member.id)]},
    )

    assert stored(app, User, member.id).is_active is True


def test_users_cannot_be_created_or_deleted_from_the_admin(
    app: Flask, staff_client: FlaskClient, member: User
) -> None:
    assert staff_client.get("/admin/users/new/").status_code == 302
    post_form(
        staff_client,
        "/admin/users/",
        "/admin/users/delete/",
        {"id": str(member.id), "url": "/admin/users/"},
    )

    assert stored(app, User, member.id).deleted_at is None


# --- setting a password -----------------------------------------------------------------


def set_password(client: FlaskClient, user_id: int, password: str, confirm: str | None = None):  # type: ignore[no-untyped-def]
    page = f"/admin/users/password/?id={user_id}"
    return post_form(
        client,
        page,
        page,
        {"password": password, "confirm": password if confirm is None else confirm},
    )


def test_set_password_applies_the_policy_and_names_every_broken_rule(
    app: Flask, staff_client: FlaskClient
) -> None:
    member = make_user(app, username="gertrude")
    before = stored(app, User, member.id)

    response = set_password(staff_client, member.id, "12345678")

    assert response.status_code == 400
    assert "This password is entirely numeric." in response.text
    assert "This password is too common." in response.text
    after = stored(app, User, member.id)
    assert (after.password_hash, after.token_version) == (
        before.password_hash,
        before.token_version,
    )


def test_set_password_refuses_two_different_entries(
    staff_client: FlaskClient, member: User
) -> None:
    response = set_password(
        staff_client, member.id, "violet-harbour-lantern", "violet-harbour-lanterm"
    )

    assert response.status_code == 400
    assert "The two passwords differ." in response.text


def test_set_password_changes_the_password_and_revokes_the_users_tokens(
    app: Flask, client: FlaskClient, staff_client: FlaskClient, member: User
) -> None:
    old_headers = auth_headers(app, member)
    assert client.get("/api/v1/auth/users/me/", headers=old_headers).status_code == 200

    response = set_password(staff_client, member.id, "violet-harbour-lantern")

    assert response.status_code == 302
    after = stored(app, User, member.id)
    assert after.token_version == 1
    assert client.get("/api/v1/auth/users/me/", headers=old_headers).status_code == 401
    login = client.post(
        "/api/v1/auth/login/",
        json={"email": member.email, "password": "violet-harbour-lantern"},
    )
    assert login.status_code == 200


def test_set_password_for_an_unknown_user_is_404(staff_client: FlaskClient) -> None:
    assert staff_client.get("/admin/users/password/?id=987654").status_code == 404
    assert staff_client.get("/admin/users/password/?id=abc").status_code == 404


def test_changing_ones_own_password_keeps_ones_admin_session(
    staff_client: FlaskClient, staff: User
) -> None:
    response = set_password(staff_client, staff.id, "violet-harbour-lantern")

    assert response.status_code == 302
    assert staff_client.get("/admin/users/").status_code == 200


# --- profiles ----------------------------------------------------------------------------


def test_editing_a_profile_makes_the_users_recommendations_stale(
    app: Flask, staff_client: FlaskClient, library: Library
) -> None:
    with app.app_context():
        profile = db.session.scalar(
            select(UserProfile).where(UserProfile.user_id == library.member.id)
        )
        assert profile is not None
        profile.recommendations_stale = False
        db.session.commit()
        profile_id = profile.id
    page = f"/admin/profiles/edit/?id={profile_id}"

    post_form(staff_client, page, page, {"bio": "Loves nebulae", "preferred_language": "de"})

    with app.app_context():
        profile = db.session.get(UserProfile, profile_id)
        assert profile is not None
        assert (profile.bio, profile.preferred_language) == ("Loves nebulae", "de")
        assert profile.recommendations_stale is True


# --- movies: search, filters, pagination --------------------------------------------------


def listed_titles(html: str, titles: list[str]) -> set[str]:
    return {title for title in titles if title in html}


def test_movie_search_matches_title_or_tmdb_id(app: Flask, staff_client: FlaskClient) -> None:
    make_movie(app, title="Quiet Harbour", tmdb_id=424242)
    make_movie(app, title="Loud City", tmdb_id=777001)
    titles = ["Quiet Harbour", "Loud City"]

    by_title = staff_client.get("/admin/movies/?search=harbour").text
    by_tmdb_id = staff_client.get("/admin/movies/?search=777001").text

    assert listed_titles(by_title, titles) == {"Quiet Harbour"}
    assert listed_titles(by_tmdb_id, titles) == {"Loud City"}


def filter_argument(html: str, label: str, operation: str, position: int = 0) -> str:
    """The query argument of the filter `label` `operation`, from the catalogue of filters
    Flask-Admin embeds in the list page (as its filter menu does)."""
    match = re.search(r'<div id="filter-groups-data"[^>]*>(.*?)</div>', html, flags=re.S)
    assert match, "the page offers no filters"
    groups = json.loads(unescape(match.group(1)))
    arg = next(item["arg"] for item in groups[label] if item["operation"] == operation)
    return f"flt{position}_{arg}"


def test_movie_filters_by_genre_year_and_language(app: Flask, staff_client: FlaskClient) -> None:
    horror = make_genre(app, name="Horror")
    comedy = make_genre(app, name="Comedy")
    make_movie(app, title="Night Terror", genres=[horror], release_date=date(1999, 5, 1))
    make_movie(
        app,
        title="Rire Fort",
        genres=[comedy],
        release_date=date(1999, 12, 31),
        original_language="fr",
    )
    make_movie(app, title="Old Laughs", genres=[comedy], release_date=date(1975, 1, 1))
    titles = ["Night Terror", "Rire Fort", "Old Laughs"]
    html = staff_client.get("/admin/movies/").text
    genre = filter_argument(html, "Genre", "is")
    year = filter_argument(html, "Release year", "is")
    language = filter_argument(html, "Language", "equals")
    year_second = filter_argument(html, "Release year", "is", position=1)

    by_genre = staff_client.get(f"/admin/movies/?{genre}={comedy.id}").text
    by_year = staff_client.get(f"/admin/movies/?{year}=1999").text
    by_language = staff_client.get(f"/admin/movies/?{language}=fr").text
    both = staff_client.get(f"/admin/movies/?{genre}={comedy.id}&{year_second}=1999").text

    assert listed_titles(by_genre, titles) == {"Rire Fort", "Old Laughs"}
    assert listed_titles(by_year, titles) == {"Night Terror", "Rire Fort"}
    assert listed_titles(by_language, titles) == {"Rire Fort"}
    assert listed_titles(both, titles) == {"Rire Fort"}


def test_a_nonsense_filter_value_is_ignored_not_an_error(
    app: Flask, staff_client: FlaskClient
) -> None:
    make_movie(app, title="Still Listed")
    html = staff_client.get("/admin/movies/").text
    year = filter_argument(html, "Release year", "is")

    for value in ("abc", "99999999999999999999", "-5"):
        response = staff_client.get(f"/admin/movies/?{year}={value}")
        assert response.status_code == 200
        assert "Still Listed" in response.text
    assert staff_client.get("/admin/movies/?page=abc").status_code == 200


def test_lists_show_fifty_rows_a_page_and_load_relations_with_the_page(
    app: Flask, staff_client: FlaskClient, member: User
) -> None:
    with app.app_context():
        movies = [Movie(tmdb_id=900_000 + n, title=f"Paged film {n:03d}") for n in range(60)]
        db.session.add_all(movies)
        db.session.flush()
        db.session.add_all(WatchHistory(user_id=member.id, movie_id=movie.id) for movie in movies)
        db.session.commit()
    staff_client.get("/admin/history/")  # warm up (templates, genre choices)

    with recorded_statements(app) as first_page:
        html = staff_client.get("/admin/history/").text
    with recorded_statements(app) as second_page:
        second = staff_client.get("/admin/history/?page=1").text

    assert len(re.findall(r"Paged film \d{3}", html)) == 50
    assert len(re.findall(r"Paged film \d{3}", second)) == 10
    everything = staff_client.get("/admin/history/?page_size=1000").text
    assert len(re.findall(r"Paged film \d{3}", everything)) == 50  # no way to ask for all
    assert "(60)" in html  # the count shown beside "List"
    # One count, one page with its users and movies, plus the session's staff lookup:
    # the same handful of queries whatever the page size (no query per row).
    assert len(first_page) <= 5, first_page
    assert len(second_page) == len(first_page)


def test_lists_are_sortable_by_a_related_column(
    app: Flask, staff_client: FlaskClient, library: Library
) -> None:
    other = make_user(app, email="aaron@example.com", username="aaron")
    with app.app_context():
        db.session.add(Favorite(user_id=other.id, movie_id=library.movie.id))
        db.session.commit()
    html = staff_client.get("/admin/favorites/").text
    sort_link = re.search(r'href="([^"]*sort=(\d+)[^"]*)"[^>]*>\s*User', html)
    assert sort_link, "the User column is not sortable"

    ascending = staff_client.get(f"/admin/favorites/?sort={sort_link.group(2)}").text

    assert ascending.index("aaron@example.com") < ascending.index("marlowe@example.com")


# --- moderation on library rows ----------------------------------------------------------


def test_deleting_a_rating_makes_the_users_recommendations_stale(
    app: Flask, staff_client: FlaskClient, library: Library
) -> None:
    with app.app_context():
        rating_id = db.session.scalar(select(Rating.id).where(Rating.user_id == library.member.id))
        profile = db.session.scalar(
            select(UserProfile).where(UserProfile.user_id == library.member.id)
        )
        assert profile is not None
        profile.recommendations_stale = False
        db.session.commit()

    response = post_form(
        staff_client,
        "/admin/ratings/",
        "/admin/ratings/delete/",
        {"id": str(rating_id), "url": "/admin/ratings/"},
    )

    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Rating, rating_id) is None
        stale = db.session.scalar(
            select(UserProfile.recommendations_stale).where(
                UserProfile.user_id == library.member.id
            )
        )
    assert stale is True


def test_token_blocklist_and_recommendations_are_read_only(
    app: Flask, staff_client: FlaskClient, library: Library
) -> None:
    with app.app_context():
        token_id = db.session.scalar(select(TokenBlocklist.id))

    post_form(
        staff_client,
        "/admin/token-blocklist/",
        "/admin/token-blocklist/delete/",
        {"id": str(token_id), "url": "/admin/token-blocklist/"},
    )

    with app.app_context():
        assert db.session.get(TokenBlocklist, token_id) is not None
    for page in ("/admin/token-blocklist/", "/admin/recommendations/"):
        html = staff_client.get(page).text
        assert "/edit/" not in html and "/new/" not in html
    assert staff_client.get(f"/admin/token-blocklist/edit/?id={token_id}").status_code == 302


def test_genre_names_are_editable(app: Flask, staff_client: FlaskClient) -> None:
    genre = make_genre(app, name="Sci Fi")
    page = f"/admin/genres/edit/?id={genre.id}"

    post_form(staff_client, page, page, {"name": "Science Fiction"})

    with app.app_context():
        assert db.session.get(Genre, genre.id).name == "Science Fiction"  # type: ignore[union-attr]


def test_csrf_token_appears_in_every_form_of_a_list_page(staff_client: FlaskClient) -> None:
    html = staff_client.get("/admin/genres/").text

    forms = re.findall(r"<form[^>]*method=\"post\"[^>]*>.*?</form>", html, flags=re.S | re.I)
    assert forms
    for form in forms:
        assert csrf_token_in(form)


def test_ratings_show_half_steps_and_filter_on_them(
    app: Flask, staff_client: FlaskClient, member: User
) -> None:
    titles = ["Half Step Film", "Whole Film", "Low Film"]
    with app.app_context():
        for title, value in zip(titles, ("7.5", "8", "6.5"), strict=True):
            movie = make_movie(app, title=title)
            db.session.add(Rating(user_id=member.id, movie_id=movie.id, rating=Decimal(value)))
        db.session.commit()
    html = staff_client.get("/admin/ratings/").text
    equals = filter_argument(html, "Rating", "equals")
    above = filter_argument(html, "Rating", "greater than")

    assert "7.5" in html
    assert listed_titles(staff_client.get(f"/admin/ratings/?{equals}=7.5").text, titles) == {
        "Half Step Film"
    }
    assert listed_titles(staff_client.get(f"/admin/ratings/?{above}=7").text, titles) == {
        "Half Step Film",
        "Whole Film",
    }
