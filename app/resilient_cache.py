"""flask-caching's Redis backend, where Redis being down is a cache miss, never an error.

A failed call is logged once and Redis is then skipped for CACHE_RETRY_SECONDS, so an
outage costs one short timeout per process and period, not one per cache call. Writes made
while Redis is skipped are lost: cached values then live until their own timeout.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from flask import Flask
from flask_caching.backends.rediscache import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

T = TypeVar("T")


class ResilientRedisCache(RedisCache):
    """A RedisCache whose every call degrades to a miss (or a no-op) when Redis fails."""

    retry_seconds = 5.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._skip_until = 0.0
        self._lock = threading.Lock()

    @classmethod
    def factory(
        cls, app: Flask, config: dict[str, Any], args: list[Any], kwargs: dict[str, Any]
    ) -> ResilientRedisCache:
        cache = super().factory(app, config, args, kwargs)
        assert isinstance(cache, ResilientRedisCache)
        cache.retry_seconds = float(config.get("CACHE_RETRY_SECONDS", cls.retry_seconds))
        return cache

    @property
    def bypassed(self) -> bool:
        """True while Redis is being skipped after a failure."""
        return time.monotonic() < self._skip_until

    def ping(self) -> bool:
        """Whether Redis answers now (used by the readiness probe; never raises)."""
        try:
            return bool(self._read_client.ping())
        except RedisError:
            return False

    def _guard(self, fallback: T, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self.bypassed:
            return fallback
        try:
            return call(*args, **kwargs)
        except RedisError as error:
            with self._lock:
                first = not self.bypassed
                self._skip_until = time.monotonic() + self.retry_seconds
            if first:
                logger.warning(
                    "cache unavailable (%s): serving without it for %.0f s",
                    error.__class__.__name__,
                    self.retry_seconds,
                )
            return fallback

    def get(self, key: str) -> Any:
        return self._guard(None, super().get, key)

    def get_many(self, *keys: str) -> list[Any]:
        return self._guard([None] * len(keys), super().get_many, *keys)

    def has(self, key: str) -> bool:
        return self._guard(False, super().has, key)

    def set(self, key: str, value: Any, timeout: int | timedelta | None = None) -> Any:
        return self._guard(False, super().set, key, value, timeout)

    def add(self, key: str, value: Any, timeout: int | timedelta | None = None) -> Any:
        return self._guard(False, super().add, key, value, timeout)

    def set_many(self, mapping: dict[str, Any], timeout: int | timedelta | None = None) -> Any:
        return self._guard([], super().set_many, mapping, timeout)

    def delete(self, key: str) -> Any:
        return self._guard(False, super().delete, key)

    def delete_many(self, *keys: str) -> Any:
        return self._guard([], super().delete_many, *keys)

    def inc(self, key: str, delta: int = 1) -> Any:
        return self._guard(None, super().inc, key, delta)

    def dec(self, key: str, delta: int = 1) -> Any:
        return self._guard(None, super().dec, key, delta)

    def clear(self) -> bool:
        return self._guard(False, super().clear)
