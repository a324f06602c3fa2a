"""Model versions at the benchmark's scale: training time, the stored version's size, and the
peak memory (RSS) of a web worker serving with the model loaded.

    python -m benchmarks.model_versions                   # SQLite file under instance/
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1/bench python -m benchmarks.model_versions

Same generated data as benchmarks.recommender (BENCH_MOVIES, BENCH_USERS, BENCH_RATINGS;
defaults 10,000 movies, 500 users, 20,000 ratings). Each "worker" is a fresh Python process
that builds the app (as a gunicorn worker does), then answers refreshes and similar-movie
requests for BENCH_SAMPLE users; its peak RSS is the kernel's VmHWM. It runs once with
a current version (the model loaded) and once with none (the fallback), so the difference is
what the model costs a worker; a third process trains a version, to show what a worker that
trained (as before) paid on top.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time

from sqlalchemy import delete

from app.extensions import db
from app.models import ItemModelActivation, ItemModelVersion, User
from app.services.recommendation.item_model import learn_item_model
from app.services.recommendation.loading import load_positive_interactions
from app.services.recommendation.model_versions import train_model_version
from app.services.recommendation.state import served_model
from app.services.tokens import issue_tokens
from benchmarks.recommender import (
    REFRESH_URL,
    SEED,
    Sizes,
    database_url,
    env_int,
    generate_data,
    load_average,
    make_app,
    reset_database,
)


def peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM). Not ru_maxrss: Linux keeps that across
    exec, so a child would report the (larger) benchmark process's peak."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def resident_mib() -> dict[str, float]:
    """This process's resident memory now: anonymous (its own heap, numpy arrays, Python
    objects) and file-backed (mapped shared libraries such as numpy's and ICU's, which the
    page cache shares with every process that maps them)."""
    figures = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(("RssAnon:", "RssFile:")):
                figures[line.split(":")[0]] = round(int(line.split()[1]) / 1024, 1)  # kB
    return figures


def worker(url: str, users: int, sample: int) -> dict[str, object]:
    """A web worker's life: build the app, load the current version, serve requests."""
    app = make_app(url)
    booted = peak_rss_mib()
    with app.app_context():
        served = served_model(check=True)
    rng = random.Random(SEED + 2)
    chosen = rng.sample(range(1, users + 1), min(sample, users))
    with app.app_context(), app.test_request_context():
        tokens = {}
        for user_id in chosen:
            user = db.session.get(User, user_id)
            assert user is not None
            tokens[user_id] = issue_tokens(user)["access"]
    client = app.test_client()
    for user_id in chosen:
        headers = {"Authorization": f"Bearer {tokens[user_id]}"}
        assert client.post(REFRESH_URL, headers=headers).status_code == 200
        movie_id = rng.randint(1, 1000)  # ids 1..BENCH_MOVIES exist
        assert client.get(f"/api/v1/recommendations/similar/{movie_id}/").status_code == 200
    return {
        "version": served.version_id if served else None,
        "booted_mib": round(booted, 1),
        "peak_mib": round(peak_rss_mib(), 1),
        **resident_mib(),
    }


def trainer(url: str) -> dict[str, object]:
    """A process that trains one version (what a job does; what a worker used to do)."""
    app = make_app(url)
    with app.app_context():
        version = train_model_version()
        return {"version": version.id, "peak_mib": round(peak_rss_mib(), 1)}


def in_subprocess(role: str, url: str, sizes: Sizes) -> dict[str, object]:
    """Run `role` in a fresh interpreter and return what it printed (JSON)."""
    command = [sys.executable, "-m", "benchmarks.model_versions", role, url]
    command += [str(sizes.users), str(sizes.sample)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> int:
    print(f"{os.cpu_count()} CPUs, load average {load_average()} (1, 5, 15 min)")
    sizes = Sizes(
        movies=env_int("BENCH_MOVIES", 10_000),
        users=env_int("BENCH_USERS", 500),
        ratings=env_int("BENCH_RATINGS", 20_000),
        sample=env_int("BENCH_SAMPLE", 20),
    )
    url = database_url("models")
    app = make_app(url)
    reset_database(app)
    counts = generate_data(app, sizes)
    print(
        f"data: {counts['movies']:,} movies, {counts['users']} users, {counts['ratings']:,} "
        f"ratings, {counts['favourites']:,} favourites ({url.split('://')[0]})"
    )
    with app.app_context():
        interactions = load_positive_interactions(db.session)
        started = time.perf_counter()
        model = learn_item_model(interactions.user_ids, interactions.tmdb_ids)
        learn_seconds = time.perf_counter() - started
        version = train_model_version()
        print(
            f"training: {version.training_seconds:.2f} s in all (learning alone "
            f"{learn_seconds:.2f} s, the rest reading and the offline validation); "
            f"{version.items:,} items, {version.interactions:,} interactions, "
            f"{model.similarity.nnz:,} neighbour weights"
        )
        print(
            f"stored version {version.id}: {version.weights_bytes / 1024:.0f} KiB of weights "
            f"(.npz, compressed); NDCG@10 {version.ndcg_at_10}, coverage@10 "
            f"{version.coverage_at_10} over {version.validation_users} users"
        )
    with_model = in_subprocess("worker", url, sizes)
    with app.app_context():
        db.session.execute(delete(ItemModelActivation))
        db.session.execute(delete(ItemModelVersion))
        db.session.commit()
    without_model = in_subprocess("worker", url, sizes)
    training = in_subprocess("trainer", url, sizes)
    print(
        f"web worker peak RSS, {sizes.sample} refreshes and similar-movie requests: "
        f"{with_model['peak_mib']} MiB with version {with_model['version']} loaded, "
        f"{without_model['peak_mib']} MiB with no version (app built: "
        f"{with_model['booted_mib']} MiB)"
    )
    print(
        f"resident at the end, with the version: {with_model['RssAnon']} MiB anonymous, "
        f"{with_model['RssFile']} MiB file-backed (shared libraries)"
    )
    print(f"a process that trains one version peaks at {training['peak_mib']} MiB")
    print(f"load average now {load_average()}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1:
        role, url = sys.argv[1], sys.argv[2]
        if role == "worker":
            print(json.dumps(worker(url, int(sys.argv[3]), int(sys.argv[4]))))
        else:
            print(json.dumps(trainer(url)))
        sys.exit(0)
    sys.exit(main())
