"""How every Redis client of the app connects: short timeouts and no long retry loops.

redis-py retries a failed command ten times with back-off by default; with Redis down that
made each request wait before its error. Here a command gets one quick retry (a pooled
connection may have been closed by a Redis restart) and then fails, so the cache can treat
it as a miss and the rate limiter can fall back to in-process counters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from redis.backoff import NoBackoff
from redis.retry import Retry


def redis_client_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments for redis.Redis / redis.from_url."""
    timeout = float(config["REDIS_SOCKET_TIMEOUT"])
    return {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry": Retry(NoBackoff(), 1),
    }
