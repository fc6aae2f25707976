"""Group commit of the chat gateway's sends.

Every ``send`` frame of every WebSocket is queued here; the writer thread takes what
is waiting and, in one transaction, checks the senders' logins
(:meth:`~rongbank.auth.service.AuthService.authenticate_later`) and appends all the
messages (:meth:`~rongbank.chat.service.ChatService.queue_sends`, then
``finish_sends``), then commits once and publishes the pushes. Under load many messages
share one commit and five statements, however many they are, in two network round
trips: the begin, the login check and admission's reads (conversations locked,
resends, rate buckets) are pipelined, then the write and the commit (the commit
apart when a message in a bank conversation is routed in between; see ``rongbank
bench chat`` for what that buys). The reads are queued before the logins are known:
a socket whose login has ended only has its conversation and rate bucket locked for
the batch. A sender is answered only once its message is durable, as with a send of
its own.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from sqlalchemy.orm import Session

from rongbank.auth.service import AuthService, Principal, PrincipalKind
from rongbank.chat.sending import SendRequest, Sent
from rongbank.chat.service import ChatService, Member
from rongbank.db import driver_connection, queue_commit
from rongbank.errors import DomainError
from rongbank.group_commit import GroupCommitter


@dataclass(frozen=True, slots=True)
class GatewaySend:
    token: str
    """The login of the connection the frame came on: checked with the send."""
    kind: PrincipalKind | None
    """The kind of principal the token must be (cookie logins), or None."""
    request: SendRequest


Outcome = Sent | DomainError | None
"""A send's outcome; None when the connection's login has ended (logout, expiry)
while its socket stayed open: the gateway closes the socket."""


def send_committer(
    transaction: Callable[[], AbstractContextManager[Session]],
    auth: AuthService,
    chat: ChatService,
    *,
    max_batch: int = 256,
) -> GroupCommitter[GatewaySend, Outcome]:
    """The committer of the gateway's sends, with one writer: with two, a batch took
    13.6 ms on average instead of 8 ms (one instrumented ``rongbank bench chat`` run
    each, at 1,000 messages a second; two batches at once run side by side on one GIL),
    so sends waited longer though batches were smaller (7.2 messages against 8.2). Over
    fifteen bench runs with one writer, delivery p99 was under 50 ms in fourteen; with
    two, in two of five. It keeps up with 2,000 a second (one run each: p99 240 ms,
    against 359 ms with two). What one writer gives up: a batch that waits on a lock (a
    conversation row another transaction holds) holds up the sends behind it."""

    def apply(sends: list[GatewaySend]) -> list[Outcome]:
        with transaction() as session:
            conn = driver_connection(session)
            # One round trip for the begin, the logins and what admission reads.
            with conn.pipeline():
                logins = auth.authenticate_later(conn, [s.token for s in sends])
                batch = chat.queue_sends(conn, [s.request for s in sends])
            signed_in = [
                i
                for i, (send, principal) in enumerate(zip(sends, logins(), strict=True))
                if signed_in_as(principal, send.kind, send.request.member)
            ]
            sent = chat.finish_sends(session, batch, signed_in, commit=lambda: queue_commit(conn))
        outcomes: list[Outcome] = [None] * len(sends)
        for i, outcome in zip(signed_in, sent, strict=True):
            outcomes[i] = outcome
        return outcomes

    return GroupCommitter(apply, name="chat-send", max_batch=max_batch, writers=1)


def signed_in_as(
    principal: Principal | DomainError, kind: PrincipalKind | None, member: Member
) -> bool:
    """Whether a login checked again is still the one a socket was opened with."""
    return (
        isinstance(principal, Principal)
        and (kind is None or principal.kind is kind)
        and Member.of(principal) == member
    )
