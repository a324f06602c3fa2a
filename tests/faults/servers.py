"""Real services a fault test starts, breaks and restarts: a redis-server on its own port,
and the API itself under gunicorn (its production server) in a subprocess."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(condition, timeout: float, interval: float = 0.1) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return False


class RedisServer:
    """`redis-server` without persistence on a free loopback port; `kill()` is SIGKILL."""

    binary = shutil.which("redis-server")

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert self.binary, "redis-server is not installed"
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if not wait_until(self.answers, 10):
            raise RuntimeError("redis-server did not start")

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def key_count(self) -> int:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
            sock.sendall(b"DBSIZE\r\n")
            return int(sock.recv(64).strip().lstrip(b":"))

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None


class ApiServer:
    """The app under gunicorn (one worker, four threads) with the given environment."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        # Closed in stop(): it outlives this method by design.
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115
            prefix="api-server-", suffix=".log", delete=False
        )
        self.env = {
            **os.environ,
            "APP_ENV": "development",
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "WEB_CONCURRENCY": "1",
            "GUNICORN_THREADS": "4",
            "GUNICORN_ACCESS_LOG": "/dev/null",
            "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="api-metrics-"),
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        if not wait_until(self.is_live, 60, 0.25):
            self.stop()
            raise RuntimeError(f"the API did not start:\n{self.output()}")

    def is_live(self) -> bool:
        try:
            return requests.get(self.base_url + "/health/live/", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
            self.process = None
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)
