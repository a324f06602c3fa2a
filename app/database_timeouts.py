"""Bounded time for every PostgreSQL call: connecting, waiting for the pool, statements.

PostgreSQL enforces `statement_timeout` itself, but a server that is frozen (stopped,
swapped out, or behind a network path that drops packets) enforces nothing, and libpq has
no read timeout: the kernel keeps acknowledging the socket and the driver waits forever.
So a watchdog thread shuts down the socket of a call that outlives its deadline; the driver
then raises a disconnect error (answered 503 `database_unavailable` by app/errors.py) and
the pool replaces the connection, so the app recovers by itself when the server returns.

The options work with both libpq drivers (psycopg 3 and psycopg2).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import socket
import threading
import time
from collections.abc import Mapping
from typing import Any

import click
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DisconnectionError

logger = logging.getLogger(__name__)

# A frozen server gets this long past its own statement timeout before the client gives up.
STATEMENT_GRACE_SECONDS = 0.5
# The ping that checks a pooled connection before it is handed out.
PING_SECONDS = 1.0


def is_postgres(database_uri: str) -> bool:
    return make_url(database_uri).get_backend_name() == "postgresql"


def running_a_cli_command() -> bool:
    """True under `flask <command>` (click is running it), false under gunicorn or tests."""
    return click.get_current_context(silent=True) is not None


def statement_timeout_ms(config: Mapping[str, Any]) -> int:
    """The web requests' statement timeout, or the CLI's under `flask <command>`."""
    if running_a_cli_command():
        return int(config["DATABASE_CLI_STATEMENT_TIMEOUT_MS"])
    return int(config["DATABASE_STATEMENT_TIMEOUT_MS"])


def engine_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """SQLALCHEMY_ENGINE_OPTIONS with the timeouts added (options set explicitly win)."""
    options = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if not is_postgres(config["SQLALCHEMY_DATABASE_URI"]):
        options.setdefault("pool_pre_ping", True)
        return options
    # The checkout ping below replaces pool_pre_ping, whose ping could wait forever.
    options["pool_pre_ping"] = False
    options.setdefault("pool_timeout", config["DATABASE_POOL_TIMEOUT"])
    connect_args = dict(options.get("connect_args") or {})
    # libpq's connect_timeout covers the whole handshake (TCP, TLS, authentication).
    connect_args.setdefault("connect_timeout", max(1, int(config["DATABASE_CONNECT_TIMEOUT"])))
    timeout = statement_timeout_ms(config)
    if timeout > 0 and "options" not in connect_args:
        connect_args["options"] = f"-c statement_timeout={timeout}"
    options["connect_args"] = connect_args
    return options


def install_deadlines(engine: Engine, statement_ms: int, ping_after_idle: float = 0.0) -> None:
    """Watch every statement (for `statement_ms` plus a grace) and ping on checkout a
    connection that sat in the pool for `ping_after_idle` seconds or more (0: every one).

    A connection returned a moment ago is handed out unpinged: under load that is every
    checkout, and the ping was a round trip on every request. Its statements are still
    watched, so a server that died since costs that request a 503, never a hang."""
    statement_seconds = statement_ms / 1000 + STATEMENT_GRACE_SECONDS if statement_ms else 0.0
    driver_error = engine.dialect.loaded_dbapi.Error

    @event.listens_for(engine, "checkin")
    def note_checkin(dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info["checked_in_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def ping_before_use(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        idle_since = record.info.get("checked_in_at")
        if idle_since is not None and time.monotonic() - idle_since < ping_after_idle:
            return
        key = id(dbapi_connection)
        watchdog.arm(key, dbapi_connection.fileno(), PING_SECONDS)
        try:
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
        except driver_error as error:
            # The pool discards this connection and opens a new one (connect_timeout).
            raise DisconnectionError("the pooled connection did not answer") from error
        finally:
            watchdog.disarm(key)

    if not statement_seconds:
        return

    @event.listens_for(engine, "before_cursor_execute")
    def arm(conn: Any, cursor: Any, statement: Any, params: Any, context: Any, many: Any) -> None:
        watchdog.arm(id(conn), conn.connection.dbapi_connection.fileno(), statement_seconds)

    @event.listens_for(engine, "after_cursor_execute")
    def disarm(
        conn: Any, cursor: Any, statement: Any, params: Any, context: Any, many: Any
    ) -> None:
        watchdog.disarm(id(conn))

    @event.listens_for(engine, "handle_error")
    def disarm_on_error(context: Any) -> None:
        if context.connection is not None:
            watchdog.disarm(id(context.connection))


class SocketWatchdog:
    """Shuts down the socket of every call still armed past its deadline."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._armed: dict[int, tuple[float, int]] = {}
        self._thread: threading.Thread | None = None
        self._pid = 0
        # When the watchdog next looks, and the shortest deadline ever armed (how long it
        # may sleep with nothing armed: no later call can be due before that).
        self._wakes_at = math.inf
        self._shortest = math.inf

    def arm(self, key: int, fileno: int, seconds: float) -> None:
        with self._condition:
            deadline = time.monotonic() + seconds
            self._armed[key] = (deadline, fileno)
            self._shortest = min(self._shortest, seconds)
            self._ensure_thread()
            # Woken only when this deadline comes before its own: waking it for every
            # statement cost each one a thread switch.
            if deadline < self._wakes_at:
                self._condition.notify()

    def disarm(self, key: int) -> None:
        # Under the lock, so the watchdog never acts on a socket after its call returned
        # (its descriptor could by then belong to another connection).
        with self._condition:
            self._armed.pop(key, None)

    def _ensure_thread(self) -> None:
        # Threads do not survive fork(): each gunicorn worker starts its own.
        if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="database-watchdog", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        with self._condition:
            while True:
                now = time.monotonic()
                for key, (deadline, fileno) in list(self._armed.items()):
                    if deadline <= now:
                        del self._armed[key]
                        shut_down_socket(fileno)
                self._wakes_at = min(
                    (deadline for deadline, _ in self._armed.values()),
                    default=now + self._shortest,
                )
                self._condition.wait(None if math.isinf(self._wakes_at) else self._wakes_at - now)


def shut_down_socket(fileno: int) -> None:
    """Wake the driver blocked on this socket: it reads end-of-file and gives up."""
    logger.error("database call past its deadline: closing its connection")
    with contextlib.suppress(OSError):
        sock = socket.socket(fileno=os.dup(fileno))
        try:
            sock.shutdown(socket.SHUT_RDWR)
        finally:
            sock.close()


watchdog = SocketWatchdog()
