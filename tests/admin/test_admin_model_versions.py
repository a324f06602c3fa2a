"""The admin's model versions: listed with their figures and the current one marked, and a
rollback that makes an older version current without changing any version."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from app.models import User
from app.services.recommendation.model_versions import current_version_id
from tests.factories import add_favorites, make_genre, make_movie, make_user
from tests.helpers import last_activation, post_form, train_model


def trained_versions(app: Flask, count: int) -> list[int]:
    genre = make_genre(app, name="Drama")
    movies = [make_movie(app, genres=[genre]) for _ in range(3)]
    versions = []
    for _ in range(count):
        add_favorites(app, make_user(app), *movies[:2])
        versions.append(train_model(app))
    return versions


def current_column(html: str) -> list[str]:
    """The list page's "current" cells, top row first."""
    return re.findall(r'<td class="col-current">\s*(\w*)\s*</td>', html)


def make_current(client: FlaskClient, ids: list[int]):  # type: ignore[no-untyped-def]
    return post_form(
        client,
        "/admin/model-versions/",
        "/admin/model-versions/action/",
        {"action": "make_current", "rowid": [str(i) for i in ids]},
    )


def test_the_versions_page_lists_each_version_and_marks_the_current_one(
    app: Flask, staff_client: FlaskClient
) -> None:
    first, second = trained_versions(app, 2)

    page = staff_client.get("/admin/model-versions/")

    assert page.status_code == 200
    assert "NDCG@10" in page.text and "Coverage@10" in page.text and "ease" in page.text
    assert current_column(page.text) == ["current", ""]  # newest first
    details = staff_client.get(f"/admin/model-versions/details/?id={second}")
    assert details.status_code == 200 and "current" in details.text
    assert "current" not in staff_client.get(f"/admin/model-versions/details/?id={first}").text


def test_staff_roll_back_to_an_older_version_and_the_activation_names_them(
    app: Flask, staff: User, staff_client: FlaskClient
) -> None:
    first, _ = trained_versions(app, 2)

    response = make_current(staff_client, [first])

    assert response.status_code == 302
    with app.app_context():
        assert current_version_id() == first
    assert last_activation(app) == (first, "rollback", staff.id)
    page = staff_client.get("/admin/model-versions/").text
    assert f"Model version {first} is now current." in page
    assert current_column(page) == ["", "current"]
    activations = staff_client.get("/admin/model-activations/")
    assert activations.status_code == 200 and "rollback" in activations.text


def test_making_two_versions_current_at_once_is_refused(
    app: Flask, staff_client: FlaskClient
) -> None:
    first, second = trained_versions(app, 2)

    make_current(staff_client, [first, second])

    with app.app_context():
        assert current_version_id() == second
    assert "Select exactly one model version" in staff_client.get("/admin/model-versions/").text


def test_versions_are_never_edited_created_or_deleted_in_the_admin(
    app: Flask, staff_client: FlaskClient
) -> None:
    (version,) = trained_versions(app, 1)
    assert staff_client.get(f"/admin/model-versions/edit/?id={version}").status_code in {
        302,
        403,
        404,
    }
    assert staff_client.get("/admin/model-versions/new/").status_code in {302, 403, 404}


def test_the_versions_page_needs_a_signed_in_staff_member(app: Flask, client: FlaskClient) -> None:
    response = client.get("/admin/model-versions/")
    assert response.status_code == 302 and "/admin/login/" in response.headers["Location"]
