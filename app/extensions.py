"""Flask extensions, created unbound here and bound to the app in create_app()."""

from __future__ import annotations

from flask_caching import Cache
from flask_cors import CORS
from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from app.api import ProblemApi
from app.models.base import Base
from app.ratelimit import default_rate_limit, rate_limit_key

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
jwt = JWTManager()
api = ProblemApi()
cache = Cache()
cors = CORS()
limiter = Limiter(key_func=rate_limit_key, default_limits=[default_rate_limit])
