"""Group commit of single transfers: concurrent requests share one ledger batch in
one transaction (see :mod:`rongbank.group_commit`). A linked chain submitted
together stays together in one batch."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future
from contextvars import Context, copy_context
from dataclasses import dataclass

from sqlalchemy.orm import Session

from rongbank import group_commit
from rongbank.db import SessionFactory, unit_of_work
from rongbank.ledger.errors import LinkedChainOpen
from rongbank.ledger.service import Command, LedgerService, Outcome

Then = Callable[[Session, Outcome], None]
"""Work for one command once its outcome is known, in the batch's own transaction
(the API's audit row of the movement): it commits with the outcome or not at all."""


@dataclass(frozen=True, slots=True)
class _Submitted:
    command: Command
    then: Then | None
    context: Context | None = None
    """The submitter's context, in which ``then`` runs: its audit row records the
    request id of the request that submitted it (``rongbank.logs``), not the writer's."""


class GroupCommitter:
    def __init__(
        self,
        service: LedgerService,
        session_factory: SessionFactory,
        *,
        max_batch: int = 512,
        writers: int = 2,
    ) -> None:
        def apply(items: list[_Submitted]) -> list[Outcome]:
            with unit_of_work(session_factory) as session:
                outcomes = service.execute(session, [item.command for item in items])
                for item, outcome in zip(items, outcomes, strict=True):
                    if item.then is not None:
                        if item.context is None:
                            item.then(session, outcome)
                        else:
                            item.context.run(item.then, session, outcome)
                return outcomes

        self._committer = group_commit.GroupCommitter[_Submitted, Outcome](
            apply, name="ledger-group-commit", max_batch=max_batch, writers=writers
        )

    def start(self) -> None:
        self._committer.start()

    def stop(self) -> None:
        self._committer.stop()

    def submit_async(
        self, commands: Sequence[Command], *, then: Then | None = None
    ) -> Future[list[Outcome]]:
        """Queue commands (one, or a linked chain) for the next batch."""
        if commands and commands[-1].linked:
            # Otherwise the chain would reach into another caller's commands.
            raise LinkedChainOpen()
        context = copy_context() if then is not None else None
        return self._committer.submit_async([_Submitted(c, then, context) for c in commands])

    def submit(self, command: Command, *, then: Then | None = None) -> Outcome:
        return self.submit_async([command], then=then).result()[0]
