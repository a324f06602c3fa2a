"""Headless chromium driven over the DevTools protocol, and the real server it looks at.

Just enough of CDP for our checks: navigate, wait for a condition in the page, read every
network request and console error, take a screenshot. Everything here is bounded in time
and cleans up the processes it starts.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websocket

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--no-proxy-server",
    "--hide-scrollbars",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)
# A direct opener: loopback never goes through a proxy from the environment.
LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class BrowserCheckFailed(AssertionError):
    """The page never reached the state the check waits for."""


def ensure_chromium(timeout: float = 900) -> Path:
    """Debian's chromium, installed with apt-get when it is missing (CI runs as root)."""
    if CHROMIUM.exists():
        return CHROMIUM
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update"], check=True, timeout=timeout, env=environment)
    subprocess.run(
        ["apt-get", "install", "-y", "--no-install-recommends", "chromium"],
        check=True,
        timeout=timeout,
        env=environment,
    )
    if not CHROMIUM.exists():
        raise BrowserCheckFailed("apt-get installed chromium, but /usr/bin/chromium is missing")
    return CHROMIUM


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise BrowserCheckFailed(f"timed out after {timeout:.0f}s waiting for {what}")


def stop_process(process: subprocess.Popen[bytes], grace: float = 10) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=grace)


# --- the server ------------------------------------------------------------------------


@dataclass
class Server:
    base_url: str
    process: subprocess.Popen[bytes]
    log: Path


def run_flask(root: Path, environment: Mapping[str, str], *args: str) -> str:
    result = subprocess.run(
        [str(root / ".venv/bin/flask"), *args],
        cwd=root,
        env=dict(environment),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise BrowserCheckFailed(f"flask {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def start_server(root: Path, environment: Mapping[str, str], log: Path) -> Server:
    """gunicorn with the project's config on a free loopback port; waits for /health/live."""
    port = free_port()
    # One worker: production refuses several without REDIS_URL (per-process rate limits).
    env = {**environment, "GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "1"}
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(root / ".venv/bin/gunicorn"), "--config", "gunicorn.conf.py", "wsgi:app"],
            cwd=root,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = Server(base_url=f"http://127.0.0.1:{port}", process=process, log=log)

    def answering() -> bool:
        if process.poll() is not None:
            raise BrowserCheckFailed(f"gunicorn exited:\n{log.read_text()[-3000:]}")
        try:
            with LOCAL.open(f"{server.base_url}/health/live", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    try:
        wait_until(answering, 60, "gunicorn to answer /health/live")
    except BaseException:
        stop_process(process)
        raise
    return server


# --- the browser -----------------------------------------------------------------------


@dataclass
class NetworkRecord:
    url: str
    status: int | None = None
    failure: str | None = None


@dataclass
class Browser:
    """One chromium with one page, its network requests and console errors recorded."""

    process: subprocess.Popen[bytes]
    profile: Path
    connection: websocket.WebSocket
    requests: dict[str, NetworkRecord] = field(default_factory=dict)
    console_errors: list[str] = field(default_factory=list)
    loaded: int = 0
    _next_id: int = 0

    # Protocol plumbing

    def send(self, method: str, params: dict[str, Any] | None = None, timeout: float = 30) -> Any:
        self._next_id += 1
        message_id = self._next_id
        self.connection.send(
            json.dumps({"id": message_id, "method": method, "params": params or {}})
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self._receive(deadline - time.monotonic())
            if message is None:
                continue
            if message.get("id") == message_id:
                if "error" in message:
                    raise BrowserCheckFailed(f"{method}: {message['error']}")
                return message.get("result", {})
        raise BrowserCheckFailed(f"no answer to {method} within {timeout:.0f}s")

    def pump(self, seconds: float = 0.1) -> None:
        """Read the events that arrived (requests, responses, console, page loads)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self._receive(deadline - time.monotonic()) is None:
                break

    def _receive(self, timeout: float) -> dict[str, Any] | None:
        self.connection.settimeout(max(timeout, 0.01))
        try:
            raw = self.connection.recv()
        except websocket.WebSocketTimeoutException:
            return None
        message: dict[str, Any] = json.loads(raw)
        if "method" in message:
            self._on_event(message["method"], message.get("params", {}))
        return message

    def _on_event(self, method: str, params: dict[str, Any]) -> None:
        if method == "Network.requestWillBeSent":
            self.requests.setdefault(params["requestId"], NetworkRecord(params["request"]["url"]))
        elif method == "Network.responseReceived":
            record = self.requests.setdefault(
                params["requestId"], NetworkRecord(params["response"]["url"])
            )
            record.status = int(params["response"]["status"])
        elif method == "Network.loadingFailed":
            record = self.requests.setdefault(params["requestId"], NetworkRecord("?"))
            record.failure = params.get("blockedReason") or params.get("errorText") or "failed"
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            self.console_errors.append(
                details.get("exception", {}).get("description") or details.get("text", "")
            )
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            self.console_errors.append(
                " ".join(
                    str(arg.get("value", arg.get("description", ""))) for arg in params["args"]
                )
            )
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            entry = params["entry"]
            self.console_errors.append(f"{entry.get('text', '')} {entry.get('url', '')}".strip())
        elif method == "Page.loadEventFired":
            self.loaded += 1

    # What the checks use

    def open(self, url: str, timeout: float = 30) -> None:
        """Navigate and wait for the page's load event; forgets earlier requests."""
        self.requests.clear()
        self.console_errors.clear()
        loads = self.loaded
        self.send("Page.navigate", {"url": url})
        self.wait_for_load(loads, timeout)

    def wait_for_load(self, loads_before: int, timeout: float = 30) -> None:
        def loaded() -> bool:
            self.pump()
            return self.loaded > loads_before

        wait_until(loaded, timeout, "the page's load event")

    def evaluate(self, expression: str) -> Any:
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            raise BrowserCheckFailed(f"{expression!r} threw: {result['exceptionDetails']}")
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 30, what: str = "") -> Any:
        def holds() -> Any:
            self.pump()
            return self.evaluate(expression)

        return wait_until(holds, timeout, what or expression)

    def settle(self, quiet: float = 1.0, timeout: float = 15) -> None:
        """Wait until every request started has been answered or has failed."""

        def finished() -> bool:
            self.pump(quiet)
            return all(r.status is not None or r.failure for r in self.requests.values())

        wait_until(finished, timeout, "the page's requests to finish")

    def screenshot(self, path: Path) -> None:
        data = self.send("Page.captureScreenshot", {"format": "png"})["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        try:
            self.connection.close()
        finally:
            stop_process(self.process)
            shutil.rmtree(self.profile, ignore_errors=True)


def launch_browser(chromium: Path, profile: Path, width: int = 1400, height: int = 1000) -> Browser:
    """Start chromium with a fresh profile and attach to its one page."""
    profile.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [
            str(chromium),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        wait_until(port_file.exists, 30, "chromium's DevTools port")
        port = int(port_file.read_text().split()[0])

        def page_target() -> str | None:
            try:
                with LOCAL.open(f"http://127.0.0.1:{port}/json/list", timeout=2) as response:
                    targets = json.load(response)
            except OSError:
                return None  # not listening yet
            pages = [t for t in targets if t.get("type") == "page"]
            return pages[0]["webSocketDebuggerUrl"] if pages else None

        target = wait_until(page_target, 30, "chromium's page")
        connection = websocket.create_connection(target, timeout=30, suppress_origin=True)
    except BaseException:
        stop_process(process)
        raise
    browser = Browser(process=process, profile=profile, connection=connection)
    for domain in ("Page", "Network", "Runtime", "Log"):
        browser.send(f"{domain}.enable")
    browser.send(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )
    return browser
