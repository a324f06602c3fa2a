"""Property-based fuzzing of every documented operation, generated from the OpenAPI document.

Each operation is called anonymously and with a valid Bearer token, with valid and invalid
inputs. No response may be a 5xx, and every response must match what the document says
(status code, content type, body schema). The run is bounded and reproducible
(derandomised, FUZZ_MAX_EXAMPLES examples per operation, 15 by default); `make fuzz`
runs a longer campaign.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app import create_app
from tests.factories import auth_headers, make_user
from tests.fake_tmdb import FakeTMDb

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "15"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


# The schema is read at collection time, so from an app of its own; it shares the suite's
# database session (db.session is global), and the fixture below points it at the fake TMDb.
fuzz_app = create_app("testing")
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", fuzz_app)


@pytest.fixture(autouse=True)
def _fuzz_app_uses_the_fake_tmdb(fake_tmdb: FakeTMDb) -> None:
    fuzz_app.config["TMDB_BASE_URL"] = fake_tmdb.base_url


@pytest.fixture
def user_headers() -> dict[str, str]:
    return auth_headers(fuzz_app, make_user(fuzz_app))


FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)


@pytest.mark.fuzz
@schema.parametrize()
@FUZZ_SETTINGS
def test_every_operation_answers_anonymous_callers_as_documented(case: Any) -> None:
    case.call_and_validate(checks=CHECKS)


@pytest.mark.fuzz
@schema.parametrize()
@FUZZ_SETTINGS
def test_every_operation_answers_signed_in_callers_as_documented(
    case: Any, user_headers: dict[str, str]
) -> None:
    case.call_and_validate(headers={**(case.headers or {}), **user_headers}, checks=CHECKS)
