"""Group commit of single transfers: concurrent requests share one ledger batch in
one transaction (see :mod:`rongbank.group_commit`). A linked chain submitted
together stays together in one batch."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future

from rongbank import group_commit
from rongbank.db import SessionFactory, unit_of_work
from rongbank.ledger.errors import LinkedChainOpen
from rongbank.ledger.service import Command, LedgerService, Outcome


class GroupCommitter(group_commit.GroupCommitter[Command, Outcome]):
    def __init__(
        self,
        service: LedgerService,
        session_factory: SessionFactory,
        *,
        max_batch: int = 512,
        writers: int = 2,
    ) -> None:
        def apply(commands: list[Command]) -> list[Outcome]:
            with unit_of_work(session_factory) as session:
                return service.execute(session, commands)

        super().__init__(apply, name="ledger-group-commit", max_batch=max_batch, writers=writers)

    def submit_async(self, items: Sequence[Command]) -> Future[list[Outcome]]:
        """Queue commands (one, or a linked chain) for the next batch."""
        if items and items[-1].linked:
            # Otherwise the chain would reach into another caller's commands.
            raise LinkedChainOpen()
        return super().submit_async(items)

    def submit(self, command: Command) -> Outcome:
        return self.submit_async([command]).result()[0]
