"""Command-line entry points (`flask ...`), each group in its own module."""

from __future__ import annotations

from flask import Flask

from app.cli.accounts import create_superuser_command, prune_tokens_command
from app.cli.catalogue import sync_tmdb_command
from app.cli.demo import seed_demo_command
from app.cli.history_import import import_history_command
from app.cli.impressions import prune_impressions_command
from app.cli.jobs import jobs_group
from app.cli.movielens import import_movielens_command
from app.cli.recommendations import recommend_command
from app.cli.recommender import recommender_group


def register_cli(app: Flask) -> None:
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(import_movielens_command)
    app.cli.add_command(import_history_command)
    app.cli.add_command(recommender_group)
    app.cli.add_command(recommend_command)
    app.cli.add_command(sync_tmdb_command)
    app.cli.add_command(prune_tokens_command)
    app.cli.add_command(prune_impressions_command)
    app.cli.add_command(create_superuser_command)
    app.cli.add_command(jobs_group)
