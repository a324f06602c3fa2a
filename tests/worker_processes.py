"""Separate processes that serve the app the way gunicorn workers do (their own interpreter,
caches and model), driven by a test through queues."""

from __future__ import annotations

import multiprocessing
import os
from multiprocessing.context import SpawnProcess
from multiprocessing.queues import Queue
from typing import Any

from app import create_app
from app.services.recommendation import item_model


def serve_requests(config: dict[str, Any], paths: Queue[str | None], answers: Queue[Any]) -> None:
    """Answer each GET path from `paths` with (pid, status, JSON body) until None arrives;
    then report how many times this process learned a model (it must never)."""
    app = create_app("testing", **config)
    learned = 0
    learn = item_model.learn_item_similarity

    def counting_learn(*args: Any, **kwargs: Any) -> Any:
        nonlocal learned
        learned += 1
        return learn(*args, **kwargs)

    item_model.learn_item_similarity = counting_learn  # type: ignore[assignment]
    client = app.test_client()
    while (path := paths.get()) is not None:
        response = client.get(path)
        answers.put((os.getpid(), response.status_code, response.get_json()))
    answers.put(("learned", learned))


class WorkerProcess:
    """One serving process of the app configured by `config` (spawned: nothing inherited)."""

    def __init__(self, config: dict[str, Any]) -> None:
        context = multiprocessing.get_context("spawn")
        self.paths: Queue[str | None] = context.Queue()
        self.answers: Queue[Any] = context.Queue()
        self.process: SpawnProcess = context.Process(
            target=serve_requests, args=(config, self.paths, self.answers), daemon=True
        )
        self.process.start()

    def get(self, path: str, timeout: float = 60) -> tuple[int, int, Any]:
        self.paths.put(path)
        return self.answers.get(timeout=timeout)

    def stop(self, timeout: float = 30) -> int:
        """Stop the process; returns how many models it learned."""
        self.paths.put(None)
        _, learned = self.answers.get(timeout=timeout)
        self.process.join(timeout)
        return int(learned)

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
