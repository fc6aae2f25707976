"""The chat gateway: one WebSocket per device at ``/api/v1/chat/ws``.

Authentication is the API's bearer token (``Authorization: Bearer``), or, for the
web bank's pages, the session cookie; a cookie is only accepted from a page of this
site (the ``Origin`` must be this host), since a browser sends cookies with a
WebSocket opened by any site. ``?as=staff`` picks the staff console's cookie.

The server pushes ``message``, ``receipt``, ``typing``, ``presence`` and
``assigned`` events. The client sends JSON frames, each with an optional ``id``
echoed in the answer (``ack`` or ``error``)::

    {"type": "send", "id": "1", "conversation_id": 7, "client_id": "c-42", "text": "…"}
    {"type": "receipt", "conversation_id": 7, "delivered_seq": 12, "read_seq": 10}
    {"type": "typing", "conversation_id": 7}
    {"type": "sync", "since": "7:10"}

``send`` frames of all sockets are group-committed (:mod:`rongbank.chat.committer`);
the other frames run one at a time in the thread pool. Each socket's frames are
answered in order. A sent message comes back in its ``ack``, so the socket it was
sent on is not pushed it again (the sender's other sockets are). A push is a hint: a
client that reconnects syncs from its cursor. A connection that cannot keep up with
its pushes is closed (code 4008) rather than buffered without bound; it reconnects
and syncs.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import math
from collections import Counter
from collections.abc import Collection
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from rongbank import metrics
from rongbank.api.one_hop import OneHopRoute
from rongbank.auth.service import Principal, PrincipalKind
from rongbank.chat import schemas as s
from rongbank.chat.bus import Push, encode
from rongbank.chat.committer import GatewaySend, signed_in_as
from rongbank.chat.endpoints import ALL_STAFF, sync_out
from rongbank.chat.presence import OpenHere
from rongbank.chat.sending import SendRequest
from rongbank.chat.service import Member
from rongbank.errors import DomainError, InvalidRequest
from rongbank.inputs import MAX_ID, InputRefused, loads
from rongbank.platform import Platform
from rongbank.web.pages import CUSTOMER_COOKIE, STAFF_COOKIE

logger = logging.getLogger(__name__)
router = APIRouter(route_class=OneHopRoute)

UNAUTHENTICATED = 4401
FORBIDDEN = 4403
TOO_SLOW = 4008
QUEUE_LIMIT = 1000
RECHECK_SECONDS = 60.0
RECHECK_SLICES = 30
"""The logins are re-checked in this many slices of ``RECHECK_SECONDS``, not all at
once: 5,000 tokens in one go cost the gateway ~80 ms of CPU under load (measured with
``rongbank bench chat``), a stall every minute for every socket."""


def _token(websocket: WebSocket) -> tuple[str | None, PrincipalKind | None]:
    """The token offered and, for a cookie, the kind of principal it must be."""
    header = websocket.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials:
        return credentials.strip(), None
    staff = websocket.query_params.get("as") == "staff"
    cookie = websocket.cookies.get(STAFF_COOKIE if staff else CUSTOMER_COOKIE)
    if cookie is None:
        return None, None
    origin = websocket.headers.get("origin")
    if origin is None or urlsplit(origin).netloc != websocket.headers.get("host"):
        # Cross-site WebSocket hijacking: another site's page would ride on the cookie.
        raise _Refused(FORBIDDEN)
    return cookie, PrincipalKind.STAFF if staff else PrincipalKind.CUSTOMER


class _SessionEnded(Exception):
    """The connection's login ended (logout, expiry) while the socket stayed open."""


class _Refused(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


def _authenticate(platform: Platform, token: str, kind: PrincipalKind | None) -> Principal:
    with platform.transaction() as session:
        principal = platform.auth.authenticate(session, token)
        # Staff as the chat API admits them (``ChatStaff``): an active chat role.
        if principal.kind is PrincipalKind.STAFF and (
            platform.accounts.staff_role(session, principal.id) not in ALL_STAFF
        ):
            raise _Refused(FORBIDDEN)
    if kind is not None and principal.kind is not kind:
        raise _Refused(UNAUTHENTICATED)
    return principal


@router.websocket("/chat/ws")
async def chat_socket(websocket: WebSocket) -> None:
    platform: Platform = websocket.app.state.platform
    try:
        token, kind = _token(websocket)
        if token is None:
            raise _Refused(UNAUTHENTICATED)
        principal = await run_in_threadpool(_authenticate, platform, token, kind)
    except _Refused as refused:
        await websocket.close(code=refused.code)
        return
    except DomainError:
        await websocket.close(code=UNAUTHENTICATED)
        return
    await websocket.accept()
    state = websocket.app.state
    if getattr(state, "chat_watch", None) is None:
        state.chat_watch = _Watch(platform)
    connection = Connection(platform, websocket, token, kind, Member.of(principal))
    state.chat_watch.add(connection)
    metrics.CHAT_SOCKETS.inc()
    try:
        await connection.run()
    finally:
        metrics.CHAT_SOCKETS.dec()
        state.chat_watch.connections.discard(connection)


class _Watch:
    """The logins of every open socket of this process, re-checked every
    ``RECHECK_SECONDS``; sockets whose login ended (logout, expiry, no longer the
    member it was) are closed. The check is not activity: an idle open socket does
    not keep its login alive. Frames check their login themselves.

    Every ``1/RECHECK_SLICES`` of the period, the sockets whose turn has come are
    checked in one query, the longest unchecked first and at most twice their share,
    so that sockets opened together (a restart's reconnects) spread over the period
    instead of stalling the loop together every time."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.connections: set[Connection] = set()
        self.task: asyncio.Task[None] | None = None
        platform.chat.open_here = self.open_here

    def open_here(self) -> OpenHere:
        """The sockets of this process, for the presence lease renewal (called on
        its thread: a copy of the set is taken at once, under the GIL)."""
        counted: Counter[Member] = Counter()
        changing: set[Member] = set()
        for connection in self.connections.copy():
            if connection.counted:
                counted[connection.member] += 1
            else:
                changing.add(connection.member)
        return OpenHere(counted, frozenset(changing))

    def add(self, connection: Connection) -> None:
        self.connections.add(connection)
        if self.task is None:
            self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while self.connections:
            await asyncio.sleep(RECHECK_SECONDS / RECHECK_SLICES)
            now = loop.time()
            watched = turn_of(self.connections, now)
            try:
                ended = await run_in_threadpool(self._ended, watched) if watched else []
            except Exception:
                logger.exception("chat: re-checking the sockets' logins failed; trying again")
                continue
            for connection in watched:
                connection.checked_at = now
            for connection in ended:
                connection.end(UNAUTHENTICATED)
        self.task = None  # the next connection starts a new round

    def _ended(self, connections: list[Connection]) -> list[Connection]:
        with self.platform.transaction() as session:
            found = self.platform.auth.authenticate_many(
                session, [c.token for c in connections], touch=False
            )
        return [
            c
            for c, principal in zip(connections, found, strict=True)
            if not signed_in_as(principal, c.kind, c.member)
        ]


class Watched(Protocol):
    checked_at: float


W = TypeVar("W", bound=Watched)


def turn_of(connections: Collection[W], now: float) -> list[W]:
    """The sockets whose login re-check is due at ``now`` (a loop time): unchecked
    for ``RECHECK_SECONDS``, the longest first, at most twice a slice's share."""
    due = [c for c in connections if now - c.checked_at >= RECHECK_SECONDS]
    share = 2 * math.ceil(len(connections) / RECHECK_SLICES)
    return heapq.nsmallest(share, due, key=lambda c: c.checked_at)


class Connection:
    def __init__(
        self,
        platform: Platform,
        websocket: WebSocket,
        token: str,
        kind: PrincipalKind | None,
        member: Member,
    ) -> None:
        self.platform = platform
        self.websocket = websocket
        self.token = token
        self.kind = kind
        self.member = member
        self.queue: asyncio.Queue[str | int] = asyncio.Queue()
        """Pushes (JSON text) to send, or the code to close the socket with."""
        self.sending: set[tuple[int, str]] = set()
        """The conversation and client id of each of this socket's sends in flight."""
        self.loop = asyncio.get_running_loop()
        self.counted = False
        """From the end of its connect to the start of its disconnect (see
        ``ChatService.reconcile_presence``)."""
        self.checked_at = self.loop.time()
        """When its login was last found live (at connect, then by ``_Watch``)."""

    def _deliver(self, push: Push) -> None:
        # Called from whichever thread committed; hands the push to this loop.
        self.loop.call_soon_threadsafe(self._enqueue, push)

    def _enqueue(self, push: Push) -> None:
        # In process, a send's push is handed over before its ack, so this socket's
        # own sends are still in flight here; through NATS it may come after the ack
        # and is sent (a duplicate the client knows by its seq).
        if self._sent_here(push.event):
            return
        if self.queue.qsize() >= QUEUE_LIMIT:
            self.end(TOO_SLOW)
        else:
            self.queue.put_nowait(push.text)

    def _sent_here(self, event: dict[str, Any]) -> bool:
        if event.get("type") != "message" or not self.sending:
            return False
        message = event["message"]
        sender = message["sender"]
        return (
            sender["id"] == self.member.id
            and sender["kind"] == self.member.kind
            and (message["conversation_id"], message["client_id"]) in self.sending
        )

    def end(self, code: int) -> None:
        """Close the socket with ``code`` after the pushes already queued."""
        self.queue.put_nowait(code)

    async def run(self) -> None:
        chat = self.platform.chat
        # Subscribing may wait for a broker (NATS) to confirm: not on the event loop.
        subscription = await run_in_threadpool(chat.bus.subscribe, self.member.topic, self._deliver)
        tasks = [asyncio.create_task(self._push())]
        counted = False
        try:
            await run_in_threadpool(self._presence, chat.connected)
            # Only a connection that was counted is uncounted: were a failed connect
            # undone, it would take away another connection of the member's.
            counted = self.counted = True
            tasks.append(asyncio.create_task(self._receive()))
            # Either ending ends the connection: the client left, or it was closed
            # (too slow, session ended).
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.counted = False
            subscription.close()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                    await task
            if counted:
                await run_in_threadpool(self._presence, chat.disconnected)

    async def _send(self, frame: str) -> bool:
        """Send a JSON text, or False once the socket is closed: by the client, by us,
        or by the server for a keepalive ping left unanswered (which starlette
        reports as a RuntimeError)."""
        try:
            await self.websocket.send_text(frame)
        except (WebSocketDisconnect, RuntimeError):
            return False
        return True

    def _presence(self, action: Any) -> None:
        """Count this socket in or out; should that fail, whether it was written is
        not known, so the next lease renewal puts the rows right."""
        chat = self.platform.chat
        try:
            with self.platform.transaction() as session:
                action(session, self.member)
        except Exception:
            chat.presence_suspect = True
            raise

    async def _push(self) -> None:
        while True:
            event = await self.queue.get()
            if isinstance(event, int):
                with contextlib.suppress(RuntimeError):  # already closed
                    await self.websocket.close(code=event)
                return
            if not await self._send(event):
                return

    async def _receive(self) -> None:
        while True:
            try:
                frame = loads(await self.websocket.receive_text())
            except InputRefused as refused:
                error = InvalidRequest("The frame is not valid.", fields=[refused.field])
                if not await self._send(encode(_error(None, error))):
                    return
                continue
            except ValueError:
                if not await self._send(encode(_error(None, InvalidRequest("Frames are JSON.")))):
                    return
                continue
            if isinstance(frame, dict) and frame.get("type") == "send":
                answer = await self._committed_send(frame)
            else:
                # One trip to the thread pool per frame.
                answer = await run_in_threadpool(self._checked, frame)
            if answer is None:
                await self.websocket.close(code=UNAUTHENTICATED)
                return
            if not await self._send(encode(answer)):
                return

    async def _committed_send(self, frame: dict[str, Any]) -> dict[str, Any] | None:
        """A ``send`` frame goes to the group committer (``rongbank.chat.committer``),
        which checks the login and appends the message with others' in one
        transaction; None when the login has ended."""
        ref = frame.get("id")
        try:
            body = s.SendIn.model_validate(
                {k: frame.get(k) for k in ("client_id", "text", "reply_to")}
            )
            request = SendRequest(
                self.member,
                _int(frame, "conversation_id"),
                body.client_id,
                body.text,
                body.reply_to,
            )
        except (DomainError, ValidationError) as error:
            return _refusal(ref, error)
        send = GatewaySend(self.token, self.kind, request)
        key = (request.conversation_id, request.client_id)
        self.sending.add(key)
        try:
            committed = self.platform.chat_sends.submit_async([send])
            outcome = (await asyncio.wrap_future(committed))[0]
        finally:
            self.sending.discard(key)
        if outcome is None:
            return None
        if isinstance(outcome, DomainError):
            return _error(ref, outcome)
        # As the push carries it (built here without a schema: this is the hot path).
        return {
            "type": "ack",
            "id": ref,
            "message": outcome.message.payload(),
            "created": outcome.created,
            "warnings": list(outcome.masked),
        }

    def _checked(self, frame: Any) -> dict[str, Any] | None:
        """The answer to ``frame``, or None when the session has ended (logout,
        expiry) while the socket stayed open."""
        try:
            # The login is checked in the frame's own transaction (see _dispatch).
            return self._handle(frame)
        except _SessionEnded:
            return None

    def _still_signed_in(self, session: Session) -> None:
        # In the frame's transaction, saving one per frame. Should the frame fail,
        # the session's last-seen touch (at most one a minute) rolls back with it
        # and is made by a later frame.
        principal = self.platform.auth.authenticate_many(session, [self.token])[0]
        if not signed_in_as(principal, self.kind, self.member):
            raise _SessionEnded()

    def _handle(self, frame: Any) -> dict[str, Any]:
        ref = frame.get("id") if isinstance(frame, dict) else None
        try:
            if not isinstance(frame, dict):
                raise InvalidRequest("A frame is a JSON object with a type.")
            return {"type": "ack", "id": ref, **self._dispatch(frame)}
        except (DomainError, ValidationError) as error:
            return _refusal(ref, error)

    def _dispatch(self, frame: dict[str, Any]) -> dict[str, Any]:
        chat, member = self.platform.chat, self.member
        kind = frame.get("type")
        with self.platform.transaction() as session:
            self._still_signed_in(session)
            if kind == "receipt":
                chat.mark(
                    session,
                    member,
                    conversation_id=_int(frame, "conversation_id"),
                    delivered=_optional_int(frame, "delivered_seq"),
                    read=_optional_int(frame, "read_seq"),
                )
                return {}
            if kind == "typing":
                chat.typing(session, member, conversation_id=_int(frame, "conversation_id"))
                return {}
            if kind == "sync":
                since = frame.get("since") or ""
                if not isinstance(since, str):
                    raise InvalidRequest("since is the cursor string of the last sync.")
                return sync_out(chat.sync(session, member, cursor=since)).model_dump(mode="json")
        raise InvalidRequest("Unknown frame type.", type=str(kind)[:20])


def _int(frame: dict[str, Any], key: str) -> int:
    value = frame.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_ID:
        raise InvalidRequest(f"{key} must be a whole number from 0 to {MAX_ID}.")
    return value


def _optional_int(frame: dict[str, Any], key: str) -> int | None:
    return None if frame.get(key) is None else _int(frame, key)


def _error(ref: Any, error: DomainError) -> dict[str, Any]:
    return {"type": "error", "id": ref, "error": error.to_dict()}


def _refusal(ref: Any, error: DomainError | ValidationError) -> dict[str, Any]:
    if isinstance(error, DomainError):
        return _error(ref, error)
    # The values themselves are left out: they may hold personal data.
    problems = [".".join(str(p) for p in e.get("loc", ())) for e in error.errors()]
    return _error(ref, InvalidRequest("The frame is not valid.", fields=problems))
