"""Group commit: concurrent single-transfer requests share one transaction.

Each caller hands its command(s) to :meth:`GroupCommitter.submit` and waits. Writer
threads take everything that is waiting (up to ``max_batch`` commands), apply it as
one ledger batch in one transaction, commit, and only then hand each caller its own
outcome. Under light load a batch is a single request and nothing waits for a
timer; under heavy load one fsync carries hundreds of transfers. Failures stay
isolated as in any batch: one caller's refusal is not another's.

A linked chain submitted together stays together in one batch.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future

from rongbank.db import SessionFactory, unit_of_work
from rongbank.ledger.errors import LinkedChainOpen
from rongbank.ledger.service import Command, LedgerService, Outcome

logger = logging.getLogger(__name__)

_Request = tuple[Sequence[Command], "Future[list[Outcome]]"]


class GroupCommitter:
    def __init__(
        self,
        service: LedgerService,
        session_factory: SessionFactory,
        *,
        max_batch: int = 512,
        writers: int = 2,
    ) -> None:
        self.service = service
        self.session_factory = session_factory
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._run, name=f"ledger-group-commit-{i}", daemon=True)
            for i in range(writers)
        ]
        self._started = False
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if not self._started:
                self._started = True
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

    def submit_async(self, commands: Sequence[Command]) -> Future[list[Outcome]]:
        """Queue commands (one, or a linked chain) for the next batch; the future
        resolves once their outcome is durable."""
        if not self._started:
            raise RuntimeError("the group committer is not started")
        if commands and commands[-1].linked:
            # Otherwise the chain would reach into another caller's commands.
            raise LinkedChainOpen()
        future: Future[list[Outcome]] = Future()
        self._queue.put((list(commands), future))
        return future

    def submit(self, command: Command) -> Outcome:
        return self.submit_async([command]).result()[0]

    def _take(self) -> tuple[list[_Request], bool]:
        """Block for one request, then take whatever else is already waiting."""
        first = self._queue.get()
        if first is None:
            return [], True
        taken = [first]
        size = len(first[0])
        while size < self.max_batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                self._queue.put(None)  # let this writer drain, then stop
                break
            taken.append(item)
            size += len(item[0])
        return taken, False

    def _run(self) -> None:
        while True:
            requests, stopping = self._take()
            if requests:
                self._apply(requests)
            if stopping:
                return

    def _apply(self, requests: list[_Request]) -> None:
        commands = [command for chain, _ in requests for command in chain]
        try:
            with unit_of_work(self.session_factory) as session:
                outcomes = self.service.execute(session, commands)
        except Exception as error:
            if len(requests) == 1:
                logger.exception("ledger batch failed")
                requests[0][1].set_exception(error)
                return
            # Something beyond a business refusal (a lost connection, a bug that one
            # request triggers): give each request its own transaction so that one
            # cannot take the others down with it.
            for request in requests:
                self._apply([request])
            return
        position = 0
        for chain, future in requests:
            future.set_result(outcomes[position : position + len(chain)])
            position += len(chain)
