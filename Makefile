# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := wsgi.py

.PHONY: run worker test lint typecheck format bench bench-requests bench-models bench-scaling bench-workers load load-mix fuzz e2e install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/flask db upgrade
	$(BIN)/flask seed-demo
	$(BIN)/flask recommender train --if-due
	$(BIN)/gunicorn --config gunicorn.conf.py wsgi:app

# The background jobs (docs/jobs.md): a Celery worker with the beat scheduler inside it.
# Needs CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/1); the Procfile runs them apart.
worker: install
	@test -n "$${CELERY_BROKER_URL:-$$(grep -s '^CELERY_BROKER_URL=.' .env)}" || \
		{ echo "Set CELERY_BROKER_URL (in the environment or .env) to run a worker."; exit 2; }
	$(BIN)/celery -A make_celery worker --beat --loglevel INFO \
		--schedule instance/celerybeat-schedule --concurrency $${CELERY_CONCURRENCY:-2}

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: install
	$(BIN)/mypy

bench: install
	$(BIN)/python -m benchmarks.recommender
	$(BIN)/python -m benchmarks.impressions

$(VENV)/.installed-load: requirements-load.txt | $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-load.txt
	touch $@

# A longer schemathesis campaign than the bounded one `make test` runs.
fuzz: install
	FUZZ_MAX_EXAMPLES=$${FUZZ_MAX_EXAMPLES:-200} $(BIN)/python -m pytest -q -m fuzz tests/fuzz

# Needs PostgreSQL, Redis and wrk on 127.0.0.1 (see docs/performance.md); stops by itself.
load: $(VENV)/.installed-load
	@command -v wrk >/dev/null || apt-get install -y wrk
	$(BIN)/python loadtest/run.py

# The locust traffic mix (logins, writes, browsing) instead of one endpoint at a time.
load-mix: $(VENV)/.installed-load
	$(BIN)/python loadtest/run.py --mix

# Statements and CPU per hot request, in-process (no server).
bench-requests: install
	$(BIN)/python -m benchmarks.requests

# Model versions: training time, stored size, a web worker's peak RSS with the model loaded;
# then the workers' RSS, PSS and private memory under gunicorn (preload_app) on that data.
bench-models: install
	$(BIN)/python -m benchmarks.model_versions
	$(BIN)/python -m benchmarks.worker_memory

# `flask recommend --all` over 5,000 users on one Celery worker process, then two (docs/scaling.md).
# Needs BENCH_DATABASE_URL (PostgreSQL) and BENCH_REDIS_URL; says so and stops without them.
bench-scaling: install
	$(BIN)/python -m benchmarks.scaling

# gunicorn as deployed (production config, PostgreSQL, Redis, 10,000 movies) with 2 and 5
# workers: boot to the first answer, refresh p50/p95/p99, recycling, each process's RSS and
# PSS (docs/performance.md). Needs BENCH_DATABASE_URL (PostgreSQL), BENCH_REDIS_URL and wrk.
bench-workers: install
	$(BIN)/python -m benchmarks.workers

# Swagger UI and the admin in headless chromium (installed with apt-get when missing)
# against gunicorn; screenshots go to docs/screenshots/.
e2e: install
	$(BIN)/python -m pytest -m e2e tests/e2e $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) instance .mypy_cache .ruff_cache
