"""The ceiling of the machine for `make load`: a bare Flask route returning a constant JSON
body, served by the same gunicorn config as the API (`gunicorn -c gunicorn.conf.py
loadtest.bare:app`). Each endpoint's req/s is reported as a ratio to this one's."""

from __future__ import annotations

from flask import Flask

app = Flask(__name__)


@app.get("/bare/")
def bare() -> dict[str, str]:
    return {"status": "ok"}
