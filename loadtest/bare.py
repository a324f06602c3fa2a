"""The ceilings of the machine for `make load`, served by the same gunicorn config as the API
(`gunicorn -c gunicorn.conf.py loadtest.bare:app`):

- a bare Flask route returning a constant JSON body (each endpoint's req/s is reported as a
  ratio to it);
- the same route after one primary-key SELECT through a pooled SQLAlchemy engine on
  psycopg2, the stack every API read uses: what any endpoint that sends one statement can
  reach at best;
- the same route after the three statements the stored recommendations cannot do without
  (the token holder with its blocklist check, the user's 20 best stored recommendations, and
  their impressions INSERT with its commit, as the API sends it), with no framework, token,
  rate limit or serialisation around them: what that endpoint can reach at best.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from flask import Flask
from sqlalchemy import Integer, bindparam, create_engine, text

from app.models.base import utcnow
from app.services.recommendation_impressions import IMPRESSIONS_FROM_ARRAYS

app = Flask(__name__)

# Connections are opened on first use, in each worker (the master only imports this).
engine = create_engine(os.environ.get("DATABASE_URL", "sqlite://"), pool_size=4)
ONE_MOVIE = text("SELECT id FROM movies WHERE id = :id").bindparams(bindparam("id", type_=Integer))
READER = text("SELECT min(user_id) FROM recommendations")
TOKEN_HOLDER = text(
    "SELECT users.*, EXISTS (SELECT 1 FROM token_blocklist WHERE jti = :jti) "
    "FROM users WHERE users.id = :user_id"
)
STORED = text(
    "SELECT movie_id, rank, recommendation_type FROM recommendations "
    "WHERE user_id = :user_id AND removed_at IS NULL ORDER BY rank, id LIMIT 20"
)


@app.get("/bare/")
def bare() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/bare/query/")
def bare_query() -> dict[str, object]:
    with engine.connect() as connection:
        movie_id = connection.execute(ONE_MOVIE, {"id": 1}).scalar()
    return {"status": "ok", "id": movie_id}


@cache
def reader_id() -> int:
    """The load test's reader: the one user with stored recommendations."""
    with engine.connect() as connection:
        return int(connection.execute(READER).scalar_one())


@app.get("/bare/stored/")
def bare_stored() -> dict[str, Any]:
    user_id = reader_id()
    with engine.begin() as connection:
        connection.execute(TOKEN_HOLDER, {"user_id": user_id, "jti": "load"}).one()
        shown = connection.execute(STORED, {"user_id": user_id}).all()
        connection.execute(
            IMPRESSIONS_FROM_ARRAYS,
            {
                "user_id": user_id,
                "movie_ids": [row.movie_id for row in shown],
                "ranks": [row.rank for row in shown],
                "types": [row.recommendation_type for row in shown],
                "model_version": "load",
                "shown_at": utcnow(),
                "cold_start": False,
            },
        )
    return {"status": "ok", "shown": len(shown)}
