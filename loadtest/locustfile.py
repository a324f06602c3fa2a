"""A realistic traffic mix for `make load`: 60% catalogue reads, 20% recommendations,
10% library writes, 10% authentication.

Each simulated user logs in once as one of the load-test accounts that `loadtest/run.py`
creates (loadtest-N@example.com), then browses.
"""

from __future__ import annotations

import itertools
import os
import random
import threading

from locust import FastHttpUser, between, task

PASSWORD = "load-test-password-2024"
USER_COUNT = 200
_next_user = itertools.count()
_lock = threading.Lock()

ORDERINGS = ["-popularity", "-vote_average", "title", "-release_date"]
GENRES = ["28", "18", "35", "878", "53", "12,14"]


class ApiUser(FastHttpUser):  # geventhttpclient: the load generator stays light
    # A person reading a page between clicks; LOAD_THINK_MAX=0.3 turns this into a stress run.
    wait_time = between(
        float(os.environ.get("LOAD_THINK_MIN", "0.5")),
        float(os.environ.get("LOAD_THINK_MAX", "1.5")),
    )

    def on_start(self) -> None:
        with _lock:
            number = next(_next_user) % USER_COUNT
        self.email = f"loadtest-{number}@example.com"
        self.login()
        response = self.client.get("/api/v1/movies/movies/?page_size=100", name="/movies/ [ids]")
        self.movie_ids = [movie["id"] for movie in response.json()["results"]] or [1]

    def login(self) -> None:
        response = self.client.post(
            "/api/v1/auth/login/",
            json={"email": self.email, "password": PASSWORD},
            name="/auth/login/",
        )
        tokens = response.json()["tokens"]
        self.access, self.refresh = tokens["access"], tokens["refresh"]
        self.headers = {"Authorization": f"Bearer {self.access}"}

    # 60%: catalogue reads
    @task(25)
    def browse_catalogue(self) -> None:
        params = {"ordering": random.choice(ORDERINGS), "page": random.randint(1, 5)}
        if random.random() < 0.4:
            params["genre"] = random.choice(GENRES)
        self.client.get("/api/v1/movies/movies/", params=params, name="/movies/")

    @task(20)
    def movie_details(self) -> None:
        movie_id = random.choice(self.movie_ids)
        self.client.get(f"/api/v1/movies/movies/{movie_id}/", name="/movies/{id}/")

    @task(10)
    def search_catalogue(self) -> None:
        term = random.choice(["the", "star", "love", "man", "night", "war"])
        self.client.get("/api/v1/movies/movies/", params={"search": term}, name="/movies/?search")

    @task(5)
    def genres(self) -> None:
        self.client.get("/api/v1/movies/genres/", name="/movies/genres/")

    # 20%: recommendations
    @task(14)
    def recommendations(self) -> None:
        self.client.get("/api/v1/recommendations/", headers=self.headers, name="/recommendations/")

    @task(6)
    def similar(self) -> None:
        movie_id = random.choice(self.movie_ids)
        self.client.get(
            f"/api/v1/recommendations/similar/{movie_id}/", name="/recommendations/similar/{id}/"
        )

    # 10%: library writes
    @task(5)
    def toggle_favorite(self) -> None:
        movie_id = random.choice(self.movie_ids)
        with self.client.post(
            "/api/v1/favorites/favorites/",
            json={"movie": movie_id},
            headers=self.headers,
            name="/favorites/favorites/ [add]",
            catch_response=True,
        ) as response:
            if response.status_code == 409:  # already a favourite: remove it instead
                response.success()
                existing = response.json()["existing_id"]
                self.client.delete(
                    f"/api/v1/favorites/favorites/{existing}/",
                    headers=self.headers,
                    name="/favorites/favorites/{id}/ [delete]",
                )

    @task(5)
    def rate(self) -> None:
        movie_id = random.choice(self.movie_ids)
        with self.client.post(
            "/api/v1/favorites/ratings/",
            json={"movie": movie_id, "rating": random.randint(1, 10)},
            headers=self.headers,
            name="/favorites/ratings/ [add]",
            catch_response=True,
        ) as response:
            if response.status_code == 409:
                response.success()
                existing = response.json()["existing_id"]
                self.client.patch(
                    f"/api/v1/favorites/ratings/{existing}/",
                    json={"rating": random.randint(1, 10)},
                    headers=self.headers,
                    name="/favorites/ratings/{id}/ [update]",
                )

    # 10%: authentication
    @task(5)
    def me(self) -> None:
        self.client.get("/api/v1/auth/users/me/", headers=self.headers, name="/auth/users/me/")

    @task(4)
    def refresh_tokens(self) -> None:
        response = self.client.post(
            "/api/v1/auth/token/refresh/",
            json={"refresh": self.refresh},
            name="/auth/token/refresh/",
        )
        if response.status_code == 200:
            body = response.json()
            self.access, self.refresh = body["access"], body["refresh"]
            self.headers = {"Authorization": f"Bearer {self.access}"}

    @task(1)
    def log_in_again(self) -> None:
        self.login()
