"""The ceilings of the machine for `make load`, served by the same gunicorn config as the API
(`gunicorn -c gunicorn.conf.py loadtest.bare:app`): a bare Flask route returning a constant
JSON body (each endpoint's req/s is reported as a ratio to it), and the same route after
one primary-key SELECT through a pooled SQLAlchemy engine on psycopg2, the stack every API
read uses: what any endpoint that sends one statement can reach at best."""

from __future__ import annotations

import os

from flask import Flask
from sqlalchemy import Integer, bindparam, create_engine, text

app = Flask(__name__)

# Connections are opened on first use, in each worker (the master only imports this).
engine = create_engine(os.environ.get("DATABASE_URL", "sqlite://"), pool_size=4)
ONE_MOVIE = text("SELECT id FROM movies WHERE id = :id").bindparams(bindparam("id", type_=Integer))


@app.get("/bare/")
def bare() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/bare/query/")
def bare_query() -> dict[str, object]:
    with engine.connect() as connection:
        movie_id = connection.execute(ONE_MOVIE, {"id": 1}).scalar()
    return {"status": "ok", "id": movie_id}
