"""The watchdog behind the database deadlines: it shuts down the socket of a call past its
deadline, whatever order the calls were armed in, and leaves finished calls alone."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from app.database_timeouts import SocketWatchdog

WAIT = 5.0  # seconds a shut-down socket may take to read end-of-file; a miss fails the test


@pytest.fixture
def sockets() -> Iterator[list[socket.socket]]:
    """Three connected sockets; each stands for a database call's connection."""
    pairs = [socket.socketpair() for _ in range(3)]
    yield [ours for ours, _ in pairs]
    for pair in pairs:
        for end in pair:
            end.close()


def is_shut_down(sock: socket.socket) -> bool:
    """Whether the watchdog shut it down (end-of-file within WAIT; open: times out)."""
    sock.settimeout(WAIT)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False


def is_open(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        sock.recv(1)
    except BlockingIOError:
        return True
    return False


def test_a_shorter_deadline_armed_after_a_longer_one_is_kept(
    sockets: list[socket.socket],
) -> None:
    watchdog = SocketWatchdog()
    slow, hung, _ = sockets
    watchdog.arm(1, slow.fileno(), 60)
    time.sleep(0.05)  # the watchdog now sleeps until that one is due
    watchdog.arm(2, hung.fileno(), 0.2)
    assert is_shut_down(hung)
    assert is_open(slow)
    watchdog.disarm(1)


def test_a_call_armed_after_the_watchdog_went_idle_is_kept(sockets: list[socket.socket]) -> None:
    watchdog = SocketWatchdog()
    quick, hung, _ = sockets
    watchdog.arm(1, quick.fileno(), 0.2)
    watchdog.disarm(1)  # finished in time: nothing is armed, the watchdog sleeps
    time.sleep(0.05)
    watchdog.arm(2, hung.fileno(), 0.2)
    assert is_shut_down(hung)
    assert is_open(quick)


def test_finished_calls_are_left_alone(sockets: list[socket.socket]) -> None:
    watchdog = SocketWatchdog()
    first, second, hung = sockets
    for key, sock in enumerate((first, second), start=1):
        watchdog.arm(key, sock.fileno(), 0.1)
        watchdog.disarm(key)
    watchdog.arm(3, hung.fileno(), 0.3)
    assert is_shut_down(hung)  # past every deadline above
    assert is_open(first) and is_open(second)
