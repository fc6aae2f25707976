"""Group commit: concurrent requests share one transaction.

Each caller hands its items to :meth:`GroupCommitter.submit_async` and waits on the
future. Writer threads take everything that is waiting (up to ``max_batch`` items),
apply it with one call of ``apply`` (which runs one transaction and returns one
outcome per item, a business refusal being an outcome), and only then hand each
caller its own outcomes. Under light load a batch is a single request and nothing
waits for a timer; under heavy load one commit (one fsync) carries hundreds of
requests. Failures stay isolated: when ``apply`` raises for a batch of several
requests (a lost connection, a bug that one request triggers), each request is
retried in a transaction of its own, so that one cannot take the others down.

The ledger's single transfers (:mod:`rongbank.ledger.batcher`) and the chat
gateway's sends (:mod:`rongbank.chat.committer`) use it.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

from rongbank import metrics

logger = logging.getLogger(__name__)

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")


class GroupCommitter(Generic[Item, Outcome]):
    def __init__(
        self,
        apply: Callable[[list[Item]], list[Outcome]],
        *,
        name: str,
        max_batch: int = 512,
        writers: int = 2,
    ) -> None:
        self.apply = apply
        self.name = name
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[tuple[list[Item], Future[list[Outcome]]] | None] = (
            queue.SimpleQueue()
        )
        self.writers = writers
        self._threads: list[threading.Thread] = []
        self._started = False
        self._lock = threading.Lock()
        self._batch_sizes = metrics.GROUP_COMMIT_BATCH.labels(name)

    def start(self) -> None:
        with self._lock:
            if not self._started:
                self._started = True
                # Fresh threads: a platform may be started again after a stop (tests).
                self._threads = [
                    threading.Thread(target=self._run, name=f"{self.name}-{i}", daemon=True)
                    for i in range(self.writers)
                ]
                for thread in self._threads:
                    thread.start()

    def stop(self) -> None:
        """Finish what was submitted, then stop the writers."""
        with self._lock:
            if not self._started:
                return
            self._started = False
            for _ in self._threads:
                self._queue.put(None)
        for thread in self._threads:
            thread.join()

    def submit_async(self, items: Sequence[Item]) -> Future[list[Outcome]]:
        """Queue ``items`` (applied together, in one batch) for the next batch; the
        future resolves once their outcomes are durable."""
        if not self._started:
            raise RuntimeError(f"the {self.name} group committer is not started")
        future: Future[list[Outcome]] = Future()
        self._queue.put((list(items), future))
        return future

    def _take(self) -> tuple[list[tuple[list[Item], Future[list[Outcome]]]], bool]:
        """Block for one request, then take whatever else is already waiting."""
        first = self._queue.get()
        if first is None:
            return [], True
        taken = [first]
        size = len(first[0])
        while size < self.max_batch:
            try:
                request = self._queue.get_nowait()
            except queue.Empty:
                break
            if request is None:
                self._queue.put(None)  # let this writer drain, then stop
                break
            taken.append(request)
            size += len(request[0])
        return taken, False

    def _run(self) -> None:
        while True:
            requests, stopping = self._take()
            if requests:
                self._apply(requests)
            if stopping:
                return

    def _apply(self, requests: list[tuple[list[Item], Future[list[Outcome]]]]) -> None:
        items = [item for items, _ in requests for item in items]
        self._batch_sizes.observe(len(items))
        try:
            outcomes = self.apply(items)
        except Exception as error:
            if len(requests) == 1:
                logger.exception("%s batch failed", self.name)
                requests[0][1].set_exception(error)
                return
            for request in requests:
                self._apply([request])
            return
        position = 0
        for items, future in requests:
            future.set_result(outcomes[position : position + len(items)])
            position += len(items)
