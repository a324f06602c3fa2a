"""Flask extensions, created unbound here and bound to the app in create_app()."""

from __future__ import annotations

from flask_caching import Cache
from flask_cors import CORS
from flask_limiter import Limiter
from flask_sqlalchemy import SQLAlchemy

from app.api import ProblemApi
from app.models.base import Base
from app.ratelimit import default_rate_limit, outside_api_budget, rate_limit_key
from app.verified_tokens import OnceVerifyingJWTManager

db = SQLAlchemy(model_class=Base)
jwt = OnceVerifyingJWTManager()
api = ProblemApi()
cache = Cache()
cors = CORS()
# One budget per caller across the whole API (100/hour anonymous, 1000/hour signed in);
# login and registration are exempt from it and have buckets of their own; probes,
# documentation and the staff admin count against none (`exempt_blueprints`).
limiter = Limiter(
    key_func=rate_limit_key,
    application_limits=[default_rate_limit],
    application_limits_exempt_when=outside_api_budget,
    # app/ratelimit.py sends the X-RateLimit-* headers (RATELIMIT_HEADERS_ENABLED).
    headers_enabled=False,
)
